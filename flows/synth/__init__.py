"""The synthetic landing zone (``ektp generate``, ``ektp demo``, benchmarks): demo tooling, beside the pipeline.

In: a date range, a seed, optionally rows per day and the snapshot totals to calibrate to.
Out: ``out_dir/rekam/<date>/<kode_kecamatan>.csv`` for every day, ``out_dir/permohonan/<date>.csv`` on the
office days a village request was registered, one population snapshot
``out_dir/penduduk/<start - 1 day>.csv`` and ``out_dir/.generator_manifest.json`` (hidden; what the pipeline
should find; no NIK, no name). Deterministic: the same arguments give byte-identical files.
Raises UserError when the range ends before it starts, ValueError for a negative ``rows_per_day`` or
a calibration that cannot be met (found after the logs are written).

The package reads in the order ``generate`` runs it (docs/generator.md, "How the package is organised"):

- ``codes``: the reason codes and code lists, read from the suites (``expectations/*.json``);
- ``calendar``: the volume knobs, dates as numpy datetime64[D], the office calendar, weighted draws;
- ``regions``: the region list and its stable per-desa draws;
- ``plan`` and ``outreach``: everything decided before the first day (broken devices, files rejected
  whole, one seed per day, long breakdowns, village requests and the visits planned for them);
- ``day``, ``people`` and ``dirt``: one day's rows (how many, where, when, who), the strings a kecamatan
  sends, the dirt in them, and what becomes of each kecamatan's log;
- ``write`` and ``snapshot``: each day's files counted in a ledger; after the last day the snapshot
  and the manifest.

Nothing of the pipeline imports this package; it imports the pipeline's column lists
(``flows.ingest.read``), suites (``flows.ingest.validate``), region list (``flows.reference.wilayah``) and dates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from flows.reference.wilayah import DEFAULT_AREA
from flows.synth.calendar import days_to_birthday, exact_age
from flows.synth.codes import COLUMNS, FILE_REASONS, MANIFEST, REQUEST_COLUMNS, REQUEST_REASONS, ROW_REASONS
from flows.synth.day import _Carry, _day, _Pool
from flows.synth.people import _Serials
from flows.synth.plan import _check_arguments, _plan
from flows.synth.regions import bps_table
from flows.synth.snapshot import GenerateSummary, _finish
from flows.synth.write import _Ledger, _write_day, _write_requests

__all__ = ["COLUMNS", "FILE_REASONS", "MANIFEST", "REQUEST_COLUMNS", "REQUEST_REASONS", "ROW_REASONS",
           "GenerateSummary", "bps_table", "days_to_birthday", "exact_age", "generate"]


def generate(out_dir: Path, start: date, end: date, *, seed: int = 2025, rows_per_day: int | None = None,
             calibrate_to: tuple[int, int] | None = None, dirt: bool = True,
             progress: Callable[[int, int], None] | None = None, wilayah: tuple[str, ...] | None = None) -> GenerateSummary:
    """Write a landing zone for log dates start..end into ``out_dir`` (see the module doc).

    In: the folder (created as needed); the log dates; the seed; ``rows_per_day`` None for the
    realistic volume (weekdays, holidays, broken devices), else exactly that many recordings a day;
    ``calibrate_to`` the (wajib KTP, sudah rekam) the marts should show at ``end``; ``dirt`` False for
    canonical files; ``progress(days done, days)`` after each day; ``wilayah`` the area (codes as
    ``flows.reference.wilayah.parse_area`` returns them; None: OKU Selatan, the zone of today byte for byte).
    Out: the summary. Write into an empty directory: files of an earlier generation with other
    arguments are not removed.
    Fails: UserError when end is before start; ValueError for a negative ``rows_per_day``, a seed
    numpy refuses (negative), a NIK prefix out of 4-digit serials (lower ``rows_per_day``) or a
    calibration that cannot be met (after the logs are written: no snapshot, no manifest); OSError
    from the files.
    """
    _check_arguments(start, end, rows_per_day)
    out_dir = Path(out_dir)
    plan = _plan(start, end, seed, rows_per_day, calibrate_to, dirt, tuple(wilayah or DEFAULT_AREA))
    carry = _Carry(_Serials(seed), _Pool([]))
    ledger = _Ledger()
    for i in range(len(plan.days)):
        day = _day(plan, i, carry)
        ledger.count_rows(day)
        _write_day(out_dir, plan.reg, day, ledger)
        _write_requests(out_dir, plan, i, ledger)
        if progress is not None:
            progress(i + 1, len(plan.days))
    return _finish(out_dir, plan, ledger)
