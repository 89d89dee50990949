"""Issue 17: the kecamatan portal over HTTP, against a real `ektp portal` (uvicorn) subprocess.

Protocol tests with httpx: the cookie flags, CSRF, the lockout (per account and per address, and
a forwarded header counting only from a named trusted proxy), 413 for an oversized body, every
way to name another kecamatan, path traversal in dates and codes, the upload verdict through the
pipeline's own reader and suite, village letters, `ektp run` loading an upload, and a scan of the
pages, the audit log and the server's output for NIKs, names, birth dates, passwords and hashes.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import sys

import pytest

from flows.reference.wilayah import desa_codes
from tests.helpers import HEADER, Landing, row
from tests.portal_server import add_user, csrf_of, ektp, portal_server, today_wib, yesterday_wib

NIKS = ["1609014501010001", "1609015502020002", "1609010303990003", "1609014404040004"]
NAMES = ["Budi Santoso", "Siti Aminah", "Rahmat Hidayat", "Dewi Lestari"]
BIRTHS = ["2001-01-05", "2002-02-15", "1999-03-03", "2004-04-04"]
NEW_PASSWORD = {"kantor": "kantor-sandi-baru-2026", "kec01": "kec01-sandi-baru-2026", "kec02": "kec02-sandi-baru-2026"}


def log_bytes(day, rows: list[str]) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def good_log(day) -> bytes:
    d = day.isoformat()
    return log_bytes(day, [
        row(nik=NIKS[0], nama=NAMES[0], lahir=BIRTHS[0], waktu=f"{d} 08:00:00"),
        row(nik=NIKS[1], nama=NAMES[1], jk="P", lahir=BIRTHS[1], waktu=f"{d} 09:00:00"),
    ])


def bad_log(day) -> bytes:
    """Four rows; lines 3 and 5 break a rule (a NIK of 3 digits, a sex that is neither L nor P)."""
    d = day.isoformat()
    return log_bytes(day, [
        row(nik=NIKS[0], nama=NAMES[0], lahir=BIRTHS[0], waktu=f"{d} 08:00:00"),
        row(nik="123", nama=NAMES[2], lahir=BIRTHS[2], waktu=f"{d} 08:30:00"),
        row(nik=NIKS[1], nama=NAMES[1], jk="P", lahir=BIRTHS[1], waktu=f"{d} 09:00:00"),
        row(nik=NIKS[3], nama=NAMES[3], jk="X", lahir=BIRTHS[3], waktu=f"{d} 10:00:00"),
    ])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A data directory with a snapshot, a kantor user and two kecamatan users (passwords changed),
    a feedback file of each kecamatan, and a running portal."""
    tmp = tmp_path_factory.mktemp("portal")
    land = Landing(tmp / "data")
    land.snapshot("2024-12-31")
    otp = {"kantor": add_user(land.data_dir, "kantor", "--kantor"),
           "kec01": add_user(land.data_dir, "kec01", "--kecamatan", "16.09.01"),
           "kec02": add_user(land.data_dir, "kec02", "--kecamatan", "16.09.02")}
    for kode in ("16.09.01", "16.09.02"):
        fb = land.data_dir / "feedback" / kode / "2025-01-02.csv"
        fb.parent.mkdir(parents=True)
        fb.write_bytes("\ufeffbaris;alasan;penjelasan\r\n3;nik_invalid;NIK harus 16 angka.\r\n".encode())
    with portal_server(land.data_dir, EKTP_MAX_FILE_MB="0.01") as srv:
        for name, first in otp.items():
            with srv.client() as c:
                srv.login_changed(c, name, first, NEW_PASSWORD[name])
        srv.otp = otp
        srv.land = land
        yield srv


def client_of(site, name: str):
    c = site.client()
    r = site.login(c, name, NEW_PASSWORD[name])
    assert r.status_code == 303, r.text[:300]
    return c


def upload(site, c, day, data: bytes, filename="log.csv", extra: dict | None = None, params=None):
    token = csrf_of(c.get("/unggah").text)
    return c.post("/unggah", params=params, data={"csrf": token, "tanggal": day.isoformat(), **(extra or {})},
                  files={"berkas": (filename, data, "text/csv")})


# --- accounts, sessions, cookies -----------------------------------------------------------------

def test_user_add_prints_a_one_time_password_and_stores_only_a_scrypt_hash_mode_600(site):
    store = site.data_dir / "portal" / "portal.sqlite3"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    blob = store.read_bytes()
    for name, otp in site.otp.items():
        assert otp.encode() not in blob and NEW_PASSWORD[name].encode() not in blob
    assert b"scrypt$" in blob
    listed = ektp("portal", "user", "list", data_dir=site.data_dir)
    assert "kec01\tkecamatan 16.09.01\tactive" in listed.stdout


def test_first_login_must_change_the_one_time_password(site):
    otp = add_user(site.data_dir, "baru01", "--kecamatan", "16.09.01")
    with site.client() as c:
        r = site.login(c, "baru01", otp)
        assert r.status_code == 303 and r.headers["location"] == "/sandi"
        for path in ("/beranda", "/kecamatan/16.09.01", "/unggah"):
            assert c.get(path).headers.get("location") == "/sandi"


def test_session_cookie_is_httponly_samesite_strict_and_not_secure_over_plain_http(site):
    with site.client() as c:
        r = site.login(c, "kec01", NEW_PASSWORD["kec01"])
        cookies = r.headers.get_list("set-cookie")
        assert all("HttpOnly" in x and "SameSite=Strict" in x for x in cookies), cookies   # the pre-login one too
        cookie = next(x for x in cookies if x.startswith("ektp_sesi="))
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Max-Age=28800" in cookie
        assert "Secure" not in cookie


def test_logout_ends_the_session_on_the_server(site):
    c = client_of(site, "kec01")
    token = c.cookies.get("ektp_sesi")
    page = c.get("/kecamatan/16.09.01")
    r = c.post("/keluar", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    c.cookies.set("ektp_sesi", token)
    assert c.get("/kecamatan/16.09.01").headers.get("location") == "/masuk"


# --- CSRF -----------------------------------------------------------------------------------------

def test_every_form_refuses_a_request_without_a_valid_csrf_token(site):
    with site.client() as c:
        c.get("/masuk")
        assert c.post("/masuk", data={"pengguna": "kec01", "sandi": NEW_PASSWORD["kec01"]}).status_code == 403
        assert c.post("/masuk", data={"csrf": "x" * 43, "pengguna": "kec01", "sandi": NEW_PASSWORD["kec01"]}).status_code == 403
    c = client_of(site, "kec01")
    day = yesterday_wib()
    r = c.post("/unggah", data={"csrf": "forged", "tanggal": day.isoformat()}, files={"berkas": ("a.csv", good_log(day))})
    assert r.status_code == 403
    assert not (site.land.raw / "rekam" / day.isoformat() / "16.09.01.csv").exists()
    assert c.post("/keluar", data={}).status_code == 403
    k = client_of(site, "kantor")
    r = k.post("/surat", data={"kode_desa": "16.09.01.2001", "tanggal_surat": "2025-01-01", "nomor_surat": "X/1"})
    assert r.status_code == 403
    assert not (site.land.raw / "permohonan" / f"{today_wib().isoformat()}.csv").exists()


def test_csp_allows_only_the_own_origin_and_pages_are_indonesian(site):
    with site.client() as c:
        r = c.get("/masuk")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "http" not in csp and "*" not in csp and "unsafe" not in csp
    assert '<html lang="id">' in r.text and "<script" not in r.text and "style=" not in r.text
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"


# --- naming another kecamatan, path traversal ----------------------------------------------------

def _forbidden_count(site) -> int:
    lines = (site.data_dir / "portal" / "audit.jsonl").read_text().splitlines()
    return sum(1 for x in lines if json.loads(x)["action"] == "forbidden")


@pytest.mark.parametrize("how", ["page", "feedback_view", "feedback_csv", "encoded_path", "double_encoded_path",
                                 "query_parameter", "form_field", "file_name", "form_field_name"])
def test_a_kecamatan_operator_naming_another_kecamatan_is_refused_403_and_audited(site, how):
    c = client_of(site, "kec01")
    day = yesterday_wib()
    before = _forbidden_count(site)
    if how == "page":
        r = c.get("/kecamatan/16.09.02")
    elif how == "feedback_view":
        r = c.get("/kecamatan/16.09.02/umpan-balik/2025-01-02")
    elif how == "feedback_csv":
        r = c.get("/kecamatan/16.09.02/umpan-balik/2025-01-02.csv")
    elif how == "encoded_path":
        r = c.get("/kecamatan/16.09.01/umpan-balik/..%2F..%2F16.09.02%2F2025-01-02.csv")
    elif how == "double_encoded_path":
        r = c.get("/kecamatan/16.09.01/umpan-balik/..%252F16.09.02%252F2025-01-02.csv")
    elif how == "query_parameter":
        r = upload(site, c, day, good_log(day), params={"kecamatan": "16.09.02"})
    elif how == "form_field":
        r = upload(site, c, day, good_log(day), extra={"kode_kecamatan": "16.09.02"})
    elif how == "file_name":
        r = upload(site, c, day, good_log(day), filename="16.09.02.csv")
    else:
        r = upload(site, c, day, good_log(day), extra={"16.09.02": "1"})
    assert r.status_code == 403, (how, r.status_code)
    assert "2025-01-02" not in r.text or how not in ("feedback_view",)
    assert "nik_invalid" not in r.text
    assert _forbidden_count(site) == before + 1
    assert not (site.land.raw / "rekam" / day.isoformat() / "16.09.02.csv").exists()


def test_a_file_name_with_a_date_or_the_own_code_is_no_other_kecamatan(site):
    c = client_of(site, "kec01")
    day = today_wib() - __import__("datetime").timedelta(days=3)
    for name in ("rekam 05.12.26.csv", "16.09.01.csv"):
        r = upload(site, c, day, good_log(day), filename=name, extra={"kecamatan": "16.09.01"})
        assert r.status_code == 200, name


def test_the_kantor_cannot_upload_and_a_kecamatan_cannot_register_letters(site):
    k = client_of(site, "kantor")
    assert k.get("/unggah").status_code == 403
    c = client_of(site, "kec01")
    assert c.get("/surat").status_code == 403


@pytest.mark.parametrize("tanggal", ["../../../etc/passwd", "2025-01-02/../../x", "..", "2025-02-30",
                                     "2011-01-01", "9999-12-31", ""])
def test_an_upload_date_outside_the_30_days_or_not_a_date_is_refused_and_nothing_is_written(site, tanggal):
    c = client_of(site, "kec01")
    token = csrf_of(c.get("/unggah").text)
    before = sorted(p for p in site.data_dir.rglob("*") if p.is_file() and "portal" not in p.parts)
    r = c.post("/unggah", data={"csrf": token, "tanggal": tanggal}, files={"berkas": ("a.csv", good_log(yesterday_wib()))})
    assert r.status_code == 400
    after = sorted(p for p in site.data_dir.rglob("*") if p.is_file() and "portal" not in p.parts)
    assert after == before


@pytest.mark.parametrize("path", ["/kecamatan/..%2F..%2Fportal", "/kecamatan/16.09.01/umpan-balik/..%2F..%2Fportal%2Fportal.sqlite3",
                                  "/kecamatan/16.09.01/umpan-balik/2025-01-02%2F..%2F..%2F..%2Fportal%2Faudit.jsonl",
                                  "/kecamatan/16.09.01/umpan-balik/%2E%2E%2F%2E%2E%2Fportal", "/kecamatan/16.09.99/umpan-balik/2025-01-02.csv",
                                  "/static/..%2Fapp.py", "/static/../accounts.py"])
def test_path_traversal_in_codes_and_dates_serves_nothing(site, path):
    k = client_of(site, "kantor")
    r = k.get(path)
    assert r.status_code in (403, 404)
    assert b"scrypt" not in r.content and b"SQLite" not in r.content and b"import" not in r.content


def test_feedback_files_open_and_download_for_the_own_kecamatan(site):
    c = client_of(site, "kec01")
    page = c.get("/kecamatan/16.09.01/umpan-balik/2025-01-02")
    assert page.status_code == 200 and "Baris 3" in page.text and "nik_invalid" in page.text
    csv = c.get("/kecamatan/16.09.01/umpan-balik/2025-01-02.csv")
    assert csv.status_code == 200 and csv.content.startswith("\ufeffbaris;alasan".encode())
    assert "attachment" in csv.headers["content-disposition"]


# --- size limit -----------------------------------------------------------------------------------

def test_a_body_over_the_file_size_limit_is_refused_413_before_it_is_stored(site):
    c = client_of(site, "kec01")
    day = today_wib()
    limit = int(0.01 * 1024 * 1024)
    big = good_log(day) + b"#" * (limit + 1)
    r = upload(site, c, day, big)
    assert r.status_code == 413
    # a declared length over the limit is answered before the body is read (raw socket: a client
    # library would refuse to send less than it declares)
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(site.url)
    with socket.create_connection((u.hostname, u.port), timeout=30) as sock:
        sock.sendall((f"POST /unggah HTTP/1.1\r\nHost: {u.netloc}\r\nCookie: ektp_sesi={c.cookies.get('ektp_sesi')}\r\n"
                      f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {limit * 4}\r\n\r\n").encode()
                     + b"--b\r\n")
        head = sock.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.1 413"), head[:200]
    assert not (site.land.raw / "rekam" / day.isoformat()).exists()
    actions = [json.loads(x)["action"] for x in (site.data_dir / "portal" / "audit.jsonl").read_text().splitlines()]
    assert actions.count("too_large") >= 2


def test_a_form_without_files_over_64_kib_is_refused_413_even_before_login(site):
    with site.client() as c:
        token = csrf_of(c.get("/masuk").text)
        r = c.post("/masuk", data={"csrf": token, "pengguna": "kec01", "sandi": "x" * 70_000})
        assert r.status_code == 413
        r = c.post("/masuk", data={"csrf": token, "pengguna": "kec01", "sandi": NEW_PASSWORD["kec01"]})
        assert r.status_code == 303


# --- upload verdicts ------------------------------------------------------------------------------

def test_a_good_log_is_written_atomically_to_its_landing_name(site):
    c = client_of(site, "kec02")
    day = yesterday_wib()
    data = good_log(day).replace(b"16.09.01.1013", sorted(c for c in desa_codes() if c.startswith("16.09.02."))[0].encode())
    r = upload(site, c, day, data)
    assert r.status_code == 200, r.text[:1000]
    assert "diterima" in r.text
    path = site.land.raw / "rekam" / day.isoformat() / "16.09.02.csv"
    assert path.read_bytes() == data
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    audit = [json.loads(x) for x in (site.data_dir / "portal" / "audit.jsonl").read_text().splitlines()]
    up = [a for a in audit if a["action"] == "upload" and a["who"] == "kec02"][-1]
    assert up["file"] == f"rekam/{day.isoformat()}/16.09.02.csv" and up["sha256"] == hashlib.sha256(data).hexdigest()
    assert "waiting" in c.get("/kecamatan/16.09.02").text


def test_a_log_with_two_bad_lines_shows_their_numbers_reasons_and_sentences_but_no_value(site):
    c = client_of(site, "kec01")
    day = today_wib()
    r = upload(site, c, day, bad_log(day))
    assert r.status_code == 200
    lines = re.findall(r'data-line="(\d+)" data-reason="([a-z0-9_]+)"', r.text)
    assert [ln for ln, _ in lines] == ["3", "5"]
    assert lines[1][1] == "jenis_kelamin_invalid"
    assert "Baris 3" in r.text and "Baris 5" in r.text
    for value in [*NIKS, "123", *NAMES, *BIRTHS]:
        assert value not in r.text.replace(day.isoformat(), "")
    assert (site.land.raw / "rekam" / day.isoformat() / "16.09.01.csv").read_bytes() == bad_log(day)


def test_a_log_rejected_whole_is_not_written(site):
    c = client_of(site, "kec01")
    day = today_wib() - __import__("datetime").timedelta(days=2)
    r = upload(site, c, day, b"nik,nama\n1609014501010001,Budi Santoso\n")
    assert r.status_code == 422 and "missing_columns" in r.text and "ditolak seluruhnya" in r.text
    assert not (site.land.raw / "rekam" / day.isoformat() / "16.09.01.csv").exists()


# --- village letters ------------------------------------------------------------------------------

def test_a_valid_letter_is_appended_and_a_bad_one_is_refused(site):
    k = client_of(site, "kantor")
    path = site.land.raw / "permohonan" / f"{today_wib().isoformat()}.csv"
    token = csrf_of(k.get("/surat").text)
    desa1, desa2 = (sorted(c for c in desa_codes() if c.startswith(k))[0] for k in ("16.09.01.", "16.09.02."))
    ok = {"csrf": token, "kode_desa": desa1, "tanggal_surat": "2025-01-02", "nomor_surat": "470/12/DS/2025",
          "perkiraan_warga": "40"}
    assert k.post("/surat", data=ok).status_code == 200
    assert k.post("/surat", data={**ok, "kode_desa": desa2, "nomor_surat": "470/13/DS/2025",
                                  "perkiraan_warga": ""}).status_code == 200
    text = path.read_text()
    assert text.splitlines() == ["kode_desa,tanggal_surat,nomor_surat,perkiraan_warga",
                                 f"{desa1},2025-01-02,470/12/DS/2025,40", f"{desa2},2025-01-02,470/13/DS/2025,"]
    for bad, reason in ((dict(nomor_surat="470 12 DS"), "nomor_surat_invalid"),
                        (dict(nomor_surat="1609015205900001"), "nomor_surat_invalid"),   # a NIK is no letter number
                        (dict(nomor_surat="470/12/DS/2025"), "duplicate_row"),
                        (dict(perkiraan_warga="1.500", nomor_surat="X/9"), "perkiraan_warga_invalid"),
                        (dict(kode_desa="16.09.99.9999", nomor_surat="X/10"), "kode_desa_unknown"),
                        (dict(tanggal_surat="2999-01-01", nomor_surat="X/11"), "tanggal_surat_invalid")):
        r = k.post("/surat", data={**ok, **bad})
        assert r.status_code == 422 and reason in r.text, (bad, r.text[:2000])
        assert "1609015205900001" not in r.text          # the refused value is not echoed back
    # the refusal is explained in Indonesian, from the suite's meta.penjelasan
    assert "Nomor surat harus 1-64 huruf" in k.post("/surat", data={**ok, "nomor_surat": "470 12 DS"}).text
    assert path.read_text() == text


# --- lockout --------------------------------------------------------------------------------------

def test_five_failures_from_one_address_lock_it_429_even_with_forged_forwarded_headers(tmp_path):
    land = Landing(tmp_path / "data")
    otp = add_user(land.data_dir, "kec01", "--kecamatan", "16.09.01")
    with portal_server(land.data_dir) as srv, srv.client() as c:
        for i in range(5):
            r = srv.login(c, f"nobody{i}", "wrong", headers={"x-forwarded-for": f"10.0.0.{i}"})
            assert r.status_code == 401
        r = srv.login(c, "kec01", otp, headers={"x-forwarded-for": "10.9.9.9"})
        assert r.status_code == 429
        assert "ektp_sesi" not in r.headers.get("set-cookie", "")


def test_five_failures_for_one_account_lock_it_429_from_any_address_behind_a_trusted_proxy(tmp_path):
    land = Landing(tmp_path / "data")
    otp = add_user(land.data_dir, "kec01", "--kecamatan", "16.09.01")
    other = add_user(land.data_dir, "kec02", "--kecamatan", "16.09.02")
    with portal_server(land.data_dir, "--trusted-proxy", "127.0.0.1") as srv, srv.client() as c:
        for i in range(5):
            assert srv.login(c, "kec01", f"wrong{i}", headers={"x-forwarded-for": f"10.0.1.{i}"}).status_code == 401
        assert srv.login(c, "kec01", otp, headers={"x-forwarded-for": "10.0.2.1"}).status_code == 429
        # the address lock follows the forwarded address: five failures from 10.0.3.1 lock it, not 10.0.3.2
        for i in range(5):
            assert srv.login(c, f"nobody{i}", "x", headers={"x-forwarded-for": "10.0.3.1"}).status_code == 401
        assert srv.login(c, "kec02", other, headers={"x-forwarded-for": "10.0.3.1"}).status_code == 429
        token = csrf_of(c.get("/masuk", headers={"x-forwarded-for": "10.0.3.2"}).text)
        r = c.post("/masuk", data={"csrf": token, "pengguna": "kec02", "sandi": other},
                   headers={"x-forwarded-for": "10.0.3.2", "x-forwarded-proto": "https"})
        assert r.status_code == 303
        assert "Secure" in r.headers["set-cookie"]
        audit = (land.data_dir / "portal" / "audit.jsonl").read_text()
        assert '"login_locked"' in audit and "10.0.3.1" in audit


# --- the loop closes: a run loads the upload --------------------------------------------------------

@pytest.mark.slow
def test_after_an_upload_ektp_run_loads_it_and_the_page_shows_it_loaded(site, tmp_path):
    c = client_of(site, "kec01")
    day = yesterday_wib()
    assert upload(site, c, day, bad_log(day)).status_code == 200
    page = c.get("/kecamatan/16.09.01").text
    assert re.search(rf'data-tanggal="{day.isoformat()}">\s*<td>[^<]*</td>\s*<td><span class="status s-waiting"', page)
    out = ektp("run", "--date", day.isoformat(), data_dir=site.data_dir, PREFECT_HOME=str(tmp_path / "prefect"))
    assert out.returncode == 0, out.stderr[-2000:]
    page = c.get("/kecamatan/16.09.01").text
    assert re.search(rf'data-tanggal="{day.isoformat()}">\s*<td>[^<]*</td>\s*<td><span class="status s-loaded"', page)
    fb = c.get(f"/kecamatan/16.09.01/umpan-balik/{day.isoformat()}")
    assert fb.status_code == 200 and "Baris 3" in fb.text and "Baris 5" in fb.text
    k = client_of(site, "kantor")
    assert 'class="dot s-loaded"' in k.get("/beranda").text


# --- nothing personal anywhere ----------------------------------------------------------------------

def test_pages_audit_log_and_server_output_hold_no_nik_name_birth_date_password_or_hash(site):
    k = client_of(site, "kantor")
    c = client_of(site, "kec01")
    day = today_wib()
    pages = [upload(site, c, day, bad_log(day)).text, c.get("/kecamatan/16.09.01").text, k.get("/beranda").text,
             k.get("/kecamatan/16.09.01").text, k.get("/surat").text, c.get("/unggah").text,
             c.get("/kecamatan/16.09.01/umpan-balik/2025-01-02").text]
    audit = (site.data_dir / "portal" / "audit.jsonl").read_text()
    hashes = re.findall(rb"scrypt\$[^\x00']+", (site.data_dir / "portal" / "portal.sqlite3").read_bytes())
    assert hashes
    for where, text in [*(("page", p) for p in pages), ("audit", audit), ("server output", site.output())]:
        text = text.replace(day.isoformat(), "")
        assert not re.search(r"(?<![0-9])[0-9]{16}(?![0-9])", text), where
        for secret in [*NAMES, *BIRTHS, *site.otp.values(), *NEW_PASSWORD.values()]:
            assert secret not in text, (where, secret)
        for h in hashes:
            assert h.decode("ascii", "replace")[:40] not in text, where
    assert "login" in audit and "upload" in audit


def test_the_portal_package_never_imports_prefect_or_opens_the_writer_warehouse():
    import subprocess

    code = ("import sys, flows.portal.app, flows.portal.routes, flows.portal.admin; "
            "bad = sorted(m for m in sys.modules if m == 'prefect' or m.startswith(('prefect.', 'flows.orchestration.pipeline', "
            "'flows.orchestration.deploy', 'flows.orchestration.parallel'))); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    from pathlib import Path

    src = "".join(p.read_text() for p in (Path(__file__).parent.parent / "flows" / "portal").glob("*.py"))
    assert "warehouse_path" not in src and "ektp.duckdb" not in src


def test_a_session_ends_after_8_hours_and_disable_or_reset_ends_every_session(site):
    import sqlite3

    c = client_of(site, "kec02")
    assert c.get("/kecamatan/16.09.02").status_code == 200
    con = sqlite3.connect(site.data_dir / "portal" / "portal.sqlite3")
    assert {round(e - c) for c, e in con.execute("select created_at, expires_at from sessions")} == {8 * 3600}
    with con:   # as if every session had started 8 hours and one second ago
        con.execute("update sessions set created_at = created_at - 28801, expires_at = expires_at - 28801")
    con.close()
    assert c.get("/kecamatan/16.09.02").headers.get("location") == "/masuk"
    c = client_of(site, "kec02")
    assert ektp("portal", "user", "disable", "kec02", data_dir=site.data_dir).returncode == 0
    assert c.get("/kecamatan/16.09.02").headers.get("location") == "/masuk"
    with site.client() as d:
        assert site.login(d, "kec02", NEW_PASSWORD["kec02"]).status_code == 401
    out = ektp("portal", "user", "reset", "kec02", data_dir=site.data_dir)
    otp = out.stdout.strip().rsplit(" ", 1)[-1]
    with site.client() as d:
        site.login_changed(d, "kec02", otp, NEW_PASSWORD["kec02"] + "x")
    NEW_PASSWORD["kec02"] += "x"     # later tests log in with the new one


def test_the_upload_verdict_is_the_runs_verdict_for_every_log_fixture(key):
    """check_log (the portal, no key) and prepare_logs (a run) on the same bytes: same status,
    same error code, same loaded count, same quarantined lines and reasons."""
    import hashlib as _h
    from datetime import date
    from pathlib import Path

    from flows.ingest.discover import Candidate
    from flows.ingest.load import RawFile, prepare_logs

    fixtures = sorted((Path(__file__).parent / "fixtures" / "rekam").glob("*.csv"))
    assert len(fixtures) > 30
    raws = []
    for i, path in enumerate(fixtures):   # the fixtures' log date; one kecamatan each within a run batch of 19
        data = path.read_bytes()
        day, kode = date(2025, 1, 2), f"16.09.{1 + i % 19:02d}"
        rel = f"rekam/{day.isoformat()}/{kode}.csv"
        raws.append(RawFile(Candidate(rel, rel, "rekam", day, kode, len(data), 0, sha256=_h.sha256(data).hexdigest()), data))
    seen = []
    for start in range(0, len(raws), 19):
        seen += _same_verdicts(fixtures[start:start + 19], raws[start:start + 19], prepare_logs(raws[start:start + 19], key))
    assert {"loaded", "rejected"} <= {status for status, _ in seen} and sum(n for _, n in seen) >= 20


def _same_verdicts(fixtures, raws, run) -> list[tuple[str, int]]:
    from flows.ingest.load import check_log

    outcomes = {f.source_file: f for f in run.files}
    out = []
    for path, raw in zip(fixtures, raws):
        c = raw.cand
        portal = check_log(raw.data, c.log_date, c.kode_kecamatan)
        a, b = outcomes[c.source_file], portal.files[0]
        assert (a.status, (a.error or "").split(":")[0], a.rows_loaded, a.rows_quarantined) == \
               (b.status, (b.error or "").split(":")[0], b.rows_loaded, b.rows_quarantined), path.name
        mine = run.quarantine.filter(run.quarantine["source_file"] == c.source_file)
        assert mine.select("line_number", "reason").rows() == portal.quarantine.select("line_number", "reason").rows(), path.name
        assert portal.rows is None
        out.append((b.status, portal.quarantine.height if portal.quarantine is not None else 0))
    return out


# --- the area (contract section 10): the portal serves the kecamatan of EKTP_WILAYAH ----------------

def test_the_portal_follows_the_area_accounts_pages_and_letters_of_a_second_kab_kota(tmp_path):
    land = Landing(tmp_path / "data")
    refused = ektp("portal", "user", "add", "kec1001", "--kecamatan", "16.10.01", data_dir=land.data_dir)
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    area = {"EKTP_WILAYAH": "16.09,16.10"}
    out = ektp("portal", "user", "add", "kec1001", "--kecamatan", "16.10.01", data_dir=land.data_dir, **area)
    assert out.returncode == 0, out.stderr
    otp = out.stdout.strip().rsplit(" ", 1)[-1]
    kantor = ektp("portal", "user", "add", "kantor", "--kantor", data_dir=land.data_dir, **area).stdout.strip().rsplit(" ", 1)[-1]
    desa = sorted(c for c in desa_codes(("16.10",)))[0]
    with portal_server(land.data_dir, **area) as srv:
        with srv.client() as c:
            srv.login_changed(c, "kec1001", otp, "sandi-baru-yang-panjang-1")
            home = c.get("/beranda", follow_redirects=True).text
            assert "16.10.01" in home and "Kabupaten Ogan Komering Ulu Selatan, Kabupaten Ogan Ilir" in home
            assert c.get("/kecamatan/16.09.01").status_code == 403          # another kecamatan, even of the first kab/kota
        with srv.client() as k:
            srv.login_changed(k, "kantor", kantor, "sandi-baru-yang-panjang-2")
            page = k.get("/surat").text
            assert desa in page and "16.09.01.1013" in page                 # the desa list holds both kab/kota
            token = csrf_of(page)
            r = k.post("/surat", data={"csrf": token, "kode_desa": desa, "tanggal_surat": "2025-01-02",
                                       "nomor_surat": "470/1/DS/2025", "perkiraan_warga": "10"})
            assert r.status_code == 200, r.text[:1000]
    written = (land.raw / "permohonan" / f"{today_wib().isoformat()}.csv").read_text()
    assert desa in written
