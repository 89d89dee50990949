"""The portal's routes: login, password change, pages, feedback files, upload, village letters.

Each handler gets the shared ``Portal`` from ``request.app.state.portal``. A page that needs a
session redirects to the login page without one; a POST without one is answered 403. An account
that must still change its one-time password sees only the password page.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from flows.dates import parse_iso_date
from flows.errors import UserError
from flows.portal import checks, status
from flows.portal.app import (
    COOKIE,
    PRE_COOKIE,
    UPLOAD_OVERHEAD,
    Portal,
    TooLarge,
    new_pre_token,
    read_limited_form,
    read_small_form,
)
from flows.reference.wilayah import desa_codes, kecamatan_codes

KANTOR_NO_UPLOAD = "Akses ditolak: log dikirim oleh akun kecamatan; akun kantor melihat semua kecamatan."
STATIC = Path(__file__).resolve().parent / "static"


def _p(request: Request) -> Portal:
    return request.app.state.portal


def _gate(request: Request, *, post: bool = False):
    """(portal, session, early response): no session -> login page (GET) or 403 (POST); an
    account with a one-time password -> the password page."""
    p = _p(request)
    s = p.session(request)
    if s is None:
        return p, None, (p.error(request, 403, "Sesi tidak berlaku; silakan masuk lagi.") if post
                         else RedirectResponse("/masuk", status_code=303))
    if s.user.must_change:
        return p, s, RedirectResponse("/sandi", status_code=303)
    return p, s, None


async def _small_form(request: Request):
    """The form of a POST without files, or the response refusing it (413 over 64 KiB, 400)."""
    p = _p(request)
    try:
        return await read_small_form(request)
    except TooLarge:
        p.audit.write("?", "too_large", p.address(request), form=request.url.path.strip("/")[:10])
        return p.error(request, 413, "Isian formulir terlalu besar.")
    except MultiPartException:
        return p.error(request, 400, "Isian formulir tidak terbaca.")


async def _session_form(request: Request, p: Portal, s, name: str):
    """The form of a logged-in POST without files with its CSRF token checked, or the response
    refusing it (413, 400, or 403 audited as ``csrf`` for the form ``name``)."""
    form = await _small_form(request)
    if isinstance(form, Response):
        return form
    if s is None or not p.csrf_ok(s, request, form.get("csrf")):
        return _csrf_refused(request, p, s, name)
    return form


def _csrf_refused(request: Request, p: Portal, s, name: str) -> Response:
    p.audit.write(s.user.name if s else "?", "csrf", p.address(request), form=name)
    return p.error(request, 403, "Formulir tidak sah (token CSRF).", s)


async def home(request: Request):
    p = _p(request)
    return RedirectResponse("/beranda" if p.session(request) else "/masuk", status_code=303)


async def static(request: Request):
    """The two static files (a fixed list: no path from the request reaches the filesystem)."""
    name = request.path_params["name"]
    types = {"portal.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}
    if name not in types:
        return await not_found(request)
    return Response((STATIC / name).read_bytes(), media_type=types[name], headers={"cache-control": "max-age=3600"})


async def login_page(request: Request, message: str = "", status_code: int = 200, name: str = ""):
    p = _p(request)
    token = request.cookies.get(PRE_COOKIE) or new_pre_token()
    resp = p.page(request, "masuk.html.j2", status_code, pesan=message, login_csrf=token, nama=name)
    resp.set_cookie(PRE_COOKIE, token, max_age=3600, path="/", httponly=True, samesite="Strict", secure=p.secure(request))
    return resp


async def login(request: Request):
    p = _p(request)
    form = await _small_form(request)
    if isinstance(form, Response):
        return form
    address = p.address(request)
    if not p.csrf_ok(None, request, form.get("csrf")):
        p.audit.write("?", "csrf", address, form="masuk")
        return p.error(request, 403, "Formulir kedaluwarsa atau tidak sah (token CSRF). Muat ulang halaman masuk.")
    name = str(form.get("pengguna", "")).strip().lower()[:64]
    password = str(form.get("sandi", ""))[:1024]
    known = p.store.user(name)
    who = name if known else "?"
    if p.store.locked(name, address):
        p.audit.write(who, "login_locked", address)
        return await login_page(request, "Terlalu banyak percobaan gagal. Coba lagi setelah 15 menit.", 429)
    user = await run_in_threadpool(p.store.login, name, password, address)
    if user is None:
        p.audit.write(who, "login_failed", address)
        return await login_page(request, "Nama pengguna atau kata sandi salah.", 401)
    p.audit.write(user.name, "login", address, role=user.role)
    resp = RedirectResponse("/sandi" if user.must_change else "/beranda", status_code=303)
    p.set_session_cookie(resp, request, p.store.new_session(user))
    resp.delete_cookie(PRE_COOKIE, path="/", secure=p.secure(request), httponly=True, samesite="Strict")
    return resp


async def logout(request: Request):
    p = _p(request)
    s = p.session(request)
    form = await _session_form(request, p, s, "keluar")
    if isinstance(form, Response):
        return form
    p.store.end_session(request.cookies.get(COOKIE))
    p.audit.write(s.user.name, "logout", p.address(request))
    resp = RedirectResponse("/masuk", status_code=303)
    resp.delete_cookie(COOKIE, path="/", secure=p.secure(request), httponly=True, samesite="Strict")
    return resp


async def password(request: Request):
    p = _p(request)
    s = p.session(request)
    if s is None:
        return RedirectResponse("/masuk", status_code=303) if request.method == "GET" else \
            p.error(request, 403, "Sesi tidak berlaku; silakan masuk lagi.")
    if request.method == "GET":
        return p.page(request, "sandi.html.j2", session=s, pesan="")
    form = await _session_form(request, p, s, "sandi")
    if isinstance(form, Response):
        return form
    old, new, again = (str(form.get(k, ""))[:1024] for k in ("sandi_lama", "sandi_baru", "sandi_ulang"))
    try:
        if new != again:
            raise UserError("Kata sandi baru dan ulangannya tidak sama.")
        await run_in_threadpool(p.store.change_password, s.user.name, old, new)
    except UserError as exc:
        return p.page(request, "sandi.html.j2", 400, session=s, pesan=str(exc))
    p.audit.write(s.user.name, "password_changed", p.address(request))
    p.store.end_session(request.cookies.get(COOKIE))
    user = p.store.user(s.user.name)
    resp = RedirectResponse("/beranda", status_code=303)
    p.set_session_cookie(resp, request, p.store.new_session(user))
    return resp


async def overview(request: Request):
    p, s, early = _gate(request)
    if early:
        return early
    if not s.user.kantor:
        return RedirectResponse(f"/kecamatan/{s.user.kecamatan}", status_code=303)
    views = await run_in_threadpool(status.overview, p.settings, p.today())
    kemarin = [v.days[1].status for v in views]      # the day the next nightly run covers
    counts = [(k, kemarin.count(k), status.LABELS[k]) for k in status.LABELS if kemarin.count(k)]
    return p.page(request, "beranda.html.j2", session=s, views=views, hari_ini=p.today(), kemarin=counts,
                  tanggal_kemarin=p.today() - timedelta(days=1))


async def kecamatan(request: Request):
    p, s, early = _gate(request)
    if early:
        return early
    kode = request.path_params["kode"]
    if not s.user.kantor and (kode != s.user.kecamatan or p.names_other(s, str(request.query_params))):
        return p.forbidden(request, s, "kecamatan_page")
    if kode not in kecamatan_codes(p.settings.wilayah):
        return p.error(request, 404, "Kecamatan tidak dikenal.", s)
    view = await run_in_threadpool(status.kecamatan_view, p.settings, kode, p.today())
    return p.page(request, "kecamatan.html.j2", session=s, v=view, hari_ini=p.today())


async def feedback(request: Request):
    p, s, early = _gate(request)
    if early:
        return early
    kode, berkas = request.path_params["kode"], request.path_params["berkas"]
    if not s.user.kantor and (kode != s.user.kecamatan or p.names_other(s, berkas, str(request.query_params))):
        return p.forbidden(request, s, "feedback")
    download = berkas.endswith(".csv")
    day = parse_iso_date(berkas[:-4] if download else berkas)
    data = status.feedback_file(p.settings, kode, day) if day is not None and kode in kecamatan_codes(p.settings.wilayah) else None
    if data is None:
        return p.error(request, 404, "Tidak ada umpan balik untuk tanggal itu.", s)
    if download:
        return Response(data, media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="umpan-balik-{kode}-{day.isoformat()}.csv"'})
    return p.page(request, "umpan_balik.html.j2", session=s, kode=kode, nama=status.kecamatan_names(p.settings.wilayah).get(kode, kode),
                  tanggal=day, baris=status.feedback_rows(data))


def _dates(p: Portal) -> list[date]:
    today = p.today()
    return [today - timedelta(days=i) for i in range(status.DAYS + 1)]


async def upload_page(request: Request):
    p, s, early = _gate(request)
    if early:
        return early
    if s.user.kantor:
        return p.forbidden(request, s, "upload_by_kantor", KANTOR_NO_UPLOAD)
    if p.names_other(s, str(request.query_params)):
        return p.forbidden(request, s, "upload_param")
    return p.page(request, "unggah.html.j2", session=s, tanggal_pilihan=_dates(p), hasil=None, pesan="")


async def upload(request: Request):
    p, s, early = _gate(request, post=True)
    if early:
        return early
    address = p.address(request)
    if s.user.kantor:
        return p.forbidden(request, s, "upload_by_kantor", KANTOR_NO_UPLOAD)
    if p.names_other(s, request.url.path, str(request.query_params)):
        return p.forbidden(request, s, "upload_param")
    limit = p.settings.max_file_bytes
    try:
        form = await read_limited_form(request, limit + UPLOAD_OVERHEAD)
    except TooLarge:
        p.audit.write(s.user.name, "too_large", address, limit_bytes=limit)
        return p.error(request, 413, f"File terlalu besar: batasnya {limit:,} byte.".replace(",", "."), s)
    except MultiPartException:
        return p.error(request, 400, "Unggahan tidak terbaca; pilih file lalu kirim lagi.", s)
    return await _upload_form(request, p, s, form, address, limit)


async def _upload_form(request: Request, p: Portal, s, form, address: str, limit: int):
    if not p.csrf_ok(s, request, form.get("csrf")):
        return _csrf_refused(request, p, s, "unggah")
    berkas = form.get("berkas")
    texts = [k for k in form.keys()] + [v for v in form.values() if isinstance(v, str)]
    texts += [berkas.filename or ""] if isinstance(berkas, UploadFile) else []
    if p.names_other(s, *texts):
        return p.forbidden(request, s, "upload_field")
    day = parse_iso_date(str(form.get("tanggal", "")))
    if day is None or day not in _dates(p):
        return p.page(request, "unggah.html.j2", 400, session=s, tanggal_pilihan=_dates(p), hasil=None,
                      pesan="Tanggal log harus hari ini atau salah satu dari 30 hari sebelumnya.")
    if not isinstance(berkas, UploadFile):
        return p.page(request, "unggah.html.j2", 400, session=s, tanggal_pilihan=_dates(p), hasil=None,
                      pesan="Pilih file log CSV.")
    data = await berkas.read(limit + 1)
    await form.close()
    if len(data) > limit:
        p.audit.write(s.user.name, "too_large", address, limit_bytes=limit)
        return p.error(request, 413, f"File terlalu besar: batasnya {limit:,} byte.".replace(",", "."), s)
    verdict = await run_in_threadpool(checks.check_upload, data, day, s.user.kecamatan, p.settings.wilayah)
    if verdict.accepted:
        await run_in_threadpool(checks.store_upload, p.settings.raw_dir, verdict, data)
    reasons = sorted({x.reason for x in verdict.problems})
    p.audit.write(s.user.name, "upload" if verdict.accepted else "upload_refused", address, file=verdict.landing_name,
                  sha256=verdict.sha256, bytes=len(data), rows_ok=verdict.rows_ok,
                  rows_quarantined=sum(1 for x in verdict.problems if x.line is not None), reasons=reasons)
    return p.page(request, "unggah.html.j2", 200 if verdict.accepted else 422, session=s,
                  tanggal_pilihan=_dates(p), hasil=verdict, tanggal=day, pesan="")


async def letters(request: Request):
    p, s, early = _gate(request, post=request.method == "POST")
    if early:
        return early
    if not s.user.kantor:
        return p.forbidden(request, s, "letter_by_kecamatan", "Akses ditolak: surat desa didaftarkan oleh kantor Disdukcapil.")
    ctx = dict(session=s, desa=status.desa_choices(p.settings.wilayah), hari_ini=p.today(), hasil=None, isian={})
    if request.method == "GET":
        return p.page(request, "surat.html.j2", **ctx)
    form = await _session_form(request, p, s, "surat")
    if isinstance(form, Response):
        return form
    isian = {k: str(form.get(k, "")).strip()[:200] for k in ("kode_desa", "tanggal_surat", "nomor_surat", "perkiraan_warga")}
    letter = checks.Letter(**isian)
    verdict = await run_in_threadpool(checks.register_letter, p.settings.raw_dir, p.today(), letter, p.settings.wilayah)
    p.audit.write(s.user.name, "letter" if verdict.accepted else "letter_refused", p.address(request),
                  file=verdict.landing_name, sha256=verdict.sha256,
                  kode_desa=letter.kode_desa if letter.kode_desa in desa_codes(p.settings.wilayah) else "?",
                  reasons=sorted({x.reason for x in verdict.problems}))
    # a refused field is not filled in again: what broke a rule may be a NIK typed in the wrong box
    wrong = {x.reason.rsplit("_", 1)[0] for x in verdict.problems}      # nomor_surat_invalid -> nomor_surat
    ctx.update(hasil=verdict, isian={} if verdict.accepted else {k: v for k, v in isian.items() if k not in wrong})
    return p.page(request, "surat.html.j2", 200 if verdict.accepted else 422, **ctx)


async def not_found(request: Request, exc=None):
    p = _p(request)
    return p.error(request, 404, "Halaman tidak ditemukan.", p.session(request))


def routes(portal: Portal) -> list[Route]:
    return [
        Route("/", home), Route("/static/{name}", static),
        Route("/masuk", login_page, methods=["GET"]), Route("/masuk", login, methods=["POST"]),
        Route("/keluar", logout, methods=["POST"]), Route("/sandi", password, methods=["GET", "POST"]),
        Route("/beranda", overview), Route("/kecamatan/{kode}", kecamatan),
        Route("/kecamatan/{kode}/umpan-balik/{berkas}", feedback),
        Route("/unggah", upload_page, methods=["GET"]), Route("/unggah", upload, methods=["POST"]),
        Route("/surat", letters, methods=["GET", "POST"]),
    ]
