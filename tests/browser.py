"""Headless Chromium for browser tests (the static report, the Prefect UI).

Launches Debian's Chromium (never a Playwright-downloaded browser) through the `playwright`
package with fixed offline-friendly flags, records every request, failed request, HTTP error
response, console error and uncaught page error, and saves screenshots to `test-artifacts/` at
the repository root.

    from tests.browser import open_page, require_chromium

    def test_ui():
        require_chromium()                       # fails with a clear sentence if not installed
        with open_page(name="prefect-ui") as session:
            session.goto("http://127.0.0.1:4200/dashboard")
            session.page.get_by_text("Flow Runs").wait_for()
            session.screenshot("prefect-ui.png")
            session.assert_clean()               # no failed requests, no console/page errors

On an exception inside the `with` block a full-page screenshot `<name>-failure.png` is saved
before the browser closes, so a failing CI run leaves something to look at.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"

#: Debian's Chromium; override with EKTP_CHROMIUM for another binary.
CHROMIUM_PATH = os.environ.get("EKTP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

DEFAULT_VIEWPORT = {"width": 1280, "height": 900}
DEFAULT_TIMEOUT_MS = 15_000


def chromium_available() -> bool:
    """True when the Chromium binary and the playwright package are both present."""
    if not (Path(CHROMIUM_PATH).is_file() and os.access(CHROMIUM_PATH, os.X_OK)):
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def require_chromium() -> None:
    """Fail the calling test with one clear sentence when the browser cannot be launched."""
    import pytest

    if not chromium_available():
        which = shutil.which("chromium")
        pytest.fail(
            f"Headless Chromium is needed at {CHROMIUM_PATH} (found on PATH: {which}) together "
            "with the playwright package: run `make system-deps` (apt-get install -y chromium).",
            pytrace=False,
        )


@dataclass
class FailedRequest:
    """A request that never completed (`failure` set) or got an HTTP status >= 400."""

    url: str
    method: str
    resource_type: str
    failure: str | None = None
    status: int | None = None

    def __str__(self) -> str:
        why = self.failure if self.failure is not None else f"HTTP {self.status}"
        return f"{self.method} {self.url} [{self.resource_type}]: {why}"


@dataclass
class BrowserSession:
    """One page in a fresh browser context, plus what was observed while it ran.

    Attributes: `page`, `context`, `browser` (Playwright objects); `requests` (every URL
    requested, in order); `failed_requests`; `console_errors` (console messages of type
    error, as "text (url:line)"); `page_errors` (uncaught exceptions); `console_messages`
    (every console message, "type: text").
    """

    page: Any
    context: Any
    browser: Any
    name: str
    artifacts_dir: Path
    requests: list[str] = field(default_factory=list)
    failed_requests: list[FailedRequest] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    console_messages: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def goto(self, target: str | Path, *, wait_until: str = "load") -> Any:
        """Open an http(s)/file URL, or a local file path (turned into a file:// URL)."""
        url = target.resolve().as_uri() if isinstance(target, Path) else target
        return self.page.goto(url, wait_until=wait_until)

    def screenshot(self, filename: str | None = None, *, full_page: bool = True) -> Path:
        """Save a PNG under the artifacts dir (default `<name>.png`) and return its path."""
        path = self.artifacts_dir / (filename or f"{self.name}.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def external_requests(self, allowed_prefixes: Iterable[str] = ("file:", "data:", "about:")) -> list[str]:
        """Requested URLs that do not start with one of `allowed_prefixes`."""
        allowed = tuple(allowed_prefixes)
        return [u for u in self.requests if not u.startswith(allowed)]

    def problems(self, ignore: Iterable[str] = ()) -> list[str]:
        """Failed requests, console errors and page errors, minus those matching a regex in `ignore`."""
        patterns = [re.compile(p) for p in ignore]
        found = (
            [f"failed request: {r}" for r in self.failed_requests]
            + [f"console error: {m}" for m in self.console_errors]
            + [f"page error: {m}" for m in self.page_errors]
        )
        return [p for p in found if not any(rx.search(p) for rx in patterns)]

    def assert_clean(self, ignore: Iterable[str] = ()) -> None:
        """Assert no failed requests, console errors or page errors (see `problems`)."""
        problems = self.problems(ignore)
        assert not problems, "browser reported problems:\n" + "\n".join(problems)


@contextlib.contextmanager
def open_page(
    *,
    name: str = "page",
    viewport: dict[str, int] | None = None,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    artifacts_dir: Path | None = None,
    extra_args: Iterable[str] = (),
    block_external: bool = False,
) -> Iterator[BrowserSession]:
    """Launch headless Chromium, yield a `BrowserSession` on a new page, close everything after.

    `name` names the failure screenshot; `block_external=True` aborts every request that is not
    file:, data:, about:, blob: or to localhost/127.0.0.1 (it is then also a failed request).
    """
    from playwright.sync_api import sync_playwright

    out_dir = artifacts_dir or ARTIFACTS_DIR
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM_PATH,
            headless=True,
            args=[*CHROMIUM_ARGS, *extra_args],
        )
        try:
            context = browser.new_context(viewport=viewport or DEFAULT_VIEWPORT)
            context.set_default_timeout(timeout_ms)
            page = context.new_page()
            session = BrowserSession(page=page, context=context, browser=browser, name=name, artifacts_dir=out_dir)
            _observe(session, block_external=block_external)
            try:
                yield session
            except BaseException:
                with contextlib.suppress(Exception):
                    session.screenshot(f"{name}-failure.png")
                raise
        finally:
            browser.close()


_LOCAL = re.compile(r"^(file:|data:|about:|blob:|https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(/|$))")


def _observe(session: BrowserSession, *, block_external: bool) -> None:
    page = session.page

    def on_request(request: Any) -> None:
        session.requests.append(request.url)

    def on_failed(request: Any) -> None:
        session.failed_requests.append(
            FailedRequest(request.url, request.method, request.resource_type, failure=request.failure or "failed")
        )

    def on_response(response: Any) -> None:
        if response.status >= 400:
            req = response.request
            session.failed_requests.append(
                FailedRequest(response.url, req.method, req.resource_type, status=response.status)
            )

    def on_console(msg: Any) -> None:
        session.console_messages.append(f"{msg.type}: {msg.text}")
        if msg.type == "error":
            loc = msg.location or {}
            where = f" ({loc.get('url', '')}:{loc.get('lineNumber', '')})" if loc.get("url") else ""
            session.console_errors.append(f"{msg.text}{where}")

    def on_page_error(error: Any) -> None:
        session.page_errors.append(str(error))

    page.on("request", on_request)
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", on_page_error)

    if block_external:

        def gate(route: Any) -> None:
            if _LOCAL.match(route.request.url):
                route.continue_()
            else:
                route.abort("blockedbyclient")

        session.context.route("**/*", gate)
