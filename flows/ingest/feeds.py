"""Each raw feed of the landing zone, described once, as data (contract sections 1-4 and 9).

A feed is a folder under ``raw/`` whose files share a life cycle: discover (the landing names,
``flows.ingest.discover``), read (its columns, ``flows.ingest.read``), validate (its Great Expectations suite,
``flows.ingest.validate``), load (its landing table, ``flows.ingest.load``) and replace on re-send. The generic
steps read a ``Feed``; none of them names a feed. A new feed is a new ``Feed`` in ``FEEDS`` (plus
its suite, its landing table and its staging SQL); a new landing layout of a feed is a new
``Layout`` of it (as ``penduduk/<date>/<kode_kabupaten>.csv`` is).

What every feed shares, and so is not a field: a file is one version of its landing name; a new
version of the same name replaces every row, quarantine entry and audit record of the old one in
one transaction (``flows.ingest.load.write_batch``); rows carry their lineage (``source_file``,
``file_sha256``, ``line_number``, ``run_id``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from flows.ingest.pseudonym import pseudonymise
from flows.ingest.read import PENDUDUK_COLUMNS, PERMOHONAN_COLUMNS, PERMOHONAN_OPTIONAL, REKAM_COLUMNS
from flows.reference.wilayah import desa_codes, desa_of_kabupaten

# the kinds of codes a landing name may carry, and what a name with another stem is refused for
CODE_REASONS = {"kecamatan": "unknown_kecamatan", "kabupaten": "unknown_kabupaten"}


@dataclass(frozen=True)
class Layout:
    """One landing-name pattern of a feed: ``<feed>/<YYYY-MM-DD>.csv`` (``code`` None) or
    ``<feed>/<YYYY-MM-DD>/<code>.csv`` with ``code`` a kecamatan or kab/kota code of the run's area.
    The name yields the file's date and, for the second form, its code. ``coverage``: the desa a
    file of this layout is checked against (the suite's ``kode_desa_list``): ``area`` (the run's
    area) or ``code`` (the desa of the kab/kota its name gives)."""
    pattern: str
    code: str | None = None
    coverage: str = "area"

    @property
    def depth(self) -> int:
        """The number of '/'-separated parts of a name of this layout under raw/."""
        return 2 if self.code is None else 3

    def desa(self, code: str | None, area: tuple[str, ...]) -> frozenset[str]:
        """The desa a file of this layout named with ``code`` is checked against."""
        return desa_of_kabupaten(code) if self.coverage == "code" and code else desa_codes(area)


@dataclass(frozen=True)
class Feed:
    """One raw feed. ``kind`` is its folder under raw/ and ``audit.file_loads.kind``.

    - ``layouts``: its landing names (at most one per depth).
    - ``columns`` / ``optional``: the header columns it must / may have (``flows.ingest.read``).
    - ``suite``: its suite, ``expectations/<suite>.json`` (``flows.ingest.validate`` takes the name from
      here); ``validate``: the function of ``flows.ingest.validate`` that derives the suite's columns and
      runs it (by name, so it is looked up when called).
    - ``whole``: any broken rule rejects the file whole, with the error code ``invalid`` (a
      snapshot is validated whole), else each bad row is quarantined with its reason and the rest
      is loaded.
    - ``table`` / ``table_columns``: its landing table (``run_id`` is added by the writer);
      ``to_landing(good rows, key)`` projects validated rows onto those columns.
    - ``window``: ``run``: only files dated in the run's window (and of its kecamatan, when it
      names some) are read; ``all``: every file up to the run's last date.
    - ``since_2011``: a file dated before 2011-01-01 is rejected whole (e-KTP began in 2011).
    - ``batching``: ``batches`` (batches of files, one GX call per batch, a task per batch),
      ``one`` (every new file in one batch: they are few and small), ``each`` (one file at a time).
    - ``dated_folder``: a name it refuses keeps its date folder in its stored (hashed) name.
    - ``reason_prefix``: prefixes its quarantine reasons in a run's counts.
    - ``stage``: the name of the step that loads a feed not batched by size (a Prefect task, and
      the stage an unexpected error names).
    - ``person_key``: for a feed whose landing rows hold a pseudonym, the value pseudonymised, from
      the rows as read (``flows.ingest.load`` hashes it while the rows are validated).
    """
    kind: str
    layouts: tuple[Layout, ...]
    columns: tuple[str, ...]
    optional: tuple[str, ...]
    suite: str
    validate: str
    whole: bool
    table: str
    table_columns: tuple[str, ...]
    to_landing: Callable[[pl.DataFrame, bytes], pl.DataFrame]
    window: str
    since_2011: bool
    batching: str
    dated_folder: bool = False
    reason_prefix: str = ""
    invalid: str = ""
    stage: str = ""
    person_key: Callable[[pl.DataFrame], pl.Series] | None = None

    def layout(self, depth: int) -> Layout | None:
        """The layout of names with ``depth`` parts, if the feed has one."""
        return next((lay for lay in self.layouts if lay.depth == depth), None)


def sent_nik() -> pl.Expr:
    """A log row's NIK as checked and pseudonymised: as sent, without the text marker ``'`` a
    spreadsheet may put before it (contract section 3); a missing NIK is empty."""
    return pl.col("nik").fill_null("").str.strip_prefix("'")


def _rekam_person_key(rows: pl.DataFrame) -> pl.Series:
    return rows.select(sent_nik())["nik"]


def _rekam_rows(good: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """landing.rekam rows of validated log rows: the NIK becomes its pseudonym, the name and birth
    date are dropped (contract section 5). The pseudonyms are those in ``person_id`` when the
    rows have them (computed ahead, while the rows were validated: flows.ingest.load), else they
    are computed here. Raises ValueError without a key (an empty key would make pseudonyms
    anyone can recompute)."""
    if not key:
        raise ValueError("recording logs need the pseudonym key to be loaded (none was given)")
    person_id = good["person_id"] if "person_id" in good.columns else pseudonymise(good["nik"], key)
    return good.select(
        person_id.alias("person_id"),
        pl.col("jenis_kelamin_norm").alias("jenis_kelamin"),
        pl.col("umur").cast(pl.Int16),
        pl.col("status_kawin_norm").alias("status_kawin"),
        pl.col("kode_desa_norm").alias("kode_desa"),
        pl.col("waktu_rekam_ts").alias("waktu_rekam"),
        pl.col("jenis_rekam_norm").alias("jenis_rekam"),
        pl.col("lokasi_rekam_norm").alias("lokasi_rekam"),
        pl.col("id_alat").str.to_uppercase(),     # checked as sent, stored upper-cased (contract section 3)
        "source_file", "file_sha256",
        pl.col("line_number").cast(pl.Int32),
    )


def _penduduk_rows(good: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """landing.penduduk rows of a validated snapshot (its date, name and SHA-256 set on every row)."""
    return good.select(
        pl.col("log_date").alias("snapshot_date"),
        pl.col("kode_desa_norm").alias("kode_desa"),
        *[pl.col(f"{k}_int").alias(k) for k in ("wajib_ktp_lk", "wajib_ktp_pr", "sudah_rekam_lk", "sudah_rekam_pr")],
        "source_file", "file_sha256",
        pl.col("line_number").cast(pl.Int32),
    )


def _permohonan_rows(good: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """landing.permohonan rows of validated requests."""
    return good.select(
        "tanggal_daftar", pl.col("kode_desa_norm").alias("kode_desa"),
        pl.col("tanggal_surat_date").alias("tanggal_surat"), "nomor_surat",
        pl.col("perkiraan_warga_int").cast(pl.Int32).alias("perkiraan_warga"),
        "source_file", "file_sha256", pl.col("line_number").cast(pl.Int32),
    )


REKAM = Feed(
    kind="rekam",
    layouts=(Layout("rekam/<YYYY-MM-DD>/<kode_kecamatan>.csv", code="kecamatan"),),
    columns=REKAM_COLUMNS, optional=(),
    suite="rekam_log", validate="validate_rekam", whole=False,
    table="landing.rekam",
    table_columns=("person_id", "jenis_kelamin", "umur", "status_kawin", "kode_desa", "waktu_rekam",
                   "jenis_rekam", "lokasi_rekam", "id_alat", "source_file", "file_sha256", "line_number"),
    to_landing=_rekam_rows, person_key=_rekam_person_key,
    window="run", since_2011=True, batching="batches", dated_folder=True,
)
PENDUDUK = Feed(
    kind="penduduk",
    layouts=(Layout("penduduk/<YYYY-MM-DD>.csv"),
             Layout("penduduk/<YYYY-MM-DD>/<kode_kabupaten>.csv", code="kabupaten", coverage="code")),
    columns=PENDUDUK_COLUMNS, optional=(),
    suite="penduduk_snapshot", validate="validate_penduduk", whole=True,
    table="landing.penduduk",
    table_columns=("snapshot_date", "kode_desa", "wajib_ktp_lk", "wajib_ktp_pr", "sudah_rekam_lk",
                   "sudah_rekam_pr", "source_file", "file_sha256", "line_number"),
    to_landing=_penduduk_rows,
    window="all", since_2011=False, batching="each", invalid="snapshot_invalid",
    stage="load-snapshots",
)
PERMOHONAN = Feed(
    kind="permohonan",
    layouts=(Layout("permohonan/<YYYY-MM-DD>.csv"),),
    columns=PERMOHONAN_COLUMNS, optional=PERMOHONAN_OPTIONAL,
    suite="permohonan", validate="validate_permohonan", whole=False,
    table="landing.permohonan",
    table_columns=("tanggal_daftar", "kode_desa", "tanggal_surat", "nomor_surat", "perkiraan_warga",
                   "source_file", "file_sha256", "line_number"),
    to_landing=_permohonan_rows,
    window="all", since_2011=True, batching="one", reason_prefix="permohonan",
    stage="load-requests",
)

# every feed, by kind (its folder under raw/); a run loads the snapshots and the requests (few)
# before the log batches (flows.orchestration.run, flows.orchestration.pipeline)
FEEDS: dict[str, Feed] = {f.kind: f for f in (REKAM, PENDUDUK, PERMOHONAN)}


def feed_of(source_file: str) -> Feed | None:
    """The feed of a stored name (its first folder), or None."""
    return FEEDS.get(source_file.split("/", 1)[0])


def code_of(source_file: str) -> str | None:
    """The code a landing name carries (``<feed>/<date>/<code>.csv``), or None."""
    parts = source_file.split("/")
    return parts[2][:-4] if len(parts) == 3 and parts[2].endswith(".csv") else None


def coverage(source_file: str, area: tuple[str, ...]) -> frozenset[str]:
    """The desa a file with landing name ``source_file`` is checked against (its layout's coverage)."""
    feed = feed_of(source_file)
    layout = feed.layout(len(source_file.split("/"))) if feed else None
    return layout.desa(code_of(source_file), area) if layout else desa_codes(area)

