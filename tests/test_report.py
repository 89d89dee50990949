"""The static HTML report: one self-contained page from the marts (the package flows/report/).

A hand-written 3-day x 3-kecamatan warehouse: one missing log, one rejected log, one kecamatan
whose backlog is negative, one kecamatan whose pace is zero; mart.backlog_kabupaten is the real
model (sql/mart/backlog_kabupaten.sql) over it. The browser test opens the page from file:// in
headless Chromium and saves test-artifacts/report.png. The escaping tests feed hostile values
through the Jinja environment (autoescape plus the finalize hook that breaks anything that could
look like a fetch).
"""

from __future__ import annotations

import ast
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from flows.report import ReportData, charts, load_report_data, render_report, write_report
from flows.report.format import fmt_date, fmt_dec, fmt_int, fmt_pct, fmt_signed
from flows.report.render import environment, escape_value

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "flows" / "report"
REGENCY_MODEL = (REPO / "sql" / "mart" / "backlog_kabupaten.sql").read_text(encoding="utf-8")
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
           wajib_ktp bigint, sudah_rekam bigint, belum_rekam bigint, pct_rekam decimal(7, 2))"""
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
            con.execute("insert into mart.backlog_kecamatan values (?, ?, ?, ?, ?, ?, ?)",
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
    assert "Perekaman e-KTP — Kabupaten OKU Selatan" in text
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
    assert html.count("Belum ada data") >= 7  # the banner, the page subtitle and all six sections
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


# --- the regency figures come from mart.backlog_kabupaten ----------------------------------


def test_headline_and_total_row_read_the_regency_mart_not_a_sum(tmp_path):
    con = duckdb.connect()
    _create_marts(con)
    _fill_marts(con)
    # numbers no sum of the kecamatan rows gives: the page must show these
    con.execute("drop view mart.backlog_kabupaten")
    con.execute("""create table mart.backlog_kabupaten (as_of_date date, wajib_ktp bigint, sudah_rekam bigint,
                   belum_rekam bigint, pct_rekam double)""")
    con.execute("insert into mart.backlog_kabupaten values (?, 270764, 213572, 57192, 78.88), "
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
    con.execute("drop view mart.backlog_kabupaten")
    html = write_report(con, tmp_path / "r.html").read_text(encoding="utf-8")
    head = _section(html, "ringkasan")
    assert "Belum ada data" in head and "<code>mart.backlog_kabupaten</code>" in head
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
        assert session.page.title() == "Perekaman e-KTP — Kabupaten OKU Selatan"
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
        shot = session.screenshot("report.png")
        session.assert_clean()
        assert session.external_requests() == []
    assert shot == ARTIFACTS_DIR / "report.png" and shot.stat().st_size > 10_000
