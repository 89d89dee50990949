"""After the last day: the population snapshot (calibrated on the ledger's first recordings) and the manifest.

In: the output folder, the plan, the ledger. Out: ``penduduk/<date>.csv``, the manifest and the
``GenerateSummary``. Fails: ValueError for a calibration that cannot be met; OSError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from flows.ingest.read import PENDUDUK_COLUMNS
from flows.reference.wilayah import DEFAULT_AREA
from flows.synth.codes import CHANNELS, DUPLICATE, MANIFEST, REQUEST_REASONS, ROW_REASONS
from flows.synth.plan import _Plan
from flows.synth.regions import _Regions
from flows.synth.write import _Ledger


@dataclass(frozen=True)
class GenerateSummary:
    """What ``generate`` wrote; ``expected`` is the manifest's content."""
    out_dir: Path
    files_written: int
    rows_written: int          # data rows in all rekam files
    dirty_rows: int            # rows written to break a contract row rule (incl. duplicates)
    rejected_files: int        # files written to be rejected at file level
    snapshot_date: date
    expected: dict             # same content as the manifest


def _allocate(total: int, weights: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Integers summing to ``total``, proportional to ``weights`` within [lower, upper] (water-filling,
    then largest remainders). Raises ValueError when the bounds cannot hold the total."""
    lower, upper = lower.astype(np.float64), upper.astype(np.float64)
    if lower.sum() > total or upper.sum() < total or (lower > upper).any():
        raise ValueError("cannot allocate the total within the bounds")
    x = lower.copy()
    free = upper > lower
    w = np.maximum(weights.astype(np.float64), 1e-12)
    for _ in range(len(x) + 1):
        rest = total - x[~free].sum()
        share = rest * w[free] / w[free].sum()
        lo, hi = lower[free], upper[free]
        below, above = share < lo, share > hi
        if not below.any() and not above.any():
            x[free] = share
            break
        idx = np.flatnonzero(free)
        fix = idx[below | above]
        x[fix] = np.where(below, lo, hi)[below | above]
        free[fix] = False
        if not free.any():
            break
    out = np.floor(x + 1e-9).astype(np.int64)
    rest = int(total - out.sum())
    room = out < np.floor(upper + 1e-9).astype(np.int64)
    order = np.lexsort((np.arange(len(x)), -(x - out)))
    order = order[room[order]][:rest]
    out[order] += 1
    assert out.sum() == total
    return out


def _snapshot(reg: _Regions, new: np.ndarray, calibrate_to: tuple[int, int] | None) -> pl.DataFrame:
    """The snapshot (PENDUDUK_COLUMNS, one row per desa): wajib/sudah per desa and sex at the cut-off,
    leaving room for the ``new`` wajib KTP recordings per desa of the window; with ``calibrate_to``
    (W, S) exactly W wajib and S - sum(new) sudah. Fails: ValueError when S > W or sum(new) > S."""
    nd = len(reg.desa)
    zero = np.zeros(nd, dtype=np.int64)
    if calibrate_to is not None:
        w_total, s_total = (int(x) for x in calibrate_to)
        if s_total > w_total:
            raise ValueError(f"calibrate_to: sudah rekam {s_total:,} is above wajib KTP {w_total:,}")
        if int(new.sum()) > s_total:
            raise ValueError(f"calibrate_to: the generated window records {int(new.sum()):,} new wajib KTP, "
                             f"more than sudah rekam {s_total:,}")
        wajib = _allocate(w_total, reg.pop, new, np.full(nd, w_total))
        sudah = _allocate(s_total - int(new.sum()), reg.pop * reg.coverage, zero, wajib - new)
    else:
        wajib = _allocate(reg.wajib_total, reg.pop, zero, np.full(nd, reg.wajib_total))
        sudah = np.round(wajib * reg.coverage).astype(np.int64)
        wajib = np.maximum(wajib, sudah + new)  # never a negative backlog at the end
    wajib_lk = np.round(wajib * reg.male_share).astype(np.int64)
    wajib_pr = wajib - wajib_lk
    sudah_lk = np.clip(np.round(sudah * reg.male_share).astype(np.int64), np.maximum(sudah - wajib_pr, 0), wajib_lk)
    sudah_pr = sudah - sudah_lk
    return pl.DataFrame(dict(zip(PENDUDUK_COLUMNS, [reg.desa, wajib_lk, wajib_pr, sudah_lk, sudah_pr])))


def _finish(out_dir: Path, plan: _Plan, ledger: _Ledger) -> GenerateSummary:
    """After the last day: the snapshot, calibrated on the new wajib KTP the logs hold, and the
    manifest. Out: the summary. Fails: ValueError for a calibration that cannot be met; OSError."""
    new, first_any, by_channel = ledger.first_recordings(len(plan.reg.desa))
    snap = _snapshot(plan.reg, new, plan.calibrate_to)
    snap_path = out_dir / "penduduk" / f"{plan.snapshot_date.isoformat()}.csv"
    snap_path.parent.mkdir(parents=True, exist_ok=True)
    with snap_path.open("wb") as fh:
        snap.write_csv(fh)
    ledger.files_written += 1
    expected = _manifest(plan, ledger, new, first_any, by_channel, snap)
    if plan.area != DEFAULT_AREA:
        expected["wilayah"] = list(plan.area)
        expected["kabupaten_snapshots"] = _kabupaten_snapshot(out_dir, plan, ledger, snap)
    (out_dir / MANIFEST).write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    return GenerateSummary(out_dir, ledger.files_written, ledger.rows_written, ledger.dirty_rows,
                           len(ledger.rejected), plan.snapshot_date, expected)


def _kabupaten_snapshot(out_dir: Path, plan: _Plan, ledger: _Ledger, snap: pl.DataFrame) -> list[dict]:
    """For an area other than OKU Selatan: a later snapshot of its first kab/kota, in the middle of the window,
    ``penduduk/<date>/<kode_kabupaten>.csv`` (contract section 4): its desa with the same wajib KTP and the
    new wajib-KTP recordings up to that date added to sudah rekam, so the marts end on the same figures.
    Out: [{path, kode_kabupaten, snapshot_date}] (empty for a one-day window). Fails: OSError."""
    if len(plan.days) < 2:
        return []
    kab, at = plan.reg.kab[0], plan.days[len(plan.days) // 2]
    upto, _, _ = ledger.first_recordings(len(plan.reg.desa), until=at)
    mine = np.char.startswith(plan.reg.desa.astype(str), kab + ".")
    lk_share = plan.reg.male_share
    room_pr = snap["wajib_ktp_pr"].to_numpy() - snap["sudah_rekam_pr"].to_numpy()
    add_pr = np.minimum(upto - np.round(upto * lk_share).astype(np.int64), room_pr)  # sudah <= wajib per sex
    add_lk = upto - add_pr
    later = snap.with_columns(sudah_rekam_lk=pl.Series(snap["sudah_rekam_lk"].to_numpy() + add_lk),
                              sudah_rekam_pr=pl.Series(snap["sudah_rekam_pr"].to_numpy() + add_pr)).filter(pl.Series(mine))
    rel = f"penduduk/{at.isoformat()}/{kab}.csv"
    (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    with (out_dir / rel).open("wb") as fh:
        later.write_csv(fh)
    ledger.files_written += 1
    return [{"path": rel, "kode_kabupaten": kab, "snapshot_date": at.isoformat()}]


def _manifest(plan: _Plan, ledger: _Ledger, new: np.ndarray, first_any: int, by_channel: np.ndarray,
              snap: pl.DataFrame) -> dict:
    """The manifest's content (docs/generator.md lists its keys): the arguments, the ledger's counts
    and lists (sorted), the first recordings and the snapshot's totals."""
    reg, reasons, q = plan.reg, list(ROW_REASONS) + [DUPLICATE], ledger.quarantine
    return {
        "seed": plan.seed, "start": plan.start.isoformat(), "end": plan.end.isoformat(),
        "snapshot_date": plan.snapshot_date.isoformat(), "rows_per_day": plan.rows_per_day, "dirt": plan.dirt,
        "calibrate_to": list(plan.calibrate_to) if plan.calibrate_to else None,
        "rows_written": ledger.rows_written, "files_written": ledger.files_written, "dirty_rows": ledger.dirty_rows,
        "expected_rows_loaded": ledger.loaded_rows,
        "expected_quarantine_by_reason": {reasons[j]: int(q[j]) for j in range(len(reasons)) if q[j]},
        "expected_rejected_files": sorted(ledger.rejected, key=lambda r: r["path"]),
        "expected_missing": sorted(ledger.missing),
        "expected_header_only": sorted(ledger.header_only),
        "expected_first_recordings": first_any,
        "expected_first_recordings_by_lokasi": {CHANNELS[j]: int(by_channel[j]) for j in range(len(CHANNELS))},
        "expected_new_wajib_total": int(new.sum()),
        "expected_new_wajib_by_desa": {str(reg.desa[j]): int(new[j]) for j in range(len(reg.desa))},
        "snapshot_totals": {"wajib_ktp": int(snap["wajib_ktp_lk"].sum() + snap["wajib_ktp_pr"].sum()),
                            "sudah_rekam": int(snap["sudah_rekam_lk"].sum() + snap["sudah_rekam_pr"].sum())},
        "device_breakdowns": [{"kode_kecamatan": str(reg.kec[k]), "first_date": plan.days[a].isoformat(),
                               "last_date": plan.days[b].isoformat(), "broken_at_end": b == len(plan.days) - 1}
                              for k, a, b in plan.outreach.breakdowns],
        "request_rows_written": ledger.request_rows,
        "expected_requests": _expected_requests(plan, ledger),
        "expected_request_quarantine_by_reason": {r: ledger.request_quarantine[r] for r in REQUEST_REASONS
                                                  if ledger.request_quarantine[r]},
    }


def _expected_requests(plan: _Plan, ledger: _Ledger) -> list[dict]:
    """The valid requests, sorted by registration date, kode_desa and nomor_surat, each with the date it
    is served on (``tanggal_dilayani``: the first date from its registration on with a loaded
    JEMPUT_BOLA row of its desa; None while it is open at the end)."""
    out = []
    for i, desa, nomor in plan.outreach.letters:
        served = ledger.served(plan.days[i], desa, plan.end)
        out.append({"tanggal_daftar": plan.days[i].isoformat(), "kode_desa": str(plan.reg.desa[desa]),
                    "nomor_surat": nomor, "tanggal_dilayani": served.isoformat() if served else None})
    return sorted(out, key=lambda r: (r["tanggal_daftar"], r["kode_desa"], r["nomor_surat"]))
