"""Portal accounts, sessions and the lockout, in one SQLite file of mode 600.

In: the portal folder ``<data_dir>/portal/`` (created mode 700). Out: ``Store``, whose methods
add, list, reset and disable users, check a login (with the lockout), change a password, and
create, find and end sessions. Passwords are kept only as scrypt hashes (memory-hard, standard
library: no new dependency); a session token is random and kept only as its SHA-256, so a copy of
the store opens no session. Expected failures raise ``UserError`` with one line.

Lockout (contract section 11): five failed logins for one account, or from one address, within
15 minutes lock further tries for that account or address for 15 minutes; a locked try is not
even checked (the caller answers 429).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from flows.errors import UserError

SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}        # 16 MiB of memory per hash
SESSION_SECONDS = 8 * 3600
WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60
MAX_FAILURES = 5
MIN_PASSWORD = 12
NAME = re.compile(r"^[a-z][a-z0-9_.-]{1,31}$")

SCHEMA = """
create table if not exists users (
    name text primary key, kecamatan text, kantor integer not null, hash text not null,
    must_change integer not null, disabled integer not null, created_at real not null);
create table if not exists sessions (
    token_sha256 text primary key, name text not null, csrf text not null,
    created_at real not null, expires_at real not null);
create table if not exists failures (key text not null, at real not null);
create table if not exists locks (key text primary key, until real not null);
"""


def hash_password(password: str) -> str:
    """scrypt$n$r$p$salt$hash (base64); the password itself is never stored."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, maxmem=64 * 2 ** 20, dklen=32, **SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=64 * 2 ** 20, dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


# a hash to check against when the account does not exist (the answer takes as long)
_DUMMY = None


def _dummy_hash() -> str:
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = hash_password(secrets.token_urlsafe(16))
    return _DUMMY


def one_time_password() -> str:
    """16 characters from a URL-safe alphabet (96 bits)."""
    return secrets.token_urlsafe(12)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class User:
    name: str
    kecamatan: str | None
    kantor: bool
    must_change: bool
    disabled: bool

    @property
    def role(self) -> str:
        return "kantor" if self.kantor else f"kecamatan {self.kecamatan}"


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: float


class Store:
    """The accounts file ``portal.sqlite3`` in ``folder`` (mode 600, folder mode 700)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / "portal.sqlite3"
        old = os.umask(0o077)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            os.chmod(self.folder, 0o700)
            with closing(self._connect()) as con:
                con.executescript(SCHEMA)
            os.chmod(self.path, 0o600)
        finally:
            os.umask(old)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.execute("pragma journal_mode = delete")
        return con

    @contextmanager
    def _tx(self):
        """One transaction (immediate: writers queue, readers see the state before or after)."""
        old = os.umask(0o077)
        con = self._connect()
        try:
            con.execute("begin immediate")
            yield con
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        finally:
            con.close()
            os.umask(old)

    # --- users -----------------------------------------------------------------------------------

    def add_user(self, name: str, kecamatan: str | None, kantor: bool) -> str:
        """Create a user; returns the one-time password (to print once, on the terminal)."""
        if not NAME.match(name):
            raise UserError("A user name is 2-32 characters: a lower-case letter, then letters, digits, '.', '_' or '-'.")
        password = one_time_password()
        with self._tx() as con:
            if con.execute("select 1 from users where name = ?", [name]).fetchone():
                raise UserError(f"The user {name} already exists (use `ektp portal user reset {name}`).")
            con.execute("insert into users values (?, ?, ?, ?, 1, 0, ?)",
                        [name, kecamatan, int(kantor), hash_password(password), time.time()])
        return password

    def users(self) -> list[User]:
        with closing(self._connect()) as con:
            rows = con.execute("select name, kecamatan, kantor, must_change, disabled from users order by name").fetchall()
        return [User(n, k, bool(o), bool(m), bool(d)) for n, k, o, m, d in rows]

    def user(self, name: str) -> User | None:
        return next((u for u in self.users() if u.name == name), None)

    def reset(self, name: str) -> str:
        """A new one-time password (to change at the next login); ends the user's sessions, lifts a lock."""
        password = one_time_password()
        with self._tx() as con:
            if con.execute("update users set hash = ?, must_change = 1, disabled = 0 where name = ?",
                           [hash_password(password), name]).rowcount == 0:
                raise UserError(f"No user named {name} (see `ektp portal user list`).")
            con.execute("delete from sessions where name = ?", [name])
            con.execute("delete from locks where key = ?", [f"user:{name}"])
            con.execute("delete from failures where key = ?", [f"user:{name}"])
        return password

    def disable(self, name: str) -> None:
        with self._tx() as con:
            if con.execute("update users set disabled = 1 where name = ?", [name]).rowcount == 0:
                raise UserError(f"No user named {name} (see `ektp portal user list`).")
            con.execute("delete from sessions where name = ?", [name])

    # --- login and lockout -----------------------------------------------------------------------

    def locked(self, name: str, address: str) -> bool:
        now = time.time()
        with closing(self._connect()) as con:
            return con.execute("select 1 from locks where key in (?, ?) and until > ?",
                               [f"user:{name}", f"addr:{address}", now]).fetchone() is not None

    def _fail(self, con: sqlite3.Connection, keys: list[str], now: float) -> None:
        con.execute("delete from failures where at < ?", [now - WINDOW_SECONDS])
        for key in keys:
            con.execute("insert into failures values (?, ?)", [key, now])
            n = con.execute("select count(*) from failures where key = ? and at >= ?", [key, now - WINDOW_SECONDS]).fetchone()[0]
            if n >= MAX_FAILURES:
                con.execute("insert or replace into locks values (?, ?)", [key, now + LOCK_SECONDS])
                con.execute("delete from failures where key = ?", [key])

    def login(self, name: str, password: str, address: str) -> User | None:
        """The user when the name and password match an enabled account; None otherwise (the
        failure counts for the name and the address). Call ``locked`` first."""
        with closing(self._connect()) as con:
            row = con.execute("select name, kecamatan, kantor, must_change, disabled, hash from users where name = ?",
                              [name]).fetchone()
        ok = verify_password(password, row[5] if row else _dummy_hash()) and row is not None and not row[4]
        if ok:
            with self._tx() as con:
                con.execute("delete from failures where key = ?", [f"user:{name}"])
            return User(row[0], row[1], bool(row[2]), bool(row[3]), bool(row[4]))
        with self._tx() as con:
            self._fail(con, [f"user:{name}", f"addr:{address}"], time.time())
        return None

    def change_password(self, name: str, old: str, new: str) -> None:
        """Raise UserError (one line, Indonesian: it is shown on the page) for a wrong old password
        or a weak new one."""
        with closing(self._connect()) as con:
            row = con.execute("select hash from users where name = ? and disabled = 0", [name]).fetchone()
        if row is None or not verify_password(old, row[0]):
            raise UserError("Kata sandi lama salah.")
        if len(new) < MIN_PASSWORD:
            raise UserError(f"Kata sandi baru minimal {MIN_PASSWORD} karakter.")
        if new == old:
            raise UserError("Kata sandi baru harus berbeda dari kata sandi lama.")
        with self._tx() as con:
            con.execute("update users set hash = ?, must_change = 0 where name = ?", [hash_password(new), name])

    # --- sessions --------------------------------------------------------------------------------

    def new_session(self, user: User) -> str:
        """A random token for the cookie; the store keeps only its SHA-256."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self._tx() as con:
            con.execute("delete from sessions where expires_at <= ?", [now])
            con.execute("insert into sessions values (?, ?, ?, ?, ?)",
                        [token_sha256(token), user.name, secrets.token_urlsafe(32), now, now + SESSION_SECONDS])
        return token

    def session(self, token: str | None) -> Session | None:
        """The live session of a cookie value (enabled user, not expired), else None."""
        if not token or len(token) > 128:
            return None
        with closing(self._connect()) as con:
            row = con.execute("""select u.name, u.kecamatan, u.kantor, u.must_change, u.disabled, s.csrf, s.expires_at
                                 from sessions s join users u on u.name = s.name
                                 where s.token_sha256 = ? and s.expires_at > ? and u.disabled = 0""",
                              [token_sha256(token), time.time()]).fetchone()
        if row is None:
            return None
        return Session(User(row[0], row[1], bool(row[2]), bool(row[3]), bool(row[4])), row[5], row[6])

    def end_session(self, token: str | None) -> None:
        if token:
            with self._tx() as con:
                con.execute("delete from sessions where token_sha256 = ?", [token_sha256(token)])
