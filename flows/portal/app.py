"""The portal's web application (Starlette; served by uvicorn, see ``flows.portal.admin``).

In: settings and the trusted proxy (None: the connecting peer is the address). Out: an ASGI app.
Every response carries a Content Security Policy that allows only the portal's own origin, and
no page holds a script or an inline style. Every form carries a CSRF token (the session's; before
login, a random token in a cookie of its own, double-submitted): a request without a valid one
is answered 403. The kecamatan of a request is the session's: a kecamatan operator who names
another kecamatan by path, parameter, form field or file name is answered 403, audited. An
upload whose body is over the pipeline's file-size limit is answered 413 while it streams,
before anything is stored.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import unquote_plus

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import FormData, Headers
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from flows.outputs.report.format import fmt_date, fmt_dec, fmt_int, fmt_pct
from flows.outputs.report.render import escape_value
from flows.portal.accounts import SESSION_SECONDS, Session, Store
from flows.portal.audit import Audit
from flows.reference.wilayah import area_name, kecamatan_codes
from flows.settings import Settings

COOKIE = "ektp_sesi"
PRE_COOKIE = "ektp_pra"
CSP = ("default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
           "x-frame-options": "DENY", "cache-control": "no-store", "cross-origin-opener-policy": "same-origin"}
KODE_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{2}\.[0-9]{2}\.[0-9]{2}(?![0-9])")   # a kecamatan code (or a desa code's start)
UPLOAD_OVERHEAD = 16 * 1024        # multipart boundaries, headers and the small fields


@lru_cache(maxsize=1)
def templates() -> jinja2.Environment:
    """Autoescape on for every template; every value through the report's ``escape_value``."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("flows.portal", "templates"), autoescape=True,
                             finalize=escape_value, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(angka=fmt_int, persen=fmt_pct, tgl=fmt_date, desimal=fmt_dec)
    return env


class TooLarge(Exception):
    pass


class Portal:
    """The routes' shared state: settings, the account store, the audit log, the trusted proxy."""

    def __init__(self, settings: Settings, trusted_proxy: str | None = None):
        self.settings = settings
        self.store = Store(settings.data_dir / "portal")
        self.audit = Audit(settings.data_dir / "portal")
        self.trusted_proxy = trusted_proxy

    # --- request facts ---------------------------------------------------------------------------

    def address(self, request: Request) -> str:
        """The connecting peer; behind the named trusted proxy, the last X-Forwarded-For entry."""
        peer = request.client.host if request.client else "?"
        if self.trusted_proxy and peer == self.trusted_proxy:
            forwarded = request.headers.get("x-forwarded-for", "").split(",")[-1].strip()
            if re.fullmatch(r"[0-9a-fA-F:.]{2,45}", forwarded):
                return forwarded
        return peer

    def secure(self, request: Request) -> bool:
        """Behind TLS: an https request, or the trusted proxy saying X-Forwarded-Proto https."""
        if request.url.scheme == "https":
            return True
        peer = request.client.host if request.client else None
        return bool(self.trusted_proxy and peer == self.trusted_proxy
                    and request.headers.get("x-forwarded-proto", "").lower() == "https")

    def session(self, request: Request) -> Session | None:
        return self.store.session(request.cookies.get(COOKIE))

    def today(self) -> date:
        return datetime.now(self.settings.tz).date()

    # --- responses -------------------------------------------------------------------------------

    def page(self, request: Request, name: str, status_code: int = 200, session: Session | None = None,
             **context) -> HTMLResponse:
        html = templates().get_template(name).render(session=session, user=session.user if session else None,
                                                     csrf=session.csrf if session else "",
                                                     wilayah=area_name(self.settings.wilayah), **context)
        return HTMLResponse(html, status_code=status_code)

    def error(self, request: Request, status_code: int, message: str, session: Session | None = None) -> HTMLResponse:
        return self.page(request, "galat.html.j2", status_code, session, kode=status_code, pesan=message)

    def forbidden(self, request: Request, session: Session | None, what: str,
                  message: str = "Akses ditolak: akun ini hanya untuk kecamatannya sendiri.") -> HTMLResponse:
        """403 for a request naming another kecamatan (or outside the account's role), audited."""
        who = session.user.name if session else "?"
        self.audit.write(who, "forbidden", self.address(request), what=what)
        return self.error(request, 403, message, session)

    def names_other(self, session: Session, *texts: str) -> bool:
        """Whether any text names a kecamatan of the area other than the operator's own (kantor:
        never). A date written 05.12.26 in a file name is no kecamatan code."""
        user = session.user
        if user.kantor:
            return False
        others = kecamatan_codes(self.settings.wilayah) - {user.kecamatan}
        return any(m.group(0) in others for text in texts for m in KODE_IN_TEXT.finditer(text or ""))

    def set_session_cookie(self, response: Response, request: Request, token: str) -> None:
        response.set_cookie(COOKIE, token, max_age=SESSION_SECONDS, path="/", httponly=True, samesite="Strict",
                            secure=self.secure(request))

    def csrf_ok(self, session: Session | None, request: Request, given: object) -> bool:
        expected = session.csrf if session else request.cookies.get(PRE_COOKIE, "")
        return isinstance(given, str) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def security_headers(app):
    """ASGI middleware: the CSP and the other fixed headers on every response."""
    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return await app(scope, receive, send_with_headers)
    return wrapped


def _counted(request: Request, limit: int):
    """The request body as it streams, TooLarge past ``limit`` bytes (a declared Content-Length
    over it is refused before a byte is read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge()

    async def counted():
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                raise TooLarge()
            yield chunk
    return counted()


async def read_limited_form(request: Request, limit: int):
    """The multipart form of an upload, counted while it streams (TooLarge past ``limit``). The
    file part stays in memory (never spooled to a temporary file: it holds NIKs)."""
    stream = _counted(request, limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise MultiPartException("not multipart")
    parser = MultiPartParser(Headers(scope=request.scope), stream, max_files=1, max_fields=8)
    parser.spool_max_size = limit + 1
    return await parser.parse()


SMALL_FORM = 64 * 1024


async def read_small_form(request: Request):
    """A form without files (login, password, logout, letter), at most 64 KiB: TooLarge past it,
    MultiPartException for a multipart body that does not parse; any other body is an empty form
    (its CSRF check then fails)."""
    stream = _counted(request, SMALL_FORM)
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        return await MultiPartParser(Headers(scope=request.scope), stream, max_files=0, max_fields=12).parse()
    if kind.startswith("application/x-www-form-urlencoded"):
        return await FormParser(Headers(scope=request.scope), stream, max_fields=12).parse()
    async for _ in stream:      # read (and count) what was sent, keep nothing
        pass
    return FormData()


def kecamatan_guard(app, portal: Portal):
    """ASGI middleware: a kecamatan operator's request whose path or query names another
    kecamatan (decoded once or twice) is answered 403 before any route runs, and audited."""
    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            request = Request(scope)
            s = portal.session(request)
            if s is not None and not s.user.kantor:
                raw = scope.get("raw_path", b"").decode("latin-1") + "?" + scope.get("query_string", b"").decode("latin-1")
                texts = [scope.get("path", ""), unquote_plus(raw), unquote_plus(unquote_plus(raw))]
                if portal.names_other(s, *texts):
                    return await portal.forbidden(request, s, "path_or_parameter")(scope, receive, send)
        return await app(scope, receive, send)
    return wrapped


def build_app(settings: Settings, trusted_proxy: str | None = None):
    """The ASGI application: the routes of ``flows.portal.routes`` behind the kecamatan guard and
    the security headers."""
    from flows.portal.routes import not_found, routes

    portal = Portal(settings, trusted_proxy)
    app = Starlette(routes=routes(portal), exception_handlers={404: not_found})
    app.state.portal = portal
    return security_headers(kecamatan_guard(app, portal))


def new_pre_token() -> str:
    return secrets.token_urlsafe(32)

