"""The static HTML report: one self-contained page from the marts (the package flows/outputs/report/).

A hand-written 3-day x 3-kecamatan warehouse: one missing log, one rejected log, one kecamatan
whose backlog is negative, one kecamatan whose pace is zero; mart.backlog_kabupaten and
mart.backlog_wilayah (the area's headline) are the real models (sql/mart/backlog_kabupaten.sql,
sql/mart/backlog_wilayah.sql) over it. It has no outreach mart (sections 7-10 say "no
data yet").

The outreach sections (issue 11) are checked on a second warehouse: hand-made landing rows (two
weeks of logs, a snapshot, village requests) built by the real models of sql/order.txt
(tests/harness.py), so the page reads mart.outreach_priority, outreach_requests,
kecamatan_service and device_activity exactly as the pipeline writes them.

The browser tests open the pages from file:// in headless Chromium, on a desktop and at 390 px
wide (a phone), and save test-artifacts/report.png and report-phone.png. The escaping tests feed
hostile values through the Jinja environment (autoescape plus the finalize hook that breaks
anything that could look like a fetch).
"""

from __future__ import annotations

import ast
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from flows.outputs.report import ReportData, charts, feedback_in_folder, load_report_data, render_report, write_report
from flows.outputs.report.format import fmt_date, fmt_dec, fmt_int, fmt_pct, fmt_signed
from flows.outputs.report.render import environment, escape_value
from flows.reference.wilayah import desa_codes
from flows.warehouse.database import build_models
from tests.harness import Warehouse, build, rec, snapshot

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "flows" / "outputs" / "report"
REGENCY_MODEL = (REPO / "sql" / "mart" / "backlog_kabupaten.sql").read_text(encoding="utf-8")
AREA_MODEL = (REPO / "sql" / "mart" / "backlog_wilayah.sql").read_text(encoding="utf-8")
OKUS_NAME = "Kabupaten Ogan Komering Ulu Selatan"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
FETCHES = "see http://evil.example/a, background:url(http://x/y) and @import 'z.css'"

D1, D2, D3 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)
DAYS = (D1, D2, D3)
KEC = {"16.09.01": "Muara Dua", "16.09.02": "Pulau Beringin", "16.09.03": "Banding Agung"}
CHANNELS = ("rekam_dinas", "rekam_kecamatan", "rekam_jemput_bola", "rekam_sekolah", "rekam_lainnya")

# (kecamatan, day) -> channel counts; Pulau Beringin records nobody on D2 (its log is missing),
# nobody anywhere records at a school on D1, nobody at 'lainnya' except Muara Dua on D3.
NEW = {
    ("16.09.01", D1): (12, 3, 0, 0, 0), ("16.09.01", D2): (10, 2, 5, 1, 0), ("16.09.01", D3): (14, 4, 0, 2, 1),
    ("16.09.02", D1): (0, 4, 6, 0, 0), ("16.09.02", D2): (0, 0, 0, 0, 0), ("16.09.02", D3): (0, 3, 0, 0, 0),
    ("16.09.03", D1): (0, 5, 0, 0, 0), ("16.09.03", D2): (0, 6, 0, 3, 0), ("16.09.03", D3): (0, 0, 0, 0, 0),
}
# Backlog per kecamatan on the latest day: Pulau Beringin is negative (a data problem).
LATEST = {
    "16.09.01": (12000, 9000),  # belum 3.000, 75,00%
    "16.09.02": (8000, 8040),  # belum -40, 100,50%
    "16.09.03": (10000, 7500),  # belum 2.500, 75,00%
}
STATUS = {("16.09.02", D2): "missing", ("16.09.03", D3): "rejected"}


def _create_marts(con: duckdb.DuckDBPyConnection, *, with_laju: bool = True) -> None:
    con.execute("create schema if not exists mart")
    con.execute(
        """create table mart.backlog_kecamatan (as_of_date date, kode_kecamatan varchar, nama_kecamatan varchar,
           wajib_ktp bigint, sudah_rekam bigint, belum_rekam bigint, pct_rekam decimal(7, 2),
           kode_kabupaten varchar default '16.09', nama_kabupaten varchar default 'Kabupaten Ogan Komering Ulu Selatan')"""
    )
    con.execute(
        f"""create table mart.participation_trend (tanggal date, kode_kecamatan varchar, nama_kecamatan varchar,
           rekam_baru bigint, rekam_total bigint, rekam_dinas bigint, rekam_kecamatan bigint,
           rekam_jemput_bola bigint, rekam_sekolah bigint, rekam_lainnya bigint, rekam_baru_7h double,
           wajib_ktp bigint, sudah_rekam bigint, belum_rekam bigint, pct_rekam decimal(7, 2),
           proyeksi_tuntas date {", laju_rekam_7h double" if with_laju else ""})"""
    )
    con.execute(
        """create table mart.log_completeness (tanggal date, kode_kecamatan varchar, nama_kecamatan varchar,
           status varchar, rows_loaded bigint, rows_quarantined bigint)"""
    )
    con.execute(
        """create table mart.backlog (as_of_date date, kode_kecamatan varchar, nama_kecamatan varchar,
           kode_desa varchar, nama_desa varchar, wajib_ktp bigint, sudah_rekam bigint, belum_rekam bigint,
           pct_rekam decimal(7, 2))"""
    )
    # the regency row per date: the pipeline's own model, as a view over the kecamatan rows
    con.execute("create view mart.backlog_kabupaten as " + REGENCY_MODEL)
    con.execute("create view mart.backlog_wilayah as " + AREA_MODEL)
    con.execute("create schema if not exists core")
    con.execute("create table core.kabupaten as select '16.09' as kode_kabupaten, ? as nama_kabupaten", [OKUS_NAME])


def _fill_marts(con: duckdb.DuckDBPyConnection, *, with_laju: bool = True) -> None:
    for kode, nama in KEC.items():
        wajib, sudah_latest = LATEST[kode]
        history: list[int] = []
        for i, day in enumerate(DAYS):
            ch = NEW[(kode, day)]
            baru = sum(ch)
            history.append(baru)
            sudah = sudah_latest - sum(sum(NEW[(kode, d)]) for d in DAYS[i + 1:])
            belum = wajib - sudah
            pct = round(100 * sudah / wajib, 2)
            mean7 = sum(history) / len(history)
            laju = mean7 * 0.9
            # Banding Agung records nobody on the last day and has a zero pace: no projection.
            if kode == "16.09.03" and day == D3:
                laju = 0.0
            proj = day + timedelta(days=int(belum / laju) + 1) if laju > 0 and belum > 0 else None
            con.execute("""insert into mart.backlog_kecamatan (as_of_date, kode_kecamatan, nama_kecamatan, wajib_ktp,
                           sudah_rekam, belum_rekam, pct_rekam) values (?, ?, ?, ?, ?, ?, ?)""",
                        [day, kode, nama, wajib, sudah, belum, pct])
            values = [day, kode, nama, baru, baru + 2, *ch, mean7, wajib, sudah, belum, pct, proj]
            if with_laju:
                values.append(laju)
            con.execute(f"insert into mart.participation_trend values ({', '.join('?' * len(values))})", values)
            status = STATUS.get((kode, day), "loaded")
            loaded = baru + 2 if status == "loaded" else 0
            con.execute("insert into mart.log_completeness values (?, ?, ?, ?, ?, ?)",
                        [day, kode, nama, status, loaded, 1 if status == "loaded" else 0])
    # 12 desa on the latest date (only 10 shown), 2 on an earlier date (never shown).
    for n in range(12):
        kode = list(KEC)[n % 3]
        wajib = 1000 + 100 * n
        sudah = 500 + 10 * n
        con.execute(
            "insert into mart.backlog values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [D3, kode, KEC[kode], f"{kode}.20{n:02d}", f"Desa Uji {n:02d}", wajib, sudah, wajib - sudah,
             round(100 * sudah / wajib, 2)],
        )
    con.execute(
        "insert into mart.backlog values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [D1, "16.09.01", "Muara Dua", "16.09.01.2099", "Desa Lama", 99999, 1, 99998, 0.0],
    )


@pytest.fixture
def warehouse(tmp_path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "ektp.duckdb"))
    _create_marts(con)
    _fill_marts(con)
    yield con
    con.close()


@pytest.fixture
def page(warehouse, tmp_path) -> str:
    out = write_report(warehouse, tmp_path / "out" / "report.html",
                       run_summary={"run_id": "run-1", "files_loaded": 7, "rows_loaded": 1234})
    return out.read_text(encoding="utf-8")


def _svg(html: str, name: str) -> str:
    found = re.findall(rf'<svg data-chart="{name}"[^>]*>.*?</svg>', html, flags=re.S)
    assert len(found) == 1, f"expected one {name} chart, found {len(found)}"
    return found[0]


def _section(html: str, anchor: str) -> str:
    found = re.search(rf'<section class="card" id="{anchor}">.*?</section>', html, flags=re.S)
    assert found, f"no section #{anchor}"
    return found.group(0)


# --- content ------------------------------------------------------------------------------


def test_write_report_returns_the_path_and_writes_one_utf8_html_file(warehouse, tmp_path):
    out = tmp_path / "nested" / "dir" / "report.html"
    assert write_report(warehouse, out) == out
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in text
    assert "Perekaman e-KTP — Kabupaten Ogan Komering Ulu Selatan" in text   # the area's name, as the list spells it
    assert [p.name for p in out.parent.iterdir()] == ["report.html"], "a temp file was left behind"


def test_each_chart_is_an_accessible_svg(page):
    for name in ("backlog-kecamatan", "trend-channel", "completeness-grid"):
        svg = _svg(page, name)
        assert 'role="img"' in svg.split(">", 1)[0]
        assert re.search(r'aria-label="[^"]+"', svg.split(">", 1)[0])


def test_backlog_chart_has_one_bar_per_kecamatan_sorted_by_belum_rekam(page):
    svg = _svg(page, "backlog-kecamatan")
    assert svg.count("<rect") == 3
    labels = re.findall(r'<text class="lab"[^>]*>([^<]+)</text>', svg)
    assert labels == ["Muara Dua", "Banding Agung", "Pulau Beringin"]  # 3.000, 2.500, -40
    assert "3.000 · 75,00%" in svg and "2.500 · 75,00%" in svg


def test_negative_backlog_is_flagged_in_chart_and_table(page):
    svg = _svg(page, "backlog-kecamatan")
    assert svg.count('class="bar neg"') == 1
    assert "⚠ -40 · 100,50%" in svg
    section = _section(page, "backlog")
    assert 'class="warn"' in section and "Pulau Beringin" in section.split('class="warn"')[1][:400]
    neg_rows = re.findall(r"<tr class=neg>.*?</tr>", section, flags=re.S)
    assert len(neg_rows) == 1 and "Pulau Beringin" in neg_rows[0] and "negatif" in neg_rows[0]


def test_headline_shows_regency_totals_at_the_latest_date(page):
    section = _section(page, "ringkasan")
    assert "2024-03-03" in section
    wajib, sudah = 30000, 24540
    assert wajib == sum(w for w, _ in LATEST.values()) and sudah == sum(s for _, s in LATEST.values())
    values = re.findall(r'<div class="v">([^<]+)</div>', section)
    assert values == ["30.000", "24.540", "5.460", "81,80%"]
    # change of belum rekam since the day before: minus the people recorded on D3
    recorded_d3 = sum(sum(NEW[(k, D3)]) for k in KEC)
    assert f"-{recorded_d3} sejak 2024-03-02" in section


def test_trend_chart_stacks_regency_totals_per_day_with_a_mean_line(page):
    svg = _svg(page, "trend-channel")
    nonzero = sum(
        1 for day in DAYS for i in range(len(CHANNELS)) if sum(NEW[(k, day)][i] for k in KEC) > 0
    )
    assert svg.count("<rect") == nonzero
    assert svg.count("<g><title>") == 3  # one group (and tooltip) per day
    d1_total = sum(sum(NEW[(k, D1)]) for k in KEC)
    assert f"2024-03-01 — rekam baru {d1_total}:" in svg
    assert re.search(r'<path class="mean" d="M[\d.]+ [\d.]+L[\d.]+ [\d.]+L[\d.]+ [\d.]+"', svg)
    # every channel has its own colour class, and the legend uses the same keys
    for key in ("dinas", "kec", "jb", "sek", "lain"):
        assert f'class="f-{key}"' in svg and f"b-{key}" in page


def test_completeness_grid_has_one_cell_per_kecamatan_and_day(page):
    svg = _svg(page, "completeness-grid")
    assert svg.count("<rect") == len(KEC) * len(DAYS)
    assert svg.count('class="m"') == 1 and svg.count('class="r"') == 1
    assert svg.count("<title>") == len(KEC) * len(DAYS)
    assert "<title>2024-03-02 Pulau Beringin: tidak ada file</title>" in svg
    assert "<title>2024-03-03 Banding Agung: ditolak, 0 baris, 0 karantina</title>" in svg
    section = _section(page, "kelengkapan")
    assert "dimuat" in section and "ditolak" in section and "tidak ada file" in section  # legend
    assert "Belum lengkap pada 2024-03-03" in section


def test_pace_table_shows_projection_or_says_it_is_not_reached(page):
    section = _section(page, "laju")
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr[^>]*><td>([A-Za-z ]+?)(?: <span|</td>).*?</tr>", section, flags=re.S)}
    assert set(rows) == set(KEC.values())
    assert "tidak tercapai pada laju sekarang" in rows["Banding Agung"]
    assert re.search(r"2024-\d\d-\d\d|2025-\d\d-\d\d", rows["Muara Dua"])
    assert "sudah tuntas" in rows["Pulau Beringin"]  # negative backlog, no projection
    assert "laju_rekam_7h" in section


def test_pace_table_tolerates_a_trend_mart_without_laju(tmp_path):
    con = duckdb.connect()
    _create_marts(con, with_laju=False)
    _fill_marts(con, with_laju=False)
    html = write_report(con, tmp_path / "r.html").read_text(encoding="utf-8")
    section = _section(html, "laju")
    assert "laju_rekam_7h" not in section and "Rata-rata 7 hari" in section


def test_top_desa_lists_ten_at_the_latest_date_largest_first(page):
    section = _section(page, "desa")
    names = re.findall(r"<td>(Desa [^<]+)</td>", section)
    assert names == [f"Desa Uji {n:02d}" for n in range(11, 1, -1)]
    assert "Desa Lama" not in page
    assert "dari 12 desa/kelurahan" in section


def test_run_summary_is_rendered_and_escaped(warehouse, tmp_path):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    summary = {
        "run_id": hostile,
        "run_date": date(2024, 3, 3),
        "files_rejected": 1,
        "backlog_change": -321,
        "quarantine_by_reason": {hostile: 3, "nik_format": 1200},
        "rejected_files": [{"source_file": "rekam/2024-03-03/16.09.03.csv", "error": hostile + " https://example.org/x"}],
        hostile: [hostile, "url(evil) @import x"],
    }
    html = write_report(warehouse, tmp_path / "r.html", run_summary=summary).read_text(encoding="utf-8")
    section = _section(html, "run")
    assert "<script" not in html and "<img" not in html
    assert "https://" not in html and "url(" not in html and "@import" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in section
    assert section.count("&lt;img src=x onerror=alert(1)&gt;") == 5
    assert "-321" in section and "1.200" in section and "2024-03-03" in section
    assert "rekam/2024-03-03/16.09.03.csv" in section


def test_page_is_self_contained_and_fetches_nothing(page):
    for forbidden in ("http://", "https://", "<script", "@import", "url(", "<link", "<img", "<iframe", "@font-face"):
        assert forbidden not in page, forbidden
    assert re.search(r"<style>.+</style>", page, flags=re.S)  # inline CSS


@pytest.mark.parametrize("state", ["empty tables", "no mart schema"])
def test_no_data_gives_a_page_that_says_so(tmp_path, state):
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    if state == "empty tables":
        _create_marts(con)
    html = write_report(con, tmp_path / "r.html", run_summary={"files_loaded": 0}).read_text(encoding="utf-8")
    assert "data-chart=" not in html
    # the banner, the page subtitle, the ten sections of the marts and the feedback section
    assert html.count("Belum ada data") == 13
    assert 'class="banner"' in html
    assert "<script" not in html and "http://" not in html


def test_a_mart_missing_a_contract_column_is_a_clear_error(tmp_path):
    con = duckdb.connect()
    _create_marts(con)
    con.execute("alter table mart.backlog drop column nama_desa")
    with pytest.raises(ValueError, match=r"mart\.backlog lacks .*nama_desa"):
        write_report(con, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_rewriting_replaces_the_page(warehouse, tmp_path):
    out = tmp_path / "r.html"
    out.write_text("old page", encoding="utf-8")
    write_report(warehouse, out, title="Judul <baru>")
    text = out.read_text(encoding="utf-8")
    assert "old page" not in text and "<h1>Judul &lt;baru&gt;</h1>" in text
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith((".r.html", "r.html"))] == ["r.html"]


def test_a_year_for_all_19_kecamatan_stays_a_reasonable_size(tmp_path):
    con = duckdb.connect()
    _create_marts(con)
    con.execute(
        """insert into mart.log_completeness
           select d::date, printf('16.09.%02d', k), 'Kecamatan ' || k,
                  case when (k * 7 + i) % 23 = 0 then 'missing' when (k + i) % 41 = 0 then 'rejected' else 'loaded' end,
                  100 + i % 50, i % 3
           from range(366) t(i), range(1, 20) s(k), (select date '2024-01-01' + i::int as d)"""
    )
    con.execute(
        """insert into mart.participation_trend
           select tanggal, kode_kecamatan, nama_kecamatan, 20, 25, 8, 5, 4, 2, 1, 20.0,
                  20000, 15000, 5000, 75.0, tanggal + 250, 18.0
           from mart.log_completeness"""
    )
    out = write_report(con, tmp_path / "year.html")
    html = out.read_text(encoding="utf-8")
    assert _svg(html, "completeness-grid").count("<rect") == 19 * 366
    assert _svg(html, "trend-channel").count("<rect") == 366 * 5
    assert out.stat().st_size < 1_500_000


# --- the area's (the regency's) figures come from mart.backlog_wilayah ------------------------


def test_headline_and_total_row_read_the_regency_mart_not_a_sum(tmp_path):
    con = duckdb.connect()
    _create_marts(con)
    _fill_marts(con)
    # numbers no sum of the kecamatan rows gives: the page must show these
    con.execute("drop view mart.backlog_wilayah")
    con.execute("""create table mart.backlog_wilayah (as_of_date date, wajib_ktp bigint, sudah_rekam bigint,
                   belum_rekam bigint, pct_rekam double)""")
    con.execute("insert into mart.backlog_wilayah values (?, 270764, 213572, 57192, 78.88), "
                "(?, 270764, 213000, 57764, 78.67), (?, 1, 1, 0, 100.0)", [D3, D2, D1])
    html = write_report(con, tmp_path / "r.html").read_text(encoding="utf-8")
    head = _section(html, "ringkasan")
    assert re.findall(r'<div class="v">([^<]+)</div>', head) == ["270.764", "213.572", "57.192", "78,88%"]
    assert "-572 sejak 2024-03-02" in head and "Per tanggal <b class=\"asof\">2024-03-03</b>" in head
    total = re.search(r'<tr class="total">.*?</tr>', _section(html, "backlog"), flags=re.S).group(0)
    assert re.findall(r'<td class="n[^"]*">([^<]+)</td>', total) == ["270.764", "213.572", "57.192", "78,88%"]


def test_without_the_regency_mart_the_headline_says_so_and_the_rest_is_drawn(tmp_path):
    con = duckdb.connect()
    _create_marts(con)
    _fill_marts(con)
    con.execute("drop view mart.backlog_wilayah")
    html = write_report(con, tmp_path / "r.html").read_text(encoding="utf-8")
    head = _section(html, "ringkasan")
    assert "Belum ada data" in head and "<code>mart.backlog_wilayah</code>" in head
    assert _svg(html, "backlog-kecamatan").count("<rect") == 3
    total = re.search(r'<tr class="total">.*?</tr>', _section(html, "backlog"), flags=re.S).group(0)
    assert total.count(">—</td>") == 4  # no regency row: no total, never a sum made here
    assert 'class="banner"' not in html


def test_render_report_takes_the_data_and_a_fixed_time(warehouse):
    from datetime import datetime, timezone

    data = load_report_data(warehouse)
    assert isinstance(data, ReportData) and data.regency["belum_rekam"] == 5460
    html = render_report(data, generated_at=datetime(2025, 3, 1, 6, 30, tzinfo=timezone(timedelta(hours=7))))
    assert "dibuat 2025-03-01 06:30 WIB" in html and "Data per 2024-03-03" in html
    assert 'href="#run"' not in html and 'id="run"' not in html  # no summary, no run section
    empty = render_report(ReportData())
    assert 'class="banner"' in empty and "data-chart=" not in empty


# --- escaping --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (HOSTILE, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"),
        ("http://evil.example/a", "http&#58;//evil.example/a"),
        ("background:url(x)", "background:url&#40;x)"),
        ("@import 'a.css'", "&#64;import &#x27;a.css&#x27;"),
        ("Muara Dua & Co", "Muara Dua &amp; Co"),
        (None, ""),
        (1234, "1234"),
    ],
)
def test_every_interpolated_value_is_escaped_and_can_not_look_like_a_fetch(value, expected):
    assert escape_value(value) == expected
    env = environment()
    assert env.from_string("{{ v }}").render(v=value) == expected
    assert env.from_string('<svg><text x="1">{{ v }}</text></svg>').render(v=value) == f'<svg><text x="1">{expected}</text></svg>'


def test_the_escaping_holds_in_attributes_macros_and_filters():
    env = environment()
    attr = env.from_string('<rect class="{{ v }}"/>').render(v='" onload="alert(1)')
    assert attr == '<rect class="&quot; onload=&quot;alert(1)"/>'
    via_macro = env.from_string("{% macro m(v) %}<b>{{ v }}</b>{% endmacro %}{{ m(v) }}").render(v=HOSTILE + FETCHES)
    via_filter = env.from_string('{{ v|join(", ") }}').render(v=[HOSTILE, FETCHES])
    for out in (via_macro, via_filter):
        for forbidden in ("<script", "<img", "://", "url(", "@import"):
            assert forbidden not in out, (forbidden, out)
    assert via_macro.startswith("<b>&lt;script&gt;")


def test_every_template_is_rendered_with_autoescape_on():
    env = environment()
    names = env.list_templates()
    assert {"page.html.j2", "macros.html.j2", "backlog.svg.j2", "trend.svg.j2", "grid.svg.j2", "report.css"} <= set(names)
    assert sorted(names) == sorted(p.name for p in (PACKAGE / "templates").iterdir())
    for name in [*names, "any.j2", "any.svg", "any.svg.j2", "any.html"]:
        auto = env.autoescape(name) if callable(env.autoescape) else env.autoescape
        assert auto is True, name
    assert env.finalize is escape_value
    for name in names:  # no template switches the escaping off
        text = (PACKAGE / "templates" / name).read_text(encoding="utf-8")
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup", text), name


def test_hostile_mart_values_are_escaped_in_tables_charts_and_tooltips(tmp_path):
    con = duckdb.connect()
    _create_marts(con)
    _fill_marts(con)
    hostile = f"{HOSTILE} {FETCHES}"
    for table in ("backlog_kecamatan", "participation_trend", "log_completeness", "backlog"):
        con.execute(f"update mart.{table} set nama_kecamatan = ? where kode_kecamatan = '16.09.02'", [hostile])
    con.execute("update mart.backlog set nama_desa = ?", [hostile])
    html = write_report(con, tmp_path / "r.html", run_summary={"error": hostile}).read_text(encoding="utf-8")
    for forbidden in ("<script", "<img", "http://", "url(", "@import"):
        assert forbidden not in html, forbidden
    shown = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert _svg(html, "backlog-kecamatan").count(shown) == 2  # the bar's name and its tooltip
    assert _svg(html, "completeness-grid").count(shown) == 1 + len(DAYS)  # the row's name and its cells
    assert "http&#58;//evil.example/a" in _section(html, "laju") and "url&#40;" in _section(html, "desa")
    assert _svg(html, "backlog-kecamatan").count("<rect") == 3
    assert _svg(html, "completeness-grid").count("<rect") == len(KEC) * len(DAYS)
    assert len(re.findall(r'<td class="n">\d+</td><td>&lt;script', _section(html, "desa"))) == 10  # every desa name


# The completeness grid as grid.svg.j2 wrote it before issue 19 (a template loop over every cell):
# the grid the filter grid_cells writes must be the same text, byte for byte.
GRID_BEFORE_ISSUE_19 = """\
{#- Completeness grid: a flows.outputs.report.charts.GridChart as `c`; a cell without class is loaded. -#}
<div class="chart-wrap scroll"><svg data-chart="completeness-grid" role="img" class="chart grid-chart" viewBox="0 0 {{ c.width }} {{ c.height }}" width="{{ c.width }}" height="{{ c.height }}" aria-label="Grid kelengkapan log: {{ c.kecamatan }} kecamatan × {{ c.days }} hari, warna menunjukkan dimuat, ditolak atau tidak ada{% if c.days_off %}; {{ c.days_off }} hari libur ditampilkan pudar{% endif %}">
{% set cell_w = c.cell_w|coord %}
{% for row in c.rows %}
<text class="lab" x="{{ c.name_x }}" y="{{ row.text_y }}" text-anchor="end">{{ row.name }}</text>
<g transform="translate({{ c.left }} {{ row.y }})">
{% for cell in row.cells %}
<rect{% if cell.cls %} class="{{ cell.cls }}"{% endif %} x="{{ cell.x|coord }}" width="{{ cell_w }}" height="{{ c.cell_h }}"><title>{{ cell.tip }}</title></rect>
{% endfor %}
</g>
{% endfor %}
{% for l in c.date_labels %}
<text class="tick{% if l.off %} off{% endif %}" transform="translate({{ l.x|coord }} {{ c.label_y }}) rotate(-90)" text-anchor="end">{{ l.label }}</text>
{% endfor %}
</svg></div>
"""


@pytest.mark.parametrize("days", [5, 40, 366])
def test_the_grid_is_the_markup_of_a_template_loop_over_every_cell_with_every_value_escaped(days):
    """grid.svg.j2 writes a row's cells with the filter grid_cells (the markup of grid_cell.svg.j2,
    filled once per cell): the same text as the template loop it replaces, hostile values included."""
    names = [HOSTILE, FETCHES, "ends with http:", "ends with url", "ends with @", "//starts", "Muara Dua & Co", None]
    statuses = ["loaded", "rejected", "missing", f"{HOSTILE}url(", "http://x"]
    first = date(2024, 1, 1)
    rows = [
        {"tanggal": first + timedelta(days=d), "kode_kecamatan": f"16.09.{k:02d}", "nama_kecamatan": name,
         "status": statuses[(k + d) % len(statuses)], "rows_loaded": None if d % 7 == 3 else d * 10 + k,
         "rows_quarantined": None if d % 5 == 1 else d % 3}
        for k, name in enumerate(names, start=1) for d in range(days) if (k * d) % 11 != 5  # some cells absent
    ]
    off = {first + timedelta(days=d): (None if d % 3 else f"{FETCHES} {HOSTILE}") for d in range(0, days, 4)}
    rows[0]["rows_loaded"], rows[1]["rows_quarantined"] = True, 2.5  # shown as fmt_int shows them
    rows[2]["rows_loaded"] = [1]   # a value that cannot be a key: its cell is worked out alone
    chart = charts.grid_chart(rows, off)
    by_cell = {(r["nama_kecamatan"] or "", r["tanggal"]): r for r in rows}
    for grid_row in chart.rows:                  # each cell's tip and class as the per-cell code gave them
        for cell, day in zip(grid_row.cells, sorted({r["tanggal"] for r in rows})):
            r, tip = by_cell.get((grid_row.name, day)), f"{fmt_date(day)} {grid_row.name}: "
            if r is None:
                tip, cls = tip + "tanpa baris", ["u"]
            else:
                known = r["status"] in ("loaded", "rejected", "missing")
                tip += {"loaded": "dimuat", "rejected": "ditolak", "missing": "tidak ada file"}.get(r["status"], r["status"])
                cls = [] if r["status"] == "loaded" else [{"rejected": "r", "missing": "m"}.get(r["status"], "u")] if known else ["u"]
                if r["status"] != "missing" and (r["rows_loaded"] is not None or r["rows_quarantined"] is not None):
                    tip += f", {fmt_int(r['rows_loaded'])} baris, {fmt_int(r['rows_quarantined'])} karantina"
            if day in off:
                cls.append("off")
                tip += f" ({charts.day_off_label(day, off[day])})"
            assert (cell.tip, cell.cls) == (tip, " ".join(cls) or None)
    env = environment()
    before = env.from_string(GRID_BEFORE_ISSUE_19).render(c=chart)
    assert env.get_template("grid.svg.j2").render(c=chart) == before
    for forbidden in ("<script", "<img", "://", "url(", "@import"):
        assert forbidden not in before


# The trend chart as trend.svg.j2 wrote it before issue 19 (a template loop over every day and channel):
# the bars the filter trend_bars writes must be the same text, byte for byte.
TREND_BEFORE_ISSUE_19 = """\
{% set bar_w = c.bar_w|coord %}
{% for d in c.days %}{% set x = d.x|coord %}
<g><title>{{ d.tip }}</title>
{%- for s in d.segments %}<rect class="f-{{ s.key }}" x="{{ x }}" y="{{ s.y|coord }}" width="{{ bar_w }}" height="{{ s.height|coord }}"/>{% endfor -%}
</g>
{% endfor %}
"""


@pytest.mark.parametrize("n", [1, 7, 40, 366])
def test_the_trend_bars_are_the_markup_of_a_template_loop_over_every_day_with_every_value_escaped(n):
    """trend.svg.j2 writes the days with the filter trend_bars (the markup of trend_day.svg.j2, each
    channel's once): the same text as the template loop it replaces, hostile tooltips and keys included."""
    days = [charts.Day(x=10.5 + i * 2.25, tip=[HOSTILE, FETCHES, f"2025-01-{i % 28 + 1:02d} — rekam 1.234"][i % 3],
                       segments=[charts.Segment(key=k, y=300.0 - i - j * 7.125, height=j + 0.5)
                                 for j, k in enumerate(["dinas", "jemput-bola", "sekolah", f"x{HOSTILE}url("][: i % 5])])
            for i in range(n)]
    chart = charts.TrendChart(width=1000, height=320, count=n, left=64, right=956, tick_x=56, axis_y=150.0,
                              base_y=286, mark_y=290, date_y=304, bar_w=1.875, days=days)
    env = environment()
    before = env.from_string(TREND_BEFORE_ISSUE_19).render(c=chart)
    after = env.from_string("{% set bar_w = c.bar_w|coord %}\n{{ c.days|trend_bars(bar_w) -}}\n").render(c=chart)
    assert after == before and before.count("<g>") == n
    for forbidden in ("<script", "<img", "://", "url(", "@import"):
        assert forbidden not in before


# --- outreach, devices and feedback (issue 11): the real models over hand-made landing rows ---------

# Logs 2025-01-01 (Wednesday) .. 2025-01-14 (Tuesday); every desa at wajib 200, sudah 160 in the
# snapshot of 2024-12-31 unless listed in BELUM. Recordings are ULANG (they never change the backlog).
O_FIRST, O_LAST = date(2025, 1, 1), date(2025, 1, 14)
DESA = sorted(desa_codes())


def _first_desa(kecamatan: str) -> str:
    return next(d for d in DESA if d.startswith(kecamatan + "."))


X, X2, Q = "16.09.01.1014", "16.09.01.1015", "16.09.01.1016"  # visited by jemput bola on 01-03, 01-07, 01-08
Y = "16.09.02.2013"  # visited on 01-10: its request of 01-08 is served
Z, W, V = _first_desa("16.09.03"), _first_desa("16.09.04"), _first_desa("16.09.05")  # open requests
A1, A2 = _first_desa("16.09.06"), _first_desa("16.09.08")  # large backlog, no request
BELUM = {W: 900, A1: 1000, A2: 800, X: 600, Z: 500, V: 300}  # belum rekam; every other desa 40
# kecamatan whose office records on site: all but 16.09.02 (last on 01-02) and 16.09.07 (never)
KEC_ALL = sorted({d[:8] for d in DESA})
# working days without (mart.kalender): 01-01 is a holiday, so 16.09.07 counts 01-02 .. 01-14 = 9
FLAGGED = {"16.09.02": ("Pulau Beringin", date(2025, 1, 2), 8), "16.09.07": ("Buay Runjung", None, 9)}
# (tanggal_daftar, kode_desa, tanggal_surat, nomor_surat, perkiraan_warga)
REQUESTS = [
    ("2025-01-02", X, "2024-12-30", "140/3/BA/2025", 80),  # served 01-03
    ("2025-01-08", Y, "2025-01-06", "470/12/PB/2025", 120),  # served 01-10
    ("2025-01-02", Z, "2024-12-31", "005/1/2025", 300),  # open, 12 days
    ("2025-01-09", W, "2025-01-08", "470/7/2025", None),  # open, 5 days
    ("2025-01-09", Z, "2025-01-09", "470/9/2025", 40),  # open, 5 days
    ("2025-01-10", V, "2025-01-10", "12/A/2025", 15),  # open, 4 days
]


def _outreach_rows() -> list[dict]:
    def at(day: int) -> str:
        return f"2025-01-{day:02d} 09:00:00"

    rows = [rec(person="D1", desa=X, at=at(1), jenis="ULANG", lokasi="DINAS", alat="DINAS-01")]  # silent 13 days
    rows += [rec(person=f"J{n}", desa=d, at=at(day), jenis="ULANG", lokasi="JEMPUT_BOLA", alat=alat)
             for n, (d, day, alat) in enumerate([(X, 3, "JB-01"), (X2, 7, "JB-01"), (Q, 8, "JB-02"), (Y, 10, "JB-03")])]
    rows.append(rec(person="K2", desa="16.09.02.2012", at=at(2), jenis="ULANG", lokasi="KECAMATAN", alat="KEC-02"))
    for kec in KEC_ALL:
        if kec not in FLAGGED:
            rows += [rec(person=f"K{kec}-{day}", desa=_first_desa(kec), at=at(day), jenis="ULANG", lokasi="KECAMATAN",
                         alat=f"KEC-{kec[-2:]}") for day in (13, 14)]
    return rows


def outreach_warehouse(requests: list[tuple] = tuple(REQUESTS)) -> Warehouse:
    """Every model of sql/order.txt built over the rows above (and the logs of O_FIRST and O_LAST)."""
    overrides = {d: (1000 + b, 1000) for d, b in BELUM.items()}
    wh = build(_outreach_rows(), snapshots=[snapshot("2024-12-31", wajib=200, sudah=160, overrides=overrides)])
    for line, (daftar, desa, surat, nomor, warga) in enumerate(requests, start=2):
        wh.con.execute("insert into landing.permohonan values (?, ?, ?, ?, ?, ?, 'x', ?, 'harness')",
                       [daftar, desa, surat, nomor, warga, f"permohonan/{daftar}.csv", line])
    build_models(wh.con)
    return wh


FEEDBACK_FILES = [f"16.09.02/2025-01-{d:02d}.csv" for d in range(1, 13)] + ["16.09.07/2025-01-14.csv",
                                                                              "16.09.01/2025-01-03.csv"]
OUTREACH_SUMMARY = {"run_id": "run-2", "files_loaded": 40,
                    "feedback": {"written": 2, "removed": 1, "files": FEEDBACK_FILES, "folder": "/srv/ektp/data/feedback"}}


@pytest.fixture(scope="module")
def outreach_page(tmp_path_factory) -> str:
    wh = outreach_warehouse()
    out = tmp_path_factory.mktemp("outreach") / "warehouse" / "report.html"
    try:
        return write_report(wh.con, out, run_summary=OUTREACH_SUMMARY).read_text(encoding="utf-8")
    finally:
        wh.close()


def _text(fragment: str) -> str:
    """The text of an HTML fragment: tags removed, whitespace collapsed (entities kept)."""
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def _rows(section: str) -> list[list[str]]:
    """The body rows of the section's table, as lists of cell texts."""
    body = re.search(r"<tbody>(.*?)</tbody>", section, flags=re.S).group(1)
    return [[_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)]
            for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)]


def _hrefs(html: str) -> list[str]:
    return re.findall(r'<a [^>]*href="([^"]*)"', html)


def test_priority_lists_the_top_20_desa_of_the_latest_date_with_their_reason(outreach_page):
    section = _section(outreach_page, "prioritas")
    rows = _rows(section)
    assert [r[0] for r in rows] == [str(n) for n in range(1, 21)]
    never_visited = sorted(d for d in DESA if d not in BELUM and d not in (X2, Q, Y))
    codes = [re.search(r"16\.09\.\d\d\.\d{4}", r[1]).group(0) for r in rows]
    assert codes == [W, Z, V, A1, A2, X, *never_visited[:14]]  # open requests first, then belum rekam
    assert "dari 259 desa/kelurahan" in section and "(3 desa)" in section and "Per 2025-01-14" in section
    # columns: #, desa, alasan, kecamatan, belum rekam, last visit, open requests
    z = rows[1]
    assert z[1] == f"Bandar Agung Ranau {Z}" and z[3] == "Banding Agung" and z[4] == "500"
    assert z[2] == "permohonan desa menunggu sejak 2025-01-02 (2 surat); belum rekam 500; belum pernah dikunjungi jemput bola"
    assert z[5] == "belum pernah" and z[6] == "2 surat sejak 2025-01-02"
    assert rows[3][4] == "1.000" and rows[3][6] == "—"  # Indonesian thousands
    x = rows[5]
    assert x[2] == "belum rekam 600; jemput bola terakhir 11 hari lalu" and x[5] == "2025-01-03 11 hari lalu"
    assert never_visited[14] not in section and Y not in section  # rank 21; Y was served (it ranked first before 01-10)


def test_requests_waiting_longest_come_first_with_the_open_and_served_counts(outreach_page):
    section = _section(outreach_page, "permohonan")
    assert re.search(r'<b class="count-open">4</b> permohonan menunggu · <b class="count-served">2</b> sudah dilayani', section)
    assert _rows(section) == [
        ["2025-01-02", "005/1/2025 surat 2024-12-31", f"Bandar Agung Ranau {Z}", "Banding Agung", "12", "300"],
        ["2025-01-09", "470/9/2025 surat 2025-01-09", f"Bandar Agung Ranau {Z}", "Banding Agung", "5", "40"],
        ["2025-01-09", "470/7/2025 surat 2025-01-08", f"Lawang Agung {W}", "Muara Dua Kisam", "5", "—"],
        ["2025-01-10", "12/A/2025 surat 2025-01-10", f"Karang Agung {V}", "Simpang", "4", "15"],
    ]
    assert "140/3/BA/2025" not in section and "470/12/PB/2025" not in section  # served


def test_kecamatan_whose_office_device_seems_broken_are_flagged(outreach_page):
    section = _section(outreach_page, "alat-rusak")
    assert "2 dari 19 kecamatan diduga alat rusak" in section and "Per 2025-01-14" in section
    assert _rows(section) == [  # most working days without an on-site recording first
        ["Buay Runjung", "16.09.07", "belum pernah", "9", "0"],
        ["Pulau Beringin", "16.09.02", "2025-01-02", "8", "0"],
    ]


def test_devices_silent_seven_days_or_more_are_listed_longest_first(outreach_page):
    section = _section(outreach_page, "alat-diam")
    assert re.search(r'<b class="count-silent">3</b> dari 22 alat', section)
    assert _rows(section) == [
        ["DINAS-01", "Muara Dua 16.09.01", "2025-01-01", "13"],
        ["KEC-02", "Pulau Beringin 16.09.02", "2025-01-02", "12"],
        ["JB-01", "Muara Dua 16.09.01", "2025-01-07", "7"],  # 7 days: silent; JB-02 (6 days) is not
    ]
    assert "JB-02" not in section


def _grid_cells(html: str) -> dict[str, list[tuple[str, str]]]:
    """The completeness grid's cells by date: (class, tooltip) of each kecamatan's cell."""
    cells: dict[str, list[tuple[str, str]]] = {}
    for cls, tip in re.findall(r'<rect(?: class="([^"]*)")?[^>]*><title>([^<]*)</title></rect>', _svg(html, "completeness-grid")):
        cells.setdefault(tip[:10], []).append((cls, tip))
    return cells


def test_the_grid_shows_days_off_as_days_off_with_the_holidays_name(outreach_page):
    # 2025-01-01 .. 01-14: 01-01 Tahun Baru Masehi, the weekends 01-04/05 and 01-11/12 are days off (mart.kalender)
    cells = _grid_cells(outreach_page)
    off = sorted(day for day, row in cells.items() if all("off" in cls.split() for cls, _ in row))
    assert off == ["2025-01-01", "2025-01-04", "2025-01-05", "2025-01-11", "2025-01-12"]
    assert not any("off" in cls.split() for day, row in cells.items() if day not in off for cls, _ in row)
    assert all(len(row) == 19 for row in cells.values()) and len(cells) == 14
    assert all(tip.endswith("(hari libur: Tahun Baru Masehi)") for _, tip in cells["2025-01-01"])
    assert all(tip.endswith("(hari libur: Sabtu)") for _, tip in cells["2025-01-04"])
    assert all(tip.endswith("(hari libur: Minggu)") for _, tip in cells["2025-01-12"])
    assert not any("hari libur" in tip for _, tip in cells["2025-01-02"])
    section = _section(outreach_page, "kelengkapan")
    assert re.search(r'<span class="sw s-off"></span>hari libur \(pudar\) <span class="en">day off, faded</span> <b>5</b>', section)
    assert "Dalam rentang ini: <span class=\"holiday\"><b>2025-01-01</b> Tahun Baru Masehi</span>." in section
    assert ".grid-chart rect.off{fill-opacity:.3}" in outreach_page


def test_the_grid_names_a_collective_leave_day_and_a_holiday_on_the_last_date(tmp_path):
    wh = build([rec(person="P1", at="2025-01-24"), rec(person="P2", at="2025-01-28")])   # Friday .. Tuesday
    try:
        html = write_report(wh.con, tmp_path / "r.html").read_text(encoding="utf-8")
    finally:
        wh.close()
    section = _section(html, "kelengkapan")
    assert ("<b>2025-01-27</b> Isra Mikraj Nabi Muhammad</span>; <span class=\"holiday\"><b>2025-01-28</b> "
            "Cuti Bersama Tahun Baru Imlek</span>.") in section
    assert "Belum lengkap pada 2025-01-28 (hari libur: Cuti Bersama Tahun Baru Imlek):" in section
    cells = _grid_cells(html)
    assert [day for day, row in sorted(cells.items()) if row[0][0] and "off" in row[0][0].split()] == [
        "2025-01-25", "2025-01-26", "2025-01-27", "2025-01-28"]


def test_a_page_without_the_calendar_mart_marks_no_day_off(tmp_path):
    wh = outreach_warehouse()
    try:
        wh.con.execute("drop table mart.kalender")
        html = write_report(wh.con, tmp_path / "r.html").read_text(encoding="utf-8")
    finally:
        wh.close()
    assert not any("off" in (cls or "").split() for row in _grid_cells(html).values() for cls, _ in row)
    assert "s-off" not in _section(html, "kelengkapan") and "hari libur" not in _section(html, "kelengkapan")


def test_the_page_states_the_thresholds_of_the_mart_never_its_own(tmp_path):
    wh = outreach_warehouse()
    try:
        wh.con.execute("update mart.ambang_batas set hari_kerja_alat_rusak = 6, hari_diam_alat = 12")
        html = write_report(wh.con, tmp_path / "r.html").read_text(encoding="utf-8")
    finally:
        wh.close()
    service, devices = _text(_section(html, "alat-rusak")), _text(_section(html, "alat-diam"))
    assert "Diduga rusak = 6 hari kerja" in service and "6+ working days" in service
    assert "Alat rekam diam 12 hari atau lebih" in devices and "selama 12 hari atau lebih" in devices
    assert "for 12 days or more" in devices
    assert " 7 " not in devices and " 5 " not in service  # no number of days restated by the page


def test_feedback_files_are_linked_relatively_by_kecamatan_newest_first(outreach_page, tmp_path):
    section = _section(outreach_page, "umpan-balik")
    groups = re.findall(r"<li><b>([^<]+)</b> <span class=\"muted\">([^<]+)</span>", section)
    assert groups == [("Muara Dua", "16.09.01 · 1 file"), ("Pulau Beringin", "16.09.02 · 12 file"),
                      ("Buay Runjung", "16.09.07 · 1 file")]
    hrefs = _hrefs(section)
    assert hrefs == (["../feedback/16.09.01/2025-01-03.csv"]
                     + [f"../feedback/16.09.02/2025-01-{d:02d}.csv" for d in range(12, 2, -1)]  # the newest 10
                     + ["../feedback/16.09.07/2025-01-14.csv"])
    assert "… dan 2 file lebih lama" in section and "2025-01-02.csv" not in section
    assert re.search(r'<b class="count-feedback">14</b> file · run ini menulis 2, menghapus 1', section)
    assert "/srv/ektp/data/feedback" in section
    # from warehouse/report.html the link reaches <data dir>/feedback/<kode>/<date>.csv
    data_dir = tmp_path / "data"
    assert (data_dir / "warehouse" / hrefs[0]).resolve() == (data_dir / "feedback" / "16.09.01" / "2025-01-03.csv").resolve()
    # the run section says it in short, not the list
    run = _section(outreach_page, "run")
    assert "Umpan balik kecamatan" in run and "2025-01-03" not in run
    assert re.search(r"file <b>14</b>.*ditulis <b>2</b>.*dihapus <b>1</b>", run)


def test_without_a_run_summary_the_feedback_files_of_the_folder_are_listed(tmp_path):
    data_dir = tmp_path / "data"
    folder = data_dir / "feedback"
    for rel in ("16.09.03/2025-01-05.csv", "16.09.03/2025-01-06.csv", "16.09.03/notes.txt", "lain/2025-01-01.csv",
                "16.09.3/2025-01-01.csv"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text("baris;alasan;penjelasan\r\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "16.09.04").mkdir(parents=True)
    (elsewhere / "16.09.04" / "2025-01-01.csv").write_text("x", encoding="utf-8")
    (folder / "16.09.04").symlink_to(elsewhere / "16.09.04", target_is_directory=True)  # never followed
    (folder / "16.09.03" / "2025-01-07.csv").symlink_to(elsewhere / "16.09.04" / "2025-01-01.csv")
    assert feedback_in_folder(folder) == ["16.09.03/2025-01-05.csv", "16.09.03/2025-01-06.csv"]
    assert feedback_in_folder(tmp_path / "none") is None

    wh = outreach_warehouse()
    try:
        for summary in (None, {"run_id": "restored"}):
            out = write_report(wh.con, data_dir / "warehouse" / "report.html", run_summary=summary)
            section = _section(out.read_text(encoding="utf-8"), "umpan-balik")
            assert _hrefs(section) == ["../feedback/16.09.03/2025-01-06.csv", "../feedback/16.09.03/2025-01-05.csv"]
            assert "Banding Agung" in section and "written without a run summary" in section
            assert "run ini menulis" not in section
        out = write_report(wh.con, tmp_path / "other" / "warehouse" / "report.html")
        assert "folder <code>feedback</code> belum ada" in _section(out.read_text(encoding="utf-8"), "umpan-balik")
    finally:
        wh.close()


def test_when_nothing_waits_or_is_flagged_the_sections_say_so(tmp_path):
    wh = outreach_warehouse()
    try:
        wh.con.execute("update mart.outreach_requests set tanggal_dilayani = tanggal_daftar, hari_menunggu = 0")
        wh.con.execute("update mart.kecamatan_service set diduga_alat_rusak = false")
        wh.con.execute("update mart.device_activity set hari_diam = 0, diam = false")
        summary = {"feedback": {"written": 0, "removed": 3, "files": [], "folder": "/data/feedback"}}
        html = write_report(wh.con, tmp_path / "r.html", run_summary=summary).read_text(encoding="utf-8")
    finally:
        wh.close()
    requests = _section(html, "permohonan")
    assert '<b class="count-open">0</b>' in requests and '<b class="count-served">6</b>' in requests
    assert "Tidak ada permohonan desa yang menunggu" in requests and "<table" not in requests
    service = _section(html, "alat-rusak")
    assert "Tidak ada kecamatan yang diduga alat rusak per 2025-01-14" in service and "semua 19 kecamatan" in service
    assert 'class="warn"' not in service and "<table" not in service
    devices = _section(html, "alat-diam")
    assert "Tidak ada alat yang diam 7 hari atau lebih per 2025-01-14" in devices and "<table" not in devices
    feedback = _section(html, "umpan-balik")
    assert "Tidak ada file umpan balik" in feedback and "menghapus 3" in feedback and not _hrefs(feedback)


@pytest.mark.parametrize("state", ["absent", "empty"])
def test_absent_or_empty_outreach_marts_say_no_data_yet(tmp_path, state):
    if state == "absent":
        con = duckdb.connect()
        _create_marts(con)
        _fill_marts(con)
    else:
        con = build().con  # every model, no row
    html = write_report(con, tmp_path / "r.html").read_text(encoding="utf-8")
    for anchor, mart in (("prioritas", "outreach_priority"), ("permohonan", "outreach_requests"),
                         ("alat-rusak", "kecamatan_service"), ("alat-diam", "device_activity")):
        section = _section(html, anchor)
        assert "Belum ada data" in section and f"<code>mart.{mart}</code>" in section, anchor
        assert "<table" not in section
    if state == "absent":
        assert 'class="banner"' not in html  # the other marts have data
        assert "mart.outreach_priority" in load_report_data(con).missing_tables


@pytest.mark.parametrize("table, column", [("outreach_priority", "permohonan_tertua"), ("outreach_requests", "hari_menunggu"),
                                           ("kecamatan_service", "diduga_alat_rusak"), ("device_activity", "hari_diam")])
def test_an_outreach_mart_missing_a_contract_column_is_a_clear_error(tmp_path, table, column):
    wh = outreach_warehouse()
    try:
        wh.con.execute(f"alter table mart.{table} drop column {column}")
        with pytest.raises(ValueError, match=rf"mart\.{table} lacks .*{column}"):
            write_report(wh.con, tmp_path / "r.html")
    finally:
        wh.close()
    assert not (tmp_path / "r.html").exists()


def test_a_priority_mart_without_alasan_is_shown_without_the_reason_column(tmp_path):
    wh = outreach_warehouse()
    try:
        wh.con.execute("alter table mart.outreach_priority drop column alasan")
        section = _section(write_report(wh.con, tmp_path / "r.html").read_text(encoding="utf-8"), "prioritas")
    finally:
        wh.close()
    assert "Alasan" not in section and len(_rows(section)) == 20
    assert _rows(section)[0][1:4] == [f"Lawang Agung {W}", "Muara Dua Kisam", "900"]


def test_long_lists_are_cut_with_a_count_of_the_rest():
    day = date(2025, 1, 14)
    data = ReportData(
        requests_any=True, requests_open=27, requests_served=1,
        requests_waiting=[{"tanggal_daftar": day, "tanggal_surat": day, "nomor_surat": f"{n}/2025", "kode_kecamatan": "16.09.01",
                           "kode_desa": "16.09.01.1013", "nama_desa": "Batu Belang Jaya", "perkiraan_warga": 1500,
                           "hari_menunggu": 30 - n} for n in range(20)],
        devices_date=day, devices_count=80, devices_silent_count=61,
        devices_silent=[{"id_alat": f"A-{n}", "kode_kecamatan": "16.09.99", "pertama_aktif": day, "terakhir_aktif": day,
                         "hari_diam": 70 - n, "rekam_7h": 0} for n in range(50)],
    )
    html = render_report(data, feedback={"files": [f"16.09.05/2024-{m:02d}-01.csv" for m in range(1, 13)]})
    assert len(_rows(_section(html, "permohonan"))) == 20 and "… dan 7 permohonan lain" in html and "1.500" in html
    devices = _rows(_section(html, "alat-diam"))
    assert len(devices) == 50 and devices[0][1] == "16.09.99" and "… dan 11 alat lain" in html  # unknown kecamatan: its code
    feedback = _section(html, "umpan-balik")
    assert _hrefs(feedback)[0] == "../feedback/16.09.05/2024-12-01.csv" and len(_hrefs(feedback)) == 10
    assert "<b>16.09.05</b>" in feedback and "… dan 2 file lebih lama" in feedback


def test_hostile_values_are_escaped_in_the_outreach_sections(tmp_path):
    hostile = f"{HOSTILE} {FETCHES}"
    wh = outreach_warehouse()
    try:
        wh.con.execute("update mart.outreach_priority set nama_desa = ?, nama_kecamatan = ?, alasan = ?", [hostile] * 3)
        wh.con.execute("update mart.outreach_requests set nomor_surat = ?, nama_desa = ?", [hostile] * 2)
        wh.con.execute("update mart.kecamatan_service set nama_kecamatan = ?", [hostile])
        wh.con.execute("update mart.device_activity set id_alat = ? || id_alat", [hostile])
        files = ["javascript:alert(1)", "<script>x</script>/2025-01-01.csv", "16.09.01/2025-01-01.csv\n",
                 "16.09.01/../../etc/passwd", '16.09.01/2025-01-01.csv" onmouseover="alert(1)', None, 7,
                 "16.09.01/2025-01-02.csv"]
        summary = {"feedback": {"written": hostile, "removed": 0, "files": files, "folder": hostile},
                   "outreach": {"open_requests": 4, "flagged": [{"x": hostile}], "silent": hostile}}
        html = write_report(wh.con, tmp_path / "r.html", run_summary=summary).read_text(encoding="utf-8")
    finally:
        wh.close()
    for forbidden in ("<script", "<img", "http://", "url(", "@import", "javascript:", "onmouseover=\""):
        assert forbidden not in html, forbidden
    shown = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert _section(html, "prioritas").count(shown) == 20 * 3  # desa, reason and kecamatan of each row
    assert _section(html, "permohonan").count(shown) == 4 * 3  # letter, desa and (looked up) kecamatan
    assert _section(html, "alat-rusak").count(shown) == 2
    assert _section(html, "alat-diam").count(shown) == 3 * 2  # device and (looked up) kecamatan
    assert "http&#58;//evil.example/a" in _section(html, "permohonan")
    feedback = _section(html, "umpan-balik")
    assert _hrefs(feedback) == ["../feedback/16.09.01/2025-01-02.csv"]  # only the names the pipeline writes
    assert "7 nama file tidak dikenal tidak ditautkan" in feedback
    assert feedback.count(shown) == 2  # the folder and the (looked up) kecamatan of the group
    assert "run ini menulis" not in feedback  # not a number
    run = _section(html, "run")
    assert re.search(r"permohonan menunggu <b>4</b>.*kecamatan diduga alat rusak <b>1</b>", run)
    assert run.count(shown) == 1  # the "written" value, as it is

# --- the package's own rules -----------------------------------------------------------------


def test_the_package_builds_no_markup_in_python_and_keeps_functions_short():
    tag_in_fstring = re.compile(r"""f["'].*<[a-zA-Z/]""")
    for path in sorted(PACKAGE.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not [ln for ln in text.splitlines() if tag_in_fstring.search(ln)], path.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not re.search(r"<[a-zA-Z/][^<>]*>", node.value), (path.name, node.value[:60])
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno - node.lineno + 1 <= 80, (path.name, node.name)


def test_indonesian_formatting():
    assert fmt_int(270764) == "270.764" and fmt_int(None) == "—" and fmt_int(2.6) == "3"
    assert fmt_pct(78.88) == "78,88%" and fmt_pct(None) == "—"
    assert fmt_dec(1234.56, 2) == "1.234,56" and fmt_dec(12.345) == "12,3"
    assert fmt_signed(-321) == "-321" and fmt_signed(5) == "+5" and fmt_signed(0) == "0"
    assert fmt_date(date(2025, 2, 28)) == "2025-02-28" and fmt_date(None) == "—"


def test_chart_geometry_is_plain_data_with_negative_bars_left_of_zero():
    chart = charts.backlog_chart([
        {"nama_kecamatan": "Muara Dua", "belum_rekam": 3000, "pct_rekam": 75.0},
        {"nama_kecamatan": "Pulau Beringin", "belum_rekam": -40, "pct_rekam": 100.5},
    ])
    zero = next(t.pos for t in chart.ticks if t.zero)
    first, second = chart.bars
    assert not first.neg and first.x == pytest.approx(zero) and first.width > 0
    assert second.neg and second.x + second.width == pytest.approx(zero) and second.label == "-40 · 100,50%"
    assert chart.ticks[0].label.startswith("-") and chart.ticks[-1].label == "3.000"
    for value in (first.x, first.y, first.width, second.value_x, chart.width, chart.height):
        assert isinstance(value, (int, float))


# --- in a real browser --------------------------------------------------------------------


@pytest.mark.slow
def test_report_renders_in_headless_chromium_from_file_url(warehouse, tmp_path):
    from tests.browser import ARTIFACTS_DIR, open_page, require_chromium

    require_chromium()
    out = write_report(warehouse, tmp_path / "report.html",
                       run_summary={"run_id": "run-1", "run_date": "2024-03-03", "files_loaded": 7,
                                    "files_rejected": 1, "rows_loaded": 1234, "rows_quarantined": 5,
                                    "quarantine_by_reason": {"nik_format": 3, "duplicate_row": 2},
                                    "backlog_change": -321,
                                    "rejected_files": [{"source_file": "rekam/2024-03-03/16.09.03.csv",
                                                        "error": "required column nik missing"}]})
    with open_page(name="report") as session:
        session.goto(out)
        assert session.page.title() == "Perekaman e-KTP — Kabupaten Ogan Komering Ulu Selatan"
        for name, marks in (("backlog-kecamatan", 3), ("trend-channel", 1), ("completeness-grid", 9)):
            svg = session.page.locator(f'svg[data-chart="{name}"]')
            box = svg.bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0, name
            sizes = svg.evaluate(
                """el => [...el.querySelectorAll('rect, path')].map(e => {
                       const r = e.getBoundingClientRect(); return [e.tagName, r.width, r.height]; })"""
            )
            rects = [s for s in sizes if s[0] == "rect"]
            assert len(rects) >= marks, name
            assert all(w > 0 and h > 0 for _, w, h in rects), f"{name}: a rect rendered with no size"
            assert all(w > 0 for tag, w, _ in sizes if tag == "path"), f"{name}: an empty path"
        assert session.page.locator('svg[data-chart="trend-channel"] path.mean').count() == 1
        for anchor in NEW_SECTIONS:  # no outreach mart here: the sections say so, and they are in the nav
            assert session.page.locator(f"#{anchor}").is_visible(), anchor
            assert session.page.locator(f'nav a[href="#{anchor}"]').is_visible(), anchor
        shot = session.screenshot("report.png")
        session.assert_clean()
        assert session.external_requests() == []
    assert shot == ARTIFACTS_DIR / "report.png" and shot.stat().st_size > 10_000


NEW_SECTIONS = ("prioritas", "permohonan", "alat-rusak", "alat-diam", "umpan-balik")
PHONE = {"width": 390, "height": 844}
LONG_SUMMARY = {
    "run_id": "20250115T010000-nightly-0123456789abcdef", "last_date": "2025-01-14", "files_loaded": 40,
    "quarantine_by_reason": {"nik_format": 3, "id_alat_invalid": 2, "tanggal_lahir_invalid": 1, "duplicate_row": 9},
    "rejected_files": [{"source_file": "rekam/2025-01-14/16.09.12.csv",
                        "error": "header_invalid: kolom wajib tidak ada: nik, nama, jenis_kelamin, tanggal_lahir"}],
    "missing_logs_on_last_date": ["16.09.07 Buay Runjung", "16.09.12 Buay Pematang Ribu Ranau Tengah"],
}


@pytest.mark.slow
def test_the_page_is_readable_on_a_phone_in_headless_chromium(tmp_path):
    """390 px wide: the page never scrolls sideways (wide tables and charts scroll in their own box),
    the outreach sections are there and in the nav; nothing is fetched, nothing logs an error."""
    from tests.browser import ARTIFACTS_DIR, open_page, require_chromium

    require_chromium()
    con = duckdb.connect()
    _create_marts(con)
    _fill_marts(con)
    hand = write_report(con, tmp_path / "hand" / "warehouse" / "report.html", run_summary=LONG_SUMMARY)
    wh = outreach_warehouse()
    try:
        outreach = write_report(wh.con, tmp_path / "data" / "warehouse" / "report.html",
                                run_summary={**LONG_SUMMARY, **OUTREACH_SUMMARY})
    finally:
        wh.close()
    with open_page(name="report-phone", viewport=PHONE) as session:
        for out in (hand, outreach):
            session.goto(out)
            page = session.page
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], out
            assert page.evaluate("[...document.querySelectorAll('table')].every(t => t.closest('.table-wrap'))")
            for anchor in NEW_SECTIONS:
                box = page.locator(f"#{anchor}").bounding_box()
                assert box and box["width"] > 0 and box["height"] > 0 and box["x"] >= 0, anchor
                assert box["x"] + box["width"] <= PHONE["width"], anchor
                assert page.locator(f'nav a[href="#{anchor}"]').is_visible(), anchor
        # the outreach page: every section has its table or list, wider tables scroll in their box
        for anchor in NEW_SECTIONS[:4]:
            assert page.locator(f"#{anchor} table tbody tr").count() > 0, anchor
        assert page.locator("#umpan-balik a.chip").count() == 12
        wrap = page.locator("#prioritas .table-wrap")
        assert wrap.evaluate("w => w.scrollWidth > w.clientWidth && getComputedStyle(w).overflowX === 'auto'")
        page.evaluate("document.getElementById('prioritas').scrollIntoView()")
        session.screenshot("report-phone-outreach.png", full_page=False)
        shot = session.screenshot("report-phone.png")
        session.assert_clean()
        assert session.external_requests() == []
    assert shot == ARTIFACTS_DIR / "report-phone.png" and shot.stat().st_size > 10_000


@pytest.mark.slow
def test_days_off_are_drawn_faded_in_headless_chromium(tmp_path):
    """The grid's day-off cells really render fainter than a working day's, with the holiday in their title."""
    from tests.browser import open_page, require_chromium

    require_chromium()
    wh = outreach_warehouse()
    try:
        out = write_report(wh.con, tmp_path / "data" / "warehouse" / "report.html")
    finally:
        wh.close()
    with open_page(name="report-days-off") as session:
        session.goto(out)
        grid = session.page.locator('svg[data-chart="completeness-grid"]')
        cells = grid.evaluate("""svg => [...svg.querySelectorAll('rect')].map(r => [
            r.querySelector('title').textContent.slice(0, 10), getComputedStyle(r).fillOpacity,
            r.querySelector('title').textContent])""")
        opacity = {}
        for day, fill, _ in cells:
            opacity.setdefault(day, set()).add(fill)
        assert opacity["2025-01-01"] == opacity["2025-01-04"] == {"0.3"}
        assert opacity["2025-01-02"] == opacity["2025-01-14"] == {"1"}
        assert all(title.endswith("(hari libur: Tahun Baru Masehi)") for day, _, title in cells if day == "2025-01-01")
        legend = session.page.locator("#kelengkapan .sw.s-off")
        assert legend.is_visible() and "gradient" in legend.evaluate("e => getComputedStyle(e).backgroundImage")
        grid.screenshot(path=str(tmp_path / "grid.png"))
        session.assert_clean()
        assert session.external_requests() == []
