"""One typed settings object, read from the environment and passed explicitly.

Data directory: ``--data-dir`` > ``EKTP_DATA_DIR`` > ``./data`` (contract section 1).
Pseudonym key: ``EKTP_NIK_KEY`` > key file ``<data dir>/.ektp_nik_key`` (owner-only, git-ignored).
Outside the demo a missing key is an error; ``ektp keygen`` (or the demo) creates the key file.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flows.errors import UserError

TIMEZONE = ZoneInfo("Asia/Jakarta")
KEY_FILE_NAME = ".ektp_nik_key"
MIN_KEY_LENGTH = 16


@dataclass(frozen=True)
class Settings:
    data_dir: Path

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def warehouse_path(self) -> Path:
        """The file the pipeline writes (contract section 1)."""
        return self.warehouse_dir / "ektp.duckdb"

    @property
    def published_path(self) -> Path:
        """The read-only copy analysts and ``ektp query`` read; swapped in after each good run."""
        return self.warehouse_dir / "ektp_analyst.duckdb"

    @property
    def backup_dir(self) -> Path:
        return self.warehouse_dir / "backups"

    @property
    def report_path(self) -> Path:
        return self.warehouse_dir / "report.html"

    @property
    def lock_path(self) -> Path:
        return self.warehouse_dir / ".ektp.lock"

    @property
    def key_file(self) -> Path:
        return self.data_dir / KEY_FILE_NAME


def load_settings(data_dir: str | os.PathLike | None = None) -> Settings:
    """Resolve the data directory (argument > EKTP_DATA_DIR > ./data) to an absolute path."""
    raw = data_dir if data_dir is not None else os.environ.get("EKTP_DATA_DIR") or "data"
    return Settings(data_dir=Path(raw).expanduser().resolve())


def today_jakarta() -> date:
    return datetime.now(TIMEZONE).date()


def yesterday_jakarta() -> date:
    """The default run date: yesterday in Asia/Jakarta, computed when called (not at import)."""
    return today_jakarta() - timedelta(days=1)


def resolve_key(settings: Settings, *, create: bool = False) -> bytes:
    """Return the HMAC key for NIK pseudonyms.

    ``EKTP_NIK_KEY`` wins; else the key file in the data directory. With ``create`` (the demo and
    ``ektp keygen``) a missing key file is created with 32 random bytes, mode 0600. Raises UserError
    when no key is available, or when the key file is readable by group or others.
    """
    env = os.environ.get("EKTP_NIK_KEY")
    if env:
        if len(env) < MIN_KEY_LENGTH:
            raise UserError(f"EKTP_NIK_KEY is too short: use at least {MIN_KEY_LENGTH} characters (for example `ektp keygen --print`).")
        return env.encode("utf-8")
    path = settings.key_file
    if not path.exists():
        if not create:
            raise UserError(
                f"No pseudonym key: set EKTP_NIK_KEY or create the key file {path} with `ektp keygen`."
            )
        write_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise UserError(f"The key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`.")
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_KEY_LENGTH:
        raise UserError(f"The key file {path} holds no usable key (at least {MIN_KEY_LENGTH} characters).")
    return key.encode("utf-8")


def new_key() -> str:
    return secrets.token_hex(32)


def write_key_file(path: Path) -> None:
    """Create an owner-only key file; never overwrites an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(new_key() + "\n")
