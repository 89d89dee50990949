"""Validate rows with Great Expectations (suites in ``expectations/``) and map failures to rows.

In: a Polars frame of read rows (``flows.ingest.read``) with ``source_file`` and ``log_date`` columns.
Out: the same frame with derived, typed columns plus ``reason`` (null for a good row) and
``detail``; and a per-expectation outcome summary for ``audit.validation_results``.
GX runs once per batch (many files at once) on the pandas datasource with result format COMPLETE;
an expectation that errors inside GX raises ValidationError (a bug, never a silent pass).
"""

from __future__ import annotations

import gc
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import polars as pl

from flows.ingest.feeds import PENDUDUK, PERMOHONAN, REKAM, sent_nik
from flows.reference.wilayah import DEFAULT_AREA, desa_codes
from flows.resources import project_dir
from flows.settings import GX_SLICE_ROWS

EXPECTATIONS_DIR = project_dir("expectations")
# each feed's suite, as its description names it (flows.ingest.feeds)
REKAM_SUITE = REKAM.suite
PENDUDUK_SUITE = PENDUDUK.suite
PERMOHONAN_SUITE = PERMOHONAN.suite


class ValidationError(Exception):
    """Great Expectations could not evaluate an expectation: the run must stop."""


@dataclass(frozen=True)
class Rule:
    reason: str
    detail: str
    type: str
    column: str


def suite_spec(name: str) -> dict:
    """The suite as declared in expectations/<name>.json."""
    return json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def _key(type_: str, kwargs: dict, reason: str | None) -> tuple:
    column = kwargs.get("column") or f"{kwargs.get('column_A')},{kwargs.get('column_B')}"
    return (type_, column, reason)


def rules(name: str) -> list[Rule]:
    """The suite's rules in priority order (reason code, detail sentence, expectation, column)."""
    out = []
    for e in suite_spec(name)["expectations"]:
        _, column, reason = _key(e["type"], e["kwargs"], e["meta"]["reason"])
        out.append(Rule(reason, e["meta"]["detail"], e["type"], column))
    return out


def _quiet_gx_logs() -> None:
    """GX logs INFO chatter (temporary docs sites, progress) through Prefect's handlers."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)


def _no_batch_fingerprint() -> None:
    """GX's pandas engine hashes every in-memory frame under 1 GB to put a fingerprint in the
    batch markers (HASH_THRESHOLD in pandas_execution_engine). Nothing here reads that marker,
    and hashing costs more than all the expectations together (~4 s per million rows of the rekam
    suite, measured). Setting the module's threshold to 0 skips it; validation is unchanged."""
    from great_expectations.execution_engine import pandas_execution_engine as engine

    if hasattr(engine, "HASH_THRESHOLD"):
        engine.HASH_THRESHOLD = 0


class _DeferredImports(importlib.abc.MetaPathFinder):
    """While Great Expectations is imported: scipy.stats and altair are loaded lazily (on first
    use: only GX's distribution expectations and renderers use them, never these suites), and
    SQLAlchemy is not seen at all (GX then leaves out its SQL datasources; these suites run on
    the pandas datasource). Measured (issue 19): ``import great_expectations`` 2.8 s of CPU
    -> 1.5 s, 253 -> 156 MiB. Removed from ``sys.meta_path`` as soon as the import is done."""

    LAZY = frozenset({"scipy", "scipy.stats", "altair"})
    HIDDEN = "sqlalchemy"

    def __init__(self) -> None:
        self.thread = threading.get_ident()   # imports of other threads meanwhile are not touched

    def find_spec(self, name, path, target=None):
        if threading.get_ident() != self.thread:
            return None
        if name == self.HIDDEN or name.startswith(self.HIDDEN + "."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        if name not in self.LAZY:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _import_gx():
    """``import great_expectations``, with only what pandas validation needs loaded up front
    (called under ``_BUILD``, by ``_built_context``)."""
    if "great_expectations" not in sys.modules and "sqlalchemy" not in sys.modules:
        finder = _DeferredImports()
        sys.meta_path.insert(0, finder)
        try:
            import great_expectations  # noqa: F401  (imported here, under the finder)
        finally:
            sys.meta_path.remove(finder)
        gc.freeze()   # the import's objects live as long as the process: out of every later full collection
    import great_expectations as gx

    return gx


@lru_cache(maxsize=1)
def _built_context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _quiet_gx_logs()
    _no_batch_fingerprint()
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


@cache
def _built_suite(name: str):
    ctx = _context()
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    spec = suite_spec(name)
    suite = gx.ExpectationSuite(name=spec["name"], meta=spec.get("meta", {}))
    for e in spec["expectations"]:
        suite.add_expectation_configuration(
            ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e["meta"])
        )
    if len(suite.expectations) != len(spec["expectations"]):
        # GX merges expectations it considers equivalent (same type and column): every rule
        # must keep its own expectation, so that each failure maps to its reason.
        raise ValidationError(f"suite {name}: two expectations share a type and column")
    suite = ctx.suites.add(suite)
    source = ctx.data_sources.add_pandas(f"landing_{name}")
    asset = source.add_dataframe_asset(name)
    return suite, asset.add_batch_definition_whole_dataframe("batch")


# Great Expectations' context and suites are built once per process, by whichever thread needs
# them first (e.g. two portal uploads checked at once); the others wait for it.
_BUILD = threading.RLock()


def _context():
    with _BUILD:
        return _built_context()


def _suite_and_batch_definition(name: str):
    with _BUILD:
        return _built_suite(name)


# GX works on a pandas copy of the frame and keeps COMPLETE results (row positions); validating
# a million-row night in one call peaks at ~1.7 GB. Larger frames are validated in slices of
# this many rows - every rule is still evaluated by GX on every row, the slices' results are
# merged (row positions offset, counts summed). A GX call costs ~0.1 s of fixed overhead with
# this suite (a 700,000-row batch: 0.54 s in one call, 0.64 s in two); slices of 350,000 rows
# keep the companion process, which validates while this process prepares the next batch, at
# ~0.5 GB instead of ~0.7 GB (issue 19: the command and its companion together stay under 2 GiB
# for a million-row day). (Slices of ``Settings.gx_slice_rows`` rows.)
_ROW_WISE = frozenset({
    "expect_column_values_to_not_be_null", "expect_column_values_to_be_in_set",
    "expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex",
    "expect_column_values_to_be_between", "expect_column_pair_values_to_be_equal",
    "expect_column_pair_values_a_to_be_greater_than_b",
})
DEFAULT_SLICE_ROWS = GX_SLICE_ROWS   # Settings.gx_slice_rows (EKTP_GX_SLICE_ROWS)


@contextmanager
def _configurations_built_once():
    """Within one GX call, build each expectation's configuration once.

    ``Expectation.configuration`` is a property that rebuilds an ``ExpectationConfiguration``
    from the pydantic model (``dict()``, a deep walk of the kwargs) on every access, and GX's
    validator reads it ~125 times per expectation per call: with the area's desa list as a
    kwarg (3,259 codes at a province) that was 9.4 s of the province year's 47 s under cProfile
    (issue 19). The expectation objects of a call are built from the suite when the call starts
    and not changed by it, so the value is the same each time; it is kept, per object, for the
    call only, and the property is restored when the call ends. Results are unchanged (tested:
    ``test_validation_gives_the_same_outcome_with_configurations_built_once``)."""
    from great_expectations.expectations.expectation import Expectation

    prop = Expectation.__dict__["configuration"]
    built: dict[int, tuple] = {}

    def configuration(self):
        got = built.get(id(self))
        if got is None or got[0] is not self:   # the object itself is kept: its id is not reused
            got = built[id(self)] = (self, prop.fget(self))
        return got[1]

    with _GX_PATCH:
        Expectation.configuration = property(configuration, doc=prop.__doc__)
        try:
            yield
        finally:
            Expectation.configuration = prop


_GX_PATCH = threading.Lock()   # one GX call at a time per process patches the property


def _validate_slice(name: str, pdf, desa: list[str]) -> dict:
    suite, batch_definition = _suite_and_batch_definition(name)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": pdf})
    with _configurations_built_once():
        result = batch.validate(
            suite,
            result_format={"result_format": "COMPLETE", "partial_unexpected_count": 0},
            expectation_parameters={"kode_desa_list": desa},
        )
    by_key = {}
    for res in result.results:
        cfg = res.expectation_config
        by_key[_key(cfg.type, cfg.kwargs, cfg.meta.get("reason"))] = res
    return by_key


def built_here() -> bool:
    """Great Expectations' context is built in this process already (or being built)."""
    return _built_context.cache_info().currsize > 0 or "great_expectations" in sys.modules


def build_here() -> None:
    """Import Great Expectations and build its context and every suite in this process."""
    for name in (REKAM_SUITE, PENDUDUK_SUITE, PERMOHONAN_SUITE):
        _suite_and_batch_definition(name)


def warm(feed: str) -> None:
    """Validate one made-up row with the suite of ``feed`` (a kind of flows.ingest.feeds: a
    suite's first GX call costs twice a later one; the companion does this while it waits)."""
    from flows.ingest.read import PENDUDUK_COLUMNS, PERMOHONAN_COLUMNS, PERMOHONAN_OPTIONAL, REKAM_COLUMNS

    columns, check = {"penduduk": (PENDUDUK_COLUMNS, validate_penduduk), "rekam": (REKAM_COLUMNS, validate_rekam),
                      "permohonan": (PERMOHONAN_COLUMNS + PERMOHONAN_OPTIONAL, validate_permohonan)}[feed]
    check(pl.DataFrame({**{c: [""] for c in columns}, "source_file": ["warm"], "log_date": ["2025-01-01"],
                        "line_number": [2]}))


# Where a frame is validated: in the command's companion process (flows/companion.py), which has
# imported Great Expectations while the command started, whenever there is one. A frame of a
# batch of logs crosses as an Arrow file in shared memory (0.1 s of this process's CPU for a
# 707,000-row batch, against ~0.6 s to validate it here), and this process does not import Great
# Expectations at all (~1.1 s of CPU): it parses the next batch, hashes the pseudonyms and writes
# the last batch meanwhile (issue 19). Without a companion (Dask workers, the portal, a companion
# that died) the frame is validated here, Great Expectations imported when first needed.
REMOTE_MAX_LOG_BYTES = 5 * 1024 * 1024


def expect_logs(log_bytes: int) -> None:
    """Told how many bytes of logs this run will validate (after discovery): above
    ``REMOTE_MAX_LOG_BYTES``, and when there is no companion process to validate them, Great
    Expectations is imported in this process in a background thread while the run reads and parses
    its first batch of logs (Polars and DuckDB release the GIL; the import waits for nothing else)."""
    from flows import companion

    if log_bytes > REMOTE_MAX_LOG_BYTES and not built_here() and not companion.running():
        threading.Thread(target=build_here, name="ektp-gx-import", daemon=True).start()


def run_suite(name: str, frame: pl.DataFrame, slice_rows: int = DEFAULT_SLICE_ROWS,
              desa: frozenset[str] | None = None) -> tuple[list[list[int]], list[dict]]:
    """``run_suite_here``, in the command's companion process when it has one, else in this
    process. A rule GX cannot evaluate raises ValidationError either way; a companion that failed
    otherwise leaves the frame to this process."""
    from flows import companion

    got = companion.call("validate", name, frame, slice_rows, desa)
    if got is None:
        return run_suite_here(name, frame, slice_rows, desa)
    if got.raised is None:
        return got.value
    if got.raised == "ValidationError":
        raise ValidationError(got.text)
    logging.getLogger(__name__).warning("validation in the companion failed (%s); validating here", got.raised)
    return run_suite_here(name, frame, slice_rows, desa)


def run_suite_here(name: str, frame: pl.DataFrame, slice_rows: int = DEFAULT_SLICE_ROWS,
                   desa: frozenset[str] | None = None) -> tuple[list[list[int]], list[dict]]:
    """Validate ``frame`` (converted to pandas, default RangeIndex) against suite ``name``.
    ``desa``: the desa/kelurahan codes of the reference list (the suite's ``kode_desa_list``: the
    area's, or a snapshot's coverage); default the default area's.

    Returns, per rule in priority order, the row positions that failed it, and the outcome summary.
    Frames longer than ``slice_rows`` are validated slice by slice (see above); the result is the
    same as one call over the whole frame (only suites of row-wise rules are sliced).
    """
    rs = rules(name)
    # only suites whose every rule is row-wise may be sliced (the snapshot suite checks uniqueness
    # and the full desa set over the whole frame: it is always one GX call)
    step = max(1, slice_rows) if all(r.type in _ROW_WISE for r in rs) else max(1, frame.height)
    offsets = list(range(0, frame.height, step)) or [0]
    desa_list = sorted(desa if desa is not None else desa_codes(DEFAULT_AREA))
    failed: list[list[int]] = [[] for _ in rs]
    counts = [[0, 0, True] for _ in rs]   # element_count, unexpected_count, success
    for offset in offsets:
        part = frame.slice(offset, step)
        pdf = part.to_pandas()
        by_key = _validate_slice(name, pdf, desa_list)
        del pdf
        for k, rule in enumerate(rs):
            res = by_key.get((rule.type, rule.column, rule.reason))
            if res is None:
                raise ValidationError(f"no validation result for rule {rule.reason} ({rule.type})")
            raised = _raised(res.exception_info)
            if raised is not None:
                raise ValidationError(f"Great Expectations could not evaluate {rule.type} on {rule.column}: {raised}")
            r = res.result or {}
            failed[k].extend(int(i) + offset for i in r.get("unexpected_index_list") or [])
            counts[k][0] += int(r.get("element_count") or len(part))
            counts[k][1] += int(r.get("unexpected_count") or 0)
            counts[k][2] = counts[k][2] and bool(res.success)
    summary = [{
        "suite": name,
        "reason": rule.reason,
        "expectation_type": rule.type,
        "column_name": rule.column,
        "element_count": c[0],
        "unexpected_count": c[1],
        "success": c[2],
    } for rule, c in zip(rs, counts)]
    return failed, summary


def _raised(info) -> str | None:
    """The message of an exception GX caught while evaluating an expectation, else None. GX 1.x
    keys ``exception_info`` by metric (``{"MetricConfigurationID(...)": {"raised_exception": True,
    ...}}``); a flat ``{"raised_exception": ...}`` is read too. Before this was read per metric, an
    expectation that raised passed silently (success false, no row unexpected)."""
    if not isinstance(info, dict):
        return None
    for part in (info, *info.values()):
        if isinstance(part, dict) and part.get("raised_exception"):
            return str(part.get("exception_message") or "an exception")
    return None


def _upper_or_empty(col: str) -> pl.Expr:
    return pl.col(col).fill_null("").str.to_uppercase()


def _strict_date(col: str) -> pl.Expr:
    s = pl.col(col)
    return (
        pl.when(s.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(s.str.to_date("%Y-%m-%d", strict=False))
        .when(s.str.contains(r"^\d{2}-\d{2}-\d{4}$")).then(s.str.to_date("%d-%m-%Y", strict=False))
        .when(s.str.contains(r"^\d{2}/\d{2}/\d{4}$")).then(s.str.to_date("%d/%m/%Y", strict=False))
        .otherwise(None)
    )


def derive_rekam(rows: pl.DataFrame) -> pl.DataFrame:
    """Add the typed/normalised columns the rekam suite checks (see expectations/rekam_log.json)."""
    waktu_key = pl.col("waktu_rekam").fill_null("").str.replace(r"^(\d{4}-\d{2}-\d{2})T", "$1 ")
    frame = rows.with_columns(
        nik_raw=pl.col("nik").fill_null(""),
        nik=sent_nik(),
    ).with_columns(
        nik_provinsi=pl.col("nik").str.slice(0, 2),
        nik_tgl=pl.col("nik").str.slice(6, 2),
        nik_bulan=pl.col("nik").str.slice(8, 2),
        nik_serial=pl.col("nik").str.slice(12, 4),
        jenis_kelamin_norm=_upper_or_empty("jenis_kelamin"),
        status_kawin_norm=_upper_or_empty("status_kawin").str.replace_all("_", " "),
        kode_desa_norm=_upper_or_empty("kode_desa"),
        jenis_rekam_norm=_upper_or_empty("jenis_rekam"),
        lokasi_rekam_norm=_upper_or_empty("lokasi_rekam"),
        tanggal_lahir_date=_strict_date("tanggal_lahir"),
        waktu_rekam_key=waktu_key,
    ).with_columns(
        tanggal_lahir_date=pl.when(pl.col("tanggal_lahir_date").dt.year() >= 1).then("tanggal_lahir_date"),  # no year 0000
        # seconds 00-59 only: Polars would turn a leap second (23:59:60) into the next day's 00:00:00
        waktu_rekam_ts=pl.when(pl.col("waktu_rekam_key").str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$")
                               & ~pl.col("waktu_rekam_key").str.starts_with("0000"))
        .then(pl.col("waktu_rekam_key").str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False))
        .otherwise(None),
    ).with_columns(
        waktu_rekam_tanggal=pl.col("waktu_rekam_ts").dt.date().cast(pl.Utf8),
        umur=(
            pl.col("waktu_rekam_ts").dt.year() - pl.col("tanggal_lahir_date").dt.year()
            - (
                (pl.col("waktu_rekam_ts").dt.month().cast(pl.Int32) * 100 + pl.col("waktu_rekam_ts").dt.day())
                < (pl.col("tanggal_lahir_date").dt.month().cast(pl.Int32) * 100 + pl.col("tanggal_lahir_date").dt.day())
            ).cast(pl.Int32)
        ).cast(pl.Int32),
    )
    return frame.with_columns(_dup_seq(frame, ["source_file", "nik", "waktu_rekam_key"]))


def _dup_seq(frame: pl.DataFrame, keys: list[str]) -> pl.Series:
    """0 for the first row of each key in file order, 1, 2, ... for its repeats (duplicate_row).
    A window over three string keys costs ~1.6 s per million rows; an exact is_duplicated test
    costs a tenth of that, and the window then runs only on the (few) rows that repeat a key."""
    seq = pl.zeros(frame.height, dtype=pl.Int32, eager=True).alias("dup_seq")
    repeated = frame.select(pl.struct(keys).is_duplicated())[:, 0]
    if repeated.any():
        idx = repeated.arg_true()
        sub = frame[idx].select(pl.int_range(pl.len()).over(keys).cast(pl.Int32))[:, 0]
        seq = seq.scatter(idx, sub)
    return seq


REKAM_GX_COLUMNS = (
    "nik_raw", "nik", "nik_provinsi", "nik_tgl", "nik_bulan", "nik_serial", "jenis_kelamin_norm", "tanggal_lahir_date", "umur", "status_kawin_norm",
    "kode_desa_norm", "waktu_rekam_ts", "waktu_rekam_tanggal", "log_date", "jenis_rekam_norm",
    "lokasi_rekam_norm", "id_alat", "dup_seq",
)


def _assign_reasons(n: int, suite: str, failed: list[list[int]]) -> tuple[list, list]:
    rs = rules(suite)
    primary = np.full(n, -1, dtype=np.int32)
    mask = np.zeros(n, dtype=np.int64)
    for k, idx in enumerate(failed):
        if not idx:
            continue
        arr = np.asarray(idx, dtype=np.int64)
        mask[arr] |= np.int64(1) << k
        unset = arr[primary[arr] == -1]
        primary[unset] = k
    reasons: list = [None] * n
    details: list = [None] * n
    for i in np.nonzero(primary >= 0)[0].tolist():
        k = int(primary[i])
        others = [rs[j].reason for j in range(len(rs)) if j != k and mask[i] >> j & 1]
        reasons[i] = rs[k].reason
        details[i] = rs[k].detail + (f"; also breaks: {', '.join(others)}" if others else "")
    return reasons, details


def validate_rekam(rows: pl.DataFrame, slice_rows: int = DEFAULT_SLICE_ROWS,
                   desa: frozenset[str] | None = None) -> tuple[pl.DataFrame, list[dict]]:
    """Derive, validate and label every row. Rows need source_file, log_date (ISO str), line_number.
    ``desa``: the area's desa/kelurahan codes (default: the default area's)."""
    frame = derive_rekam(rows)
    if frame.height == 0:
        return frame.with_columns(reason=pl.lit(None, pl.Utf8), detail=pl.lit(None, pl.Utf8)), []
    # umur as Int64: GX's pandas expect_column_values_to_be_between is vectorised only for
    # int64/float64 columns (Int32 goes through a Python function per row: ~5 s per million rows);
    # same values, same outcome.
    failed, summary = run_suite(REKAM_SUITE, frame.select(REKAM_GX_COLUMNS).with_columns(pl.col("umur").cast(pl.Int64)),
                                slice_rows, desa)
    reasons, details = _assign_reasons(frame.height, REKAM_SUITE, failed)
    frame = frame.with_columns(
        reason=pl.Series(reasons, dtype=pl.Utf8), detail=pl.Series(details, dtype=pl.Utf8)
    )
    return frame, summary


COUNT_COLUMNS = ("wajib_ktp_lk", "wajib_ktp_pr", "sudah_rekam_lk", "sudah_rekam_pr")


def derive_penduduk(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(
        kode_desa_norm=_upper_or_empty("kode_desa"),
        **{f"{c}_raw": pl.col(c).fill_null("") for c in COUNT_COLUMNS},
        **{f"{c}_int": pl.when(pl.col(c).str.contains(r"^[0-9]{1,12}$")).then(pl.col(c).cast(pl.Int64, strict=False))
           for c in COUNT_COLUMNS},
    )


def validate_penduduk(rows: pl.DataFrame, coverage: frozenset[str] | None = None) -> tuple[pl.DataFrame, list[str], list[dict]]:
    """Validate one snapshot against its ``coverage`` (the desa of the area, or of its kab/kota;
    default the default area's): every desa of it present, none outside it. Returns the derived
    frame, the list of broken-rule sentences (empty: the snapshot is good) and the outcome summary."""
    coverage = coverage if coverage is not None else desa_codes(DEFAULT_AREA)
    frame = derive_penduduk(rows)
    gx_cols = ["kode_desa_norm", *[f"{c}_raw" for c in COUNT_COLUMNS], *[f"{c}_int" for c in COUNT_COLUMNS]]
    failed, summary = run_suite(PENDUDUK_SUITE, frame.select(gx_cols), desa=coverage)
    problems = []
    lines = frame["line_number"].to_list()
    for rule, idx, outcome in zip(rules(PENDUDUK_SUITE), failed, summary):
        if outcome["success"]:
            continue
        if rule.reason == "desa_missing":
            present = set(frame["kode_desa_norm"].to_list())
            missing = len(coverage - present)
            problems.append(f"{rule.reason}: {missing} of {len(coverage)} desa/kelurahan are missing")
        else:
            where = sorted({lines[i] for i in idx})
            shown = ", ".join(str(x) for x in where[:10]) + (" ..." if len(where) > 10 else "")
            problems.append(f"{rule.reason}: {rule.detail} (line {shown})")
    if frame.height == 0:
        problems.insert(0, "desa_missing: the snapshot has no rows")
    return frame, problems, summary


PERMOHONAN_GX_COLUMNS = ("kode_desa_norm", "tanggal_surat_date", "tanggal_daftar", "nomor_surat", "perkiraan_warga",
                         "perkiraan_warga_int", "dup_seq")


def derive_permohonan(rows: pl.DataFrame) -> pl.DataFrame:
    """Add the typed/normalised columns the request suite checks (see expectations/permohonan.json).
    Rows need source_file, log_date (the registration date, ISO str), line_number."""
    return rows.with_columns(
        kode_desa_norm=_upper_or_empty("kode_desa"),
        tanggal_surat_date=_strict_date("tanggal_surat"),
        tanggal_daftar=pl.col("log_date").str.to_date("%Y-%m-%d"),
        nomor_surat_key=pl.col("nomor_surat").str.to_uppercase(),
        perkiraan_warga_int=pl.when(pl.col("perkiraan_warga").str.contains(r"^[0-9]{1,12}$"))
        .then(pl.col("perkiraan_warga").cast(pl.Int64, strict=False)),
        dup_seq=pl.lit(0, pl.Int32),
    ).with_columns(tanggal_surat_date=pl.when(pl.col("tanggal_surat_date").dt.year() >= 1).then("tanggal_surat_date"))


def validate_permohonan(rows: pl.DataFrame, slice_rows: int = DEFAULT_SLICE_ROWS,
                        desa: frozenset[str] | None = None) -> tuple[pl.DataFrame, list[dict]]:
    """Derive, validate and label every request row (reason null for a good row). A duplicate is
    a VALID row repeating an earlier valid row of its file (the first valid row counts), so when a
    key repeats the suite runs twice: once to find the rows valid on the other rules, once with
    their dup_seq."""
    frame = derive_permohonan(rows)
    if frame.height == 0:
        return frame.with_columns(reason=pl.lit(None, pl.Utf8), detail=pl.lit(None, pl.Utf8)), []
    failed, summary = run_suite(PERMOHONAN_SUITE, frame.select(PERMOHONAN_GX_COLUMNS), slice_rows, desa)
    keys = ["source_file", "kode_desa_norm", "nomor_surat_key"]
    if frame.select(pl.struct(keys).is_duplicated().any()).item():
        # some request repeats another of its file: number the repeats among the rows valid on the
        # other rules (this first pass had dup_seq 0 everywhere), then validate again. A GX call
        # costs ~0.5 s, so the second one is made only when a key repeats at all.
        first, _ = _assign_reasons(frame.height, PERMOHONAN_SUITE, failed)
        valid = pl.Series([r is None for r in first])
        dup = frame.filter(valid).with_row_index("i").select(
            "i", pl.int_range(pl.len()).over(keys).cast(pl.Int32).alias("d"))
        seq = pl.zeros(frame.height, dtype=pl.Int32, eager=True).scatter(valid.arg_true().gather(dup["i"]), dup["d"])
        frame = frame.with_columns(dup_seq=seq)
        failed, summary = run_suite(PERMOHONAN_SUITE, frame.select(PERMOHONAN_GX_COLUMNS), slice_rows, desa)
    reasons, details = _assign_reasons(frame.height, PERMOHONAN_SUITE, failed)
    return frame.with_columns(reason=pl.Series(reasons, dtype=pl.Utf8), detail=pl.Series(details, dtype=pl.Utf8)), summary
