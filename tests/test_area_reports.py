"""Issue 18, parts 5 and 7b: the outputs of an area of several kab/kota (contract section 10, "Reports").

- `warehouse/report.html` is the area's page; with more than one kab/kota it leads with their table
  (wajib KTP, sudah and belum rekam, percentage, kecamatan suspected of a broken device, open village
  requests), each row linking `report/<kode_kabupaten>.html`, the page a single regency gets, filtered
  to that kab/kota; the area page shows that table instead of the completeness grid. One kab/kota:
  only `report.html`, as before.
- The run summary, the artifact and `ektp demo` give the area total and one line per kab/kota.

The area is OKU Selatan (16.09) and Kota Pagar Alam (16.72: 5 kecamatan, 35 kelurahan): the marts
through tests/harness.py (`build`), the run through the real Prefect flow, the pages in headless
Chromium at 390 px. Every expected figure is read from the marts, never restated.
"""

from __future__ import annotations

import os
import re
import stat

import pytest

from flows.outputs.report import load_report_data, render_report, write_report
from flows.outputs.report.data import AreaQueries
from flows.outputs.report.format import fmt_int, fmt_pct
from flows.outputs.runsummary import RunSummary
from flows.warehouse.database import private_files
from tests.harness import build, rec, request, snapshot
from tests.helpers import Landing, row

OKUS, PAGAR_ALAM = "16.09", "16.72"
TWO = (OKUS, PAGAR_ALAM)
A = "16.09.01.1013"                 # a kelurahan of OKU Selatan (Muara Dua)
P = "16.72.01.1001"                 # a kelurahan of Kota Pagar Alam
PHONE = {"width": 390, "height": 844}


def _two_kab_kota():
    """Both kab/kota under one area snapshot; recordings in both up to 2025-01-10 (so that kecamatan
    without an office recording are flagged), one open village request in Pagar Alam."""
    return build([rec(person="P1", desa=A, at="2025-01-02", lokasi="KECAMATAN", alat="KEC01-A"),
                  rec(person="P2", desa=P, at="2025-01-03", alat="PA-01"),
                  rec(person="P3", desa=P, at="2025-01-10", lokasi="KECAMATAN", alat="PA-01"),
                  rec(person="P4", desa=A, at="2025-01-10")],
                 snapshots=[snapshot("2024-12-31", wajib=200, sudah=150, area=TWO, overrides={P: (1000, 100)})],
                 requests=[request(desa=P, daftar="2025-01-06", nomor="001/PA/I/2025")], area=TWO)


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """The marts of the two kab/kota and the pages written from them (area page, then report/)."""
    wh = _two_kab_kota()
    out = tmp_path_factory.mktemp("area") / "data" / "warehouse" / "report.html"
    with private_files():                          # as in a run: umask 077
        write_report(wh.con, out)
    yield wh, out
    wh.close()


def _kabupaten_at_last_date(con) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in con.execute("""
        select kode_kabupaten, nama_kabupaten, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam from mart.backlog_kabupaten
        where as_of_date = (select max(as_of_date) from mart.backlog_kabupaten)""").fetchall()}


def _cells(row_html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row_html)]


def _section(page: str, anchor: str) -> str:
    m = re.search(rf'<section class="card" id="{anchor}">(.*?)</section>', page, re.S)
    return m.group(1) if m else ""


# --- the area page and the pages of its kab/kota --------------------------------------------------

def test_the_area_page_leads_with_a_table_of_its_kab_kota_whose_figures_are_those_of_the_marts(two):
    wh, out = two
    page = out.read_text(encoding="utf-8")
    table = _section(page, "kabupaten")
    assert table and page.index('id="kabupaten"') < page.index('id="tren"')      # it leads the page
    assert "Ringkasan wilayah" in _section(page, "ringkasan")                    # the area's headline
    broken = dict(wh.query("""select kode_kabupaten, count(*) filter (where diduga_alat_rusak) from mart.kecamatan_service
                              where as_of_date = (select max(as_of_date) from mart.kecamatan_service) group by all"""))
    waiting = dict(wh.query("""select left(kode_kecamatan, 5), count(*) from mart.outreach_requests
                               where tanggal_dilayani is null group by all"""))
    assert broken[OKUS] > 0 and broken[PAGAR_ALAM] > 0 and waiting == {PAGAR_ALAM: 1}   # the fixture tests something
    rows = re.findall(r"<tr(?: class=neg)?><td><a href=\"(report/[^\"]+)\">.*?</tr>", table, re.S)
    assert rows == ["report/16.09.html", "report/16.72.html"]                              # relative links
    for kode, (nama, wajib, sudah, belum, pct) in _kabupaten_at_last_date(wh.con).items():
        tr = re.search(rf'<tr[^>]*><td><a href="report/{re.escape(kode)}\.html">.*?</tr>', table, re.S).group(0)
        assert _cells(tr) == [nama, kode, fmt_int(wajib), fmt_int(sudah), fmt_int(belum), fmt_pct(pct),
                              fmt_int(broken.get(kode, 0)), fmt_int(waiting.get(kode, 0))]


def test_each_kab_kota_page_gives_the_figures_of_backlog_kabupaten_and_only_its_own_kecamatan(two):
    wh, out = two
    for kode, (nama, wajib, sudah, belum, pct) in _kabupaten_at_last_date(wh.con).items():
        page = (out.parent / "report" / f"{kode}.html").read_text(encoding="utf-8")
        assert f"<title>Perekaman e-KTP — {nama}</title>" in page
        head = _section(page, "ringkasan")
        assert all(v in head for v in (fmt_int(wajib), fmt_int(sudah), fmt_int(belum), fmt_pct(pct)))
        other = PAGAR_ALAM if kode == OKUS else OKUS
        own = {r[0] for r in wh.query("select kode_kecamatan from core.kecamatan where kode_kabupaten = ?", [kode])}
        shown = set(re.findall(r"\b(\d{2}\.\d{2}\.\d{2})\b", _section(page, "backlog")))
        assert shown == own and f"{other}." not in page
        assert '<a href="../report.html">' in page and 'id="kabupaten"' not in page
        assert 'id="run"' not in page      # the run is the whole area's: its summary is on the area page
        assert "Ringkasan kabupaten" in head


def test_the_area_page_leaves_kecamatan_desa_and_device_detail_to_the_kab_kota_pages_which_keep_their_grid(two):
    _, out = two
    area = out.read_text(encoding="utf-8")
    assert 'data-chart="completeness-grid"' not in area and "halaman tiap kab/kota" in _section(area, "rincian")
    for section in ("backlog", "kelengkapan", "laju", "desa", "prioritas", "alat-rusak", "alat-diam"):
        assert f'id="{section}"' not in area, section          # a province's 241 kecamatan are not listed here
    anchors = set(re.findall(r'<a href="#([a-z-]+)"', area))
    assert anchors and all(f'id="{a}"' in area for a in anchors), anchors   # the navigation leads nowhere missing
    for kode in TWO:
        page = (out.parent / "report" / f"{kode}.html").read_text(encoding="utf-8")
        assert page.count('data-chart="completeness-grid"') == 1
        anchors = set(re.findall(r'<a href="#([a-z-]+)"', page))
        assert all(f'id="{a}"' in page for a in anchors), anchors


def test_the_kab_kota_pages_are_written_mode_644_in_a_folder_mode_755_even_under_umask_077(two):
    _, out = two
    folder = out.parent / "report"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert sorted(p.name for p in folder.iterdir()) == ["16.09.html", "16.72.html"]      # no temporary file left
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in [out, *folder.iterdir()])


def test_the_pages_of_an_area_read_the_same_data_whether_their_queries_are_shared_or_asked_per_page(two):
    """write_report asks the answers common to its pages once (AreaQueries: the marts present, the
    whole area's completeness rows, each mart's latest date per kecamatan); every page's data must
    equal what its own queries give."""
    wh, _ = two
    shared = AreaQueries(wh.con)
    area = load_report_data(wh.con, queries=shared)
    assert area == load_report_data(wh.con) and len(area.kabupaten_rows) == 2
    for kode in TWO:
        one = load_report_data(wh.con, kode, queries=shared)
        assert one == load_report_data(wh.con, kode)
        assert one.grid_rows and {r["kode_kecamatan"][:5] for r in one.grid_rows} == {kode}


def test_the_area_page_of_several_kab_kota_reads_no_completeness_cell_and_is_not_empty(two):
    """Its grid is on each kab/kota's page (issue 19: a province year's area page read ~88,000 cells
    it never showed); the page with the kab/kota table still counts as having data."""
    wh, _ = two
    area = load_report_data(wh.con)
    assert len(area.kabupaten_rows) == 2 and area.grid_rows == [] and not area.empty
    assert "completeness-grid" not in render_report(area)
    assert all(load_report_data(wh.con, kode).grid_rows for kode in TWO)


def test_a_one_kab_kota_area_writes_only_report_html_as_before(tmp_path):
    wh = build([rec(person="P1", desa=A, at="2025-01-02")], snapshots=[snapshot("2024-12-31")])
    try:
        out = write_report(wh.con, tmp_path / "warehouse" / "report.html")
    finally:
        wh.close()
    page = out.read_text(encoding="utf-8")
    assert not (tmp_path / "warehouse" / "report").exists()
    assert 'id="kabupaten"' not in page and 'href="report/' not in page
    assert page.count('data-chart="completeness-grid"') == 1


def test_a_hostile_kab_kota_name_in_the_marts_is_escaped_on_the_area_page_and_its_own_page(tmp_path):
    wh = _two_kab_kota()
    hostile = '<script>alert(1)</script><img src=x onerror=alert(2)> http://evil.example'
    try:
        for table in ("mart.backlog_kabupaten", "core.kabupaten"):
            wh.con.execute(f"update {table} set nama_kabupaten = ? where kode_kabupaten = ?", [hostile, PAGAR_ALAM])
        out = write_report(wh.con, tmp_path / "warehouse" / "report.html")
    finally:
        wh.close()
    for page in (out, out.parent / "report" / f"{PAGAR_ALAM}.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script>" not in text and "<img" not in text and "://evil" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_a_kab_kota_code_that_is_not_one_never_becomes_a_path():
    from flows.outputs.report import kabupaten_page

    for bad in ("../x", "16.09/../../etc", "16.09.01", ""):
        with pytest.raises(ValueError):
            kabupaten_page(os.path.join("w", "report.html"), bad)


# --- the run summary, the artifact and the demo's text ---------------------------------------------

def test_the_demo_text_gives_the_area_total_and_one_line_per_kab_kota(two):
    from flows.outputs.summary import regency_text

    wh, _ = two
    day = wh.query("select max(as_of_date) from mart.backlog_kabupaten")[0][0]
    text = regency_text(wh.con, day)
    per_kab = _kabupaten_at_last_date(wh.con)
    total = wh.query("select wajib_ktp, sudah_rekam, belum_rekam from mart.backlog_wilayah where as_of_date = ?", [day])[0]
    assert total == tuple(sum(v[i] for v in per_kab.values()) for i in (1, 2, 3))      # the area is their sum
    assert f"  wajib KTP   {total[0]:>9,}" in text and f"  belum rekam {total[2]:>9,}" in text
    for kode, (nama, wajib, sudah, belum, pct) in per_kab.items():
        assert f"  {kode} {nama}: {wajib:,}, {sudah:,}, {belum:,} ({pct:.2f} %)" in text.splitlines()


def _two_kab_kota_zone(landing: Landing) -> None:
    landing.snapshot("2024-12-31", area=TWO)
    landing.log("2025-01-01", "16.09.01", [row()])
    landing.log("2025-01-02", "16.72.01", [row(nik="1609014501010003", desa=P, waktu="2025-01-02 08:00:00", alat="PA-01")])


def test_the_run_summary_and_the_artifact_give_the_area_total_and_one_line_per_kab_kota(prefect_api, landing,
                                                                                       monkeypatch):
    from flows.escape import markdown as md
    from flows.outputs.artifact import run_markdown
    from flows.outputs.summary import run_lines
    from flows.settings import load_settings

    _two_kab_kota_zone(landing)
    monkeypatch.setenv("EKTP_WILAYAH", "16.09,16.72")
    summary = landing.run("2025-01-02")
    assert isinstance(summary, RunSummary)
    published = landing.query("""select kode_kabupaten, nama_kabupaten, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam
                                 from mart.backlog_kabupaten where as_of_date = '2025-01-02' order by 1""", published=True)
    assert [(k.kode_kabupaten, k.nama_kabupaten, k.backlog.wajib_ktp, k.backlog.sudah_rekam, k.backlog.belum_rekam,
             k.backlog.pct_rekam) for k in summary.kabupaten] == published
    b = summary.backlog
    for field in ("wajib_ktp", "sudah_rekam", "belum_rekam"):
        assert getattr(b, field) == sum(getattr(k.backlog, field) for k in summary.kabupaten), field
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EKTP_DATA_DIR", str(landing.data_dir))
        lines = run_lines(summary, load_settings())
    assert f"  area backlog (2 kab/kota) as of 2025-01-02: wajib KTP {b.wajib_ktp:,}, sudah rekam {b.sudah_rekam:,}, " \
           f"belum rekam {b.belum_rekam:,} ({b.pct_rekam:.2f} %)" in lines
    for k in summary.kabupaten:
        assert f"    {k.kode_kabupaten} {k.nama_kabupaten}: wajib KTP {k.backlog.wajib_ktp:,}, " \
               f"sudah rekam {k.backlog.sudah_rekam:,}, belum rekam {k.backlog.belum_rekam:,} " \
               f"({k.backlog.pct_rekam:.2f} %)" in lines
    markdown = run_markdown(summary)
    assert "## Area backlog (2 kab/kota)" in markdown
    for k in summary.kabupaten:
        assert f"| {md(k.kode_kabupaten)} | {md(k.nama_kabupaten)} | {k.backlog.wajib_ktp:,} |" in markdown
    assert f"| **Wilayah** | | **{b.wajib_ktp:,}** |" in markdown
    pages = landing.data_dir / "warehouse" / "report"
    assert sorted(p.name for p in pages.iterdir()) == ["16.09.html", "16.72.html"]


def test_a_one_kab_kota_run_gives_the_regency_line_as_before_and_writes_no_report_folder(prefect_api, landing):
    from flows.outputs.artifact import run_markdown

    landing.snapshot("2024-12-31")
    landing.log("2025-01-01", "16.09.01", [row()])
    summary = landing.run("2025-01-01")
    assert summary.kabupaten == [] and "kabupaten" not in summary.to_dict()
    b = summary.backlog
    assert b is not None and b.wajib_ktp == 200 * 259
    markdown = run_markdown(summary)
    assert "## Regency backlog" in markdown and "Area backlog" not in markdown and "kab/kota" not in markdown
    assert (landing.data_dir / "warehouse" / "report.html").is_file()
    assert not (landing.data_dir / "warehouse" / "report").exists()


# --- in a real browser ---------------------------------------------------------------------------

@pytest.mark.slow
def test_the_area_page_and_a_kab_kota_page_read_at_390_px_and_link_each_other_in_headless_chromium(two):
    from tests.browser import open_page, require_chromium

    require_chromium()
    _, out = two
    with open_page(name="area-phone", viewport=PHONE, block_external=True) as session:
        page = session.page
        session.goto(out)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert page.locator("#kabupaten table tbody tr").count() == 2
        session.screenshot("area-phone.png")
        page.locator('#kabupaten a[href="report/16.72.html"]').click()
        page.wait_for_load_state()
        assert page.url.endswith("/warehouse/report/16.72.html")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert page.locator("svg[data-chart=completeness-grid]").count() == 1
        session.screenshot("area-phone-16.72.png")
        page.locator('nav a[href="../report.html"]').click()
        page.wait_for_load_state()
        assert page.url.endswith("/warehouse/report.html")
        session.assert_clean()
        assert session.external_requests() == []
