"""Issue 17: the portal in a real browser (Playwright over Debian's Chromium, headless).

One operator's day and one office's: log in with the one-time password, change it, upload a
good and a bad log, read the quarantined lines, open a feedback file, register a village letter,
and read every page at 390 pixels with no horizontal scroll, nothing fetched from elsewhere and
no console error (a CSP violation would be one).
"""

from __future__ import annotations

import pytest

from flows.outputs.feedback import render
from flows.reference.wilayah import desa_codes
from tests.browser import open_page, require_chromium
from tests.helpers import Landing
from tests.portal_server import add_user, portal_server, today_wib, yesterday_wib
from tests.test_portal import bad_log, good_log

pytestmark = pytest.mark.slow
PHONE = {"width": 390, "height": 844}
# a favicon fetch cut short by the next navigation is no problem of the page
FAVICON_ABORTED = [r"favicon\.svg \[other\]: net::ERR_ABORTED"]


def no_horizontal_scroll(session) -> None:
    session.page.wait_for_load_state("load")      # the stylesheet applied
    width = session.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{session.page.url} is {width} px wide at a 390 px viewport"


def first_login(session, url: str, name: str, otp: str, new: str) -> None:
    session.goto(url + "/masuk")
    session.page.get_by_label("Nama pengguna").fill(name)
    session.page.get_by_label("Kata sandi").fill(otp)
    session.page.get_by_role("button", name="Masuk").click()
    session.page.get_by_role("heading", name="Ganti kata sandi").wait_for()
    session.page.get_by_label("Kata sandi lama").fill(otp)
    session.page.get_by_label("Kata sandi baru (minimal 12 karakter)").fill(new)
    session.page.get_by_label("Ulangi kata sandi baru").fill(new)
    session.page.get_by_role("button", name="Simpan kata sandi").click()


def send(session, url: str, day, data: bytes) -> None:
    session.goto(url + "/unggah")
    session.page.get_by_label("Tanggal log").select_option(day.isoformat())
    session.page.get_by_label("File log (CSV)").set_input_files(
        files=[{"name": "log.csv", "mimeType": "text/csv", "buffer": data}])
    session.page.get_by_role("button", name="Kirim dan periksa").click()
    session.page.locator("#hasil").wait_for()


@pytest.fixture
def site(tmp_path):
    land = Landing(tmp_path / "data")
    fb = land.data_dir / "feedback" / "16.09.01" / "2025-01-02.csv"
    fb.parent.mkdir(parents=True)
    fb.write_bytes(render([(3, "nik_invalid")]))
    otp = {"kantor": add_user(land.data_dir, "kantor", "--kantor"),
           "kec01": add_user(land.data_dir, "kec01", "--kecamatan", "16.09.01")}
    with portal_server(land.data_dir) as srv:
        yield srv, land, otp


def test_a_kecamatan_operator_logs_in_uploads_and_reads_what_to_fix_on_a_phone(site):
    require_chromium()
    srv, land, otp = site
    with open_page(name="portal-kecamatan", viewport=PHONE, block_external=True) as s:
        s.goto(srv.url + "/")
        s.page.get_by_role("heading", name="Masuk").wait_for()
        assert s.page.locator("html").get_attribute("lang") == "id"
        no_horizontal_scroll(s)
        first_login(s, srv.url, "kec01", otp["kec01"], "kec01-sandi-baru-2026")
        s.page.get_by_role("heading", name="Log 30 hari terakhir").wait_for()
        no_horizontal_scroll(s)

        send(s, srv.url, yesterday_wib(), good_log(yesterday_wib()))
        assert "diterima dan disimpan" in s.page.locator("#hasil").inner_text()
        send(s, srv.url, today_wib(), bad_log(today_wib()))
        problems = s.page.locator("ol.problems li").all_inner_texts()
        assert len(problems) == 2 and problems[0].startswith("Baris 3") and problems[1].startswith("Baris 5")
        assert "jenis_kelamin_invalid" in problems[1] and "kirim ulang" in problems[1].lower()
        no_horizontal_scroll(s)
        s.screenshot("portal-upload-390.png")

        s.goto(srv.url + "/kecamatan/16.09.01")
        rows = s.page.locator("table.days tbody tr")
        assert rows.count() == 31
        assert "waiting" in rows.nth(0).inner_text() and "waiting" in rows.nth(1).inner_text()
        assert "missing" in rows.nth(2).inner_text()
        s.page.get_by_role("link", name="2025-01-02").click()
        s.page.get_by_role("heading", name="Umpan balik log 2025-01-02").wait_for()
        assert "Baris 3" in s.page.locator("ol.problems").inner_text()
        no_horizontal_scroll(s)
        s.assert_clean(FAVICON_ABORTED)
        assert s.external_requests(("http://127.0.0.1", "data:", "about:")) == []
    assert (land.raw / "rekam" / yesterday_wib().isoformat() / "16.09.01.csv").read_bytes() == good_log(yesterday_wib())


def test_the_office_sees_every_kecamatan_and_registers_a_letter_on_a_phone(site):
    require_chromium()
    srv, land, otp = site
    desa = sorted(c for c in desa_codes() if c.startswith("16.09.03."))[0]
    with open_page(name="portal-kantor", viewport=PHONE, block_external=True) as s:
        first_login(s, srv.url, "kantor", otp["kantor"], "kantor-sandi-baru-2026")
        s.page.get_by_role("heading", name="Ringkasan semua kecamatan").wait_for()
        assert s.page.locator("li.kec").count() == 19
        no_horizontal_scroll(s)
        s.screenshot("portal-overview-390.png")

        s.page.get_by_role("link", name="Surat desa").click()
        s.page.get_by_label("Desa/kelurahan").select_option(desa)
        s.page.get_by_label("Tanggal surat").fill("2025-01-02")
        s.page.get_by_label("Nomor surat").fill("470/21/DS/2025")
        s.page.get_by_label("Perkiraan warga yang datang (boleh kosong)").fill("35")
        s.page.get_by_role("button", name="Daftarkan surat").click()
        s.page.get_by_text("Surat terdaftar").wait_for()
        no_horizontal_scroll(s)
        s.assert_clean(FAVICON_ABORTED)
    text = (land.raw / "permohonan" / f"{today_wib().isoformat()}.csv").read_text()
    assert f"{desa},2025-01-02,470/21/DS/2025,35" in text
