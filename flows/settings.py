"""One typed settings object, read from the environment once and passed explicitly.

``load_settings()`` reads every knob (data directory, the area (``EKTP_WILAYAH``), timezone and
cron, lock wait, size limits, batch sizes, the analysts' query limits, where the key comes from)
when it is called, never at import. Everything downstream takes a ``Settings``; no other module reads ``EKTP_*`` variables.

The pseudonym key (contract section 5) comes from ``EKTP_NIK_KEY`` or from the file named by
``EKTP_NIK_KEY_FILE`` (mode 600), never from inside the data directory: a key file found there
stops every run, even when ``EKTP_NIK_KEY`` is set. The key itself is not part of ``Settings``
(settings travel as task parameters); ``resolve_key`` reads it in the process that needs it.
A key shorter than MIN_KEY_LENGTH characters (bytes, for a key file) is refused for a new
warehouse (flows.warehouse.migrate.verify_key) and named as weak by every run on an existing one
(``weak_key_warning``); below LEGACY_MIN_KEY_LENGTH it is refused always.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flows.errors import UserError
from flows.reference.wilayah import DEFAULT_AREA, parse_area

TIMEZONE = "Asia/Jakarta"
NIGHTLY_CRON = "0 1 * * *"           # 01:00 WIB
V1_KEY_FILE_NAME = ".ektp_nik_key"   # where version 1 kept the key: inside the data directory
MIN_KEY_LENGTH = 32          # a new warehouse needs a key this long (characters; bytes for a key file)
LEGACY_MIN_KEY_LENGTH = 16   # never accepted below: version 2's minimum (an existing warehouse may have 16-31)
# The demo's data is synthetic; it runs under this fixed, public key (contract section 5).
DEMO_KEY = "ektp-demo-key-synthetic-data-only"
FINGERPRINT_LABEL = b"ektp-okus key fingerprint v1"
MiB = 1024 * 1024
# rows per Great Expectations call (EKTP_GX_SLICE_ROWS; flows.ingest.validate: why this many)
GX_SLICE_ROWS = 350_000


def _env_number(name: str, default: float, *, minimum: float = 0.0, integer: bool = False):
    """A positive number from the environment; an unset, empty or unusable value gives the default."""
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = default
    if not value > minimum:
        value = default
    return int(value) if integer else value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    timezone: str = TIMEZONE
    nightly_cron: str = NIGHTLY_CRON
    lock_wait_seconds: float = 600.0                  # a second writer waits this long, then stops
    max_file_bytes: int = 64 * MiB                    # larger raw files are rejected (file_too_large)
    max_depth: int = 6                                # folders nested deeper under raw/ are not searched
    batch_bytes: int = 64 * MiB                       # raw bytes validated and written together
    batch_files: int = 10_000
    parallel_batch_bytes: int = 16 * MiB              # on Dask: smaller batches keep workers busy
    parallel_batch_files: int = 2_000
    parallel_window: int = 4                          # batches prepared ahead on Dask workers
    gx_slice_rows: int = GX_SLICE_ROWS                # rows per Great Expectations call
    query_memory_limit: str = "1GB"                   # `ektp query`: DuckDB memory_limit
    query_threads: int = 2                            # `ektp query`: DuckDB threads
    query_timeout_seconds: float = 60.0               # `ektp query`: interrupted after this long
    query_max_rows: int = 1_000_000                   # `ektp query`: rows written at most
    query_max_cell_bytes: int = 10_000                # `ektp query`: bytes of one cell at most (cut)
    query_max_output_bytes: int = 100_000_000         # `ektp query`: bytes written in all at most
    key_file: Path | None = None                      # EKTP_NIK_KEY_FILE (EKTP_NIK_KEY wins when set)
    wilayah: tuple[str, ...] = DEFAULT_AREA           # EKTP_WILAYAH: the area's province / kab/kota codes

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def warehouse_path(self) -> Path:
        """The file the pipeline writes (contract section 1); operators only, mode 600."""
        return self.warehouse_dir / "ektp.duckdb"

    @property
    def published_path(self) -> Path:
        """The analysts' copy (aggregates and dimensions only), replaced after each good run."""
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
    def feedback_dir(self) -> Path:
        return self.data_dir / "feedback"

    def yesterday(self) -> date:
        """The default run date: yesterday in the pipeline's timezone, computed when called."""
        return datetime.now(self.tz).date() - timedelta(days=1)


def load_settings(data_dir: str | os.PathLike | None = None) -> Settings:
    """Read the settings from the environment (``data_dir`` > EKTP_DATA_DIR > ./data). Raises
    ``flows.reference.wilayah.AreaError`` (one line) when EKTP_WILAYAH holds a code that is not a province or
    kab/kota of the region list."""
    raw = data_dir if data_dir is not None else os.environ.get("EKTP_DATA_DIR") or "data"
    key_file = os.environ.get("EKTP_NIK_KEY_FILE", "").strip()
    return Settings(
        data_dir=Path(raw).expanduser().resolve(),
        lock_wait_seconds=_env_number("EKTP_LOCK_WAIT", 600.0, minimum=-1.0),
        max_file_bytes=int(_env_number("EKTP_MAX_FILE_MB", 64.0) * MiB),
        gx_slice_rows=_env_number("EKTP_GX_SLICE_ROWS", GX_SLICE_ROWS, integer=True),
        query_memory_limit=os.environ.get("EKTP_QUERY_MEMORY", "").strip() or "1GB",
        query_threads=_env_number("EKTP_QUERY_THREADS", 2, integer=True),
        query_timeout_seconds=_env_number("EKTP_QUERY_TIMEOUT", 60.0),
        query_max_rows=_env_number("EKTP_QUERY_MAX_ROWS", 1_000_000, integer=True),
        query_max_cell_bytes=_env_number("EKTP_QUERY_MAX_CELL_BYTES", 10_000, integer=True),
        query_max_output_bytes=_env_number("EKTP_QUERY_MAX_OUTPUT_BYTES", 100_000_000, integer=True),
        key_file=Path(key_file).expanduser().resolve() if key_file else None,
        wilayah=parse_area(os.environ.get("EKTP_WILAYAH")),
    )


# --- the key -------------------------------------------------------------------------------------

def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def key_files_in_data_dir(settings: Settings) -> list[Path]:
    """Key files lying inside the data directory (which a copy or backup would carry along with
    the pseudonyms they unlock): version 1's ``.ektp_nik_key``, and ``*.key`` files next to the
    warehouse or at the top of the data directory."""
    found = []
    for folder in (settings.data_dir, settings.warehouse_dir, settings.backup_dir):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if name == V1_KEY_FILE_NAME or name.endswith(".key"):
                found.append(folder / name)
    return found


def refuse_key_files_in_data_dir(settings: Settings) -> None:
    """Stop with one line while any key file remains inside the data directory."""
    found = key_files_in_data_dir(settings)
    if found:
        where = found[0]
        raise UserError(
            f"A key file lies inside the data directory ({where}); runs are refused until it is moved out: "
            f"`mkdir -p ~/.config/ektp && mv {where} ~/.config/ektp/nik.key && chmod 600 ~/.config/ektp/nik.key`, "
            "then set EKTP_NIK_KEY_FILE=~/.config/ektp/nik.key (docs/privacy.md, \"The key\")."
        )


def _read_key(settings: Settings) -> tuple[bytes, int, str]:
    """(the key, its length in characters (EKTP_NIK_KEY) or bytes (a key file), where it came from);
    UserError for every refusal of ``resolve_key``."""
    refuse_key_files_in_data_dir(settings)
    env = os.environ.get("EKTP_NIK_KEY", "")
    if env:
        if len(env) < LEGACY_MIN_KEY_LENGTH:
            raise UserError(f"EKTP_NIK_KEY is too short: use at least {MIN_KEY_LENGTH} characters "
                            "(`ektp keygen` writes a random key to a file outside the data directory).")
        return env.encode("utf-8"), len(env), "EKTP_NIK_KEY"
    path = settings.key_file
    if path is None:
        raise UserError("No pseudonym key: set EKTP_NIK_KEY_FILE to the key file (create one outside the data "
                        "directory with `ektp keygen`) or set EKTP_NIK_KEY.")
    if _inside(path, settings.data_dir):
        raise UserError(f"EKTP_NIK_KEY_FILE ({path}) lies inside the data directory; move the key file out of "
                        f"{settings.data_dir} and point EKTP_NIK_KEY_FILE at its new place.")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise UserError(f"The key file {path} cannot be read ({exc.strerror}); check EKTP_NIK_KEY_FILE.") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise UserError(f"The key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`.")
        key = fh.read(4096).decode("utf-8", "replace").strip().encode("utf-8")
    if len(key) < LEGACY_MIN_KEY_LENGTH:
        raise UserError(f"The key file {path} holds no usable key (at least {MIN_KEY_LENGTH} bytes).")
    return key, len(key), "the key file"


def resolve_key(settings: Settings) -> bytes:
    """The HMAC key of the NIK pseudonyms: ``EKTP_NIK_KEY``, else the file ``settings.key_file``.

    Raises UserError (one line) when a key file lies inside the data directory, when no key is
    set, when the key file is inside the data directory, readable by group or others, or holds
    fewer than LEGACY_MIN_KEY_LENGTH characters. A key of LEGACY_MIN_KEY_LENGTH to MIN_KEY_LENGTH - 1
    is returned (an existing warehouse may have been built with one): ``refuse_weak_key`` and
    ``weak_key_warning`` deal with it. The key is never printed."""
    return _read_key(settings)[0]


ROTATE = ("rotate it: `ektp keygen`, then rebuild the warehouse from the raw files under the new key "
          "(docs/privacy.md, \"Rotating the key\")")


def refuse_weak_key(settings: Settings) -> None:
    """For a NEW warehouse: UserError (one line) when the key is shorter than MIN_KEY_LENGTH."""
    _, length, where = _read_key(settings)
    if length < MIN_KEY_LENGTH:
        unit = "characters" if where == "EKTP_NIK_KEY" else "bytes"
        raise UserError(f"The pseudonym key ({where}) has {length} {unit}; a new warehouse needs at least "
                        f"{MIN_KEY_LENGTH} (the hashed names of rejected files could let a short key be found "
                        "offline). Create one with `ektp keygen`.")


def weak_key_warning(settings: Settings) -> str | None:
    """For an EXISTING warehouse: the one line naming its key as weak (never the key), or None."""
    _, length, where = _read_key(settings)
    if length >= MIN_KEY_LENGTH:
        return None
    unit = "characters" if where == "EKTP_NIK_KEY" else "bytes"
    return (f"weak pseudonym key: {where} has {length} {unit}, fewer than {MIN_KEY_LENGTH}; {ROTATE}.")


def fingerprint(key: bytes) -> str:
    """What the warehouse records of its key: an HMAC of a fixed label (never the key itself)."""
    return hmac.new(key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


def new_key() -> str:
    """32 random bytes (256 bits), written as 64 hex digits: the key is that text (64 bytes >= MIN_KEY_LENGTH)."""
    return secrets.token_hex(32)


def default_key_file() -> Path:
    """Where ``ektp keygen`` writes when neither --out nor EKTP_NIK_KEY_FILE says otherwise."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser().resolve() / "ektp" / "nik.key"


def write_key_file(path: Path, settings: Settings) -> None:
    """Create an owner-only key file outside the data directory; never overwrites one."""
    if _inside(path, settings.data_dir):
        raise UserError(f"{path} is inside the data directory {settings.data_dir}; a key file must live elsewhere "
                        "(a copy of the data directory must never carry the key).")
    old = os.umask(0o077)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise UserError(f"A key file already exists at {path}; it is never overwritten (pseudonyms would change).") from None
    finally:
        os.umask(old)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(new_key() + "\n")
