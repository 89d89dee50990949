"""`ektp portal`: serve the portal (uvicorn) and manage its accounts from the terminal.

In: settings and the parsed arguments. Out: lines on stdout (a one-time password is printed here
once, on the terminal only: it is never logged, audited or stored). Expected failures raise
UserError (one line).
"""

from __future__ import annotations

import ipaddress
import sys
import threading

from flows.errors import UserError
from flows.escape import terminal
from flows.portal.accounts import Store
from flows.reference.wilayah import kecamatan_codes
from flows.settings import Settings


def store(settings: Settings) -> Store:
    return Store(settings.data_dir / "portal")


def add_user(settings: Settings, name: str, kecamatan: str | None, kantor: bool) -> str:
    """Create a user of one kecamatan of the area, or of the office; returns the one-time password."""
    if kantor == (kecamatan is not None):
        raise UserError("Give exactly one of --kecamatan CODE or --kantor.")
    if kecamatan is not None and kecamatan not in kecamatan_codes(settings.wilayah):
        raise UserError(f"{terminal(kecamatan)} is not a kecamatan code of the area (e.g. 16.09.01).")
    return store(settings).add_user(name, kecamatan, kantor)


def user_command(settings: Settings, args) -> int:
    """add / list / reset / disable; prints what the operator needs (a password once)."""
    st = store(settings)
    if args.user_command == "add":
        password = add_user(settings, args.name, args.kecamatan, args.kantor)
        print(f"Created {terminal(args.name)} ({'kantor' if args.kantor else 'kecamatan ' + args.kecamatan}). "
              f"One-time password (shown only now; to be changed at first login): {password}")
    elif args.user_command == "list":
        users = st.users()
        if not users:
            print("No portal users yet (`ektp portal user add NAME --kecamatan CODE | --kantor`).")
        for u in users:
            state = "disabled" if u.disabled else "must change password" if u.must_change else "active"
            print(f"{terminal(u.name)}\t{u.role}\t{state}")
    elif args.user_command == "reset":
        password = st.reset(args.name)
        print(f"Reset {terminal(args.name)}: its sessions are ended. One-time password (shown only now): {password}")
    elif args.user_command == "disable":
        st.disable(args.name)
        print(f"Disabled {terminal(args.name)}; its sessions are ended (`ektp portal user reset` enables it again).")
    return 0


def serve(settings: Settings, host: str, port: int, trusted_proxy: str | None) -> int:
    """Run the portal under uvicorn until interrupted. Uvicorn's own proxy-header handling is off:
    a forwarded address counts only from ``trusted_proxy``; no access log (a URL can carry anything)."""
    import uvicorn

    from flows.portal.app import build_app
    from flows.portal.checks import warm_up

    if trusted_proxy is not None:
        try:
            trusted_proxy = str(ipaddress.ip_address(trusted_proxy))
        except ValueError:
            raise UserError(f"--trusted-proxy {terminal(trusted_proxy)} is not an IP address.") from None
    if not settings.data_dir.is_dir():
        raise UserError(f"The data directory {settings.data_dir} does not exist (set --data-dir or EKTP_DATA_DIR).")
    app = build_app(settings, trusted_proxy)
    threading.Thread(target=warm_up, args=(settings.wilayah,), name="gx-warm-up", daemon=True).start()
    print(f"Portal on http://{host}:{port}/ for {settings.data_dir} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, host=host, port=port, proxy_headers=False, access_log=False, log_level="warning",
                            server_header=False, lifespan="off")
    uvicorn.Server(config).run()
    return 0
