"""Writing each day's logs and request files, counted in a ``_Ledger`` (what the manifest will promise).

In: the output folder, the plan, a ``_Day``. Out: files under ``rekam/`` and ``permohonan/``; the ledger
updated. Fails: OSError from the files.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from flows.ingest.read import REKAM_COLUMNS
from flows.synth.calendar import exact_age
from flows.synth.codes import CHANNELS, JEMPUT_BOLA, ROW_REASONS
from flows.synth.day import BROKEN, LOADABLE, _Day
from flows.synth.plan import _Plan
from flows.synth.regions import _Regions


@dataclass
class _Ledger:
    """What the manifest will promise, counted as the days are written."""
    files_written: int = 0
    rows_written: int = 0
    dirty_rows: int = 0
    loaded_rows: int = 0
    quarantine: np.ndarray = field(default_factory=lambda: np.zeros(len(ROW_REASONS) + 1, dtype=np.int64))
    rejected: list = field(default_factory=list)      # {path, reason_code}
    missing: list = field(default_factory=list)       # [date, kode_kecamatan]: no file
    header_only: list = field(default_factory=list)   # [date, kode_kecamatan]: a valid file with no rows
    candidates: list = field(default_factory=list)    # frames: clean BARU rows of files that will be loaded
    jemput_bola: dict = field(default_factory=dict)   # desa index -> ordinals of the days with a loaded JEMPUT_BOLA row
    request_rows: int = 0
    request_quarantine: Counter = field(default_factory=Counter)  # reason -> request rows

    def count_rows(self, d: _Day) -> None:
        """Count the day's rows: written (not in a file lost or cut off), dirty, quarantined by reason
        and loaded (in files that will be loaded); keep the clean BARU rows of those files as
        (person, time, desa, wajib KTP at it, channel)."""
        rows = d.rows
        fk = rows["file_kec"].to_numpy()
        reason = rows["reason"].to_numpy()
        loadable = d.fate[fk] == LOADABLE
        lost = d.fate[fk] == BROKEN
        for k, (kind, _) in d.defects.items():
            if kind == "empty_file":
                lost |= fk == k
        self.rows_written += int((~lost).sum())
        self.dirty_rows += int(((reason >= 0) & ~lost).sum())
        self.quarantine += np.bincount(reason[loadable & (reason >= 0)], minlength=len(self.quarantine))
        self.loaded_rows += int((loadable & (reason < 0)).sum())
        visited = loadable & (reason < 0) & (rows["channel"].to_numpy() == JEMPUT_BOLA)  # any jenis_rekam
        for desa in np.unique(rows["desa"].to_numpy()[visited]).tolist():
            self.jemput_bola.setdefault(desa, []).append(d.day.toordinal())
        good = np.flatnonzero(loadable & (reason < 0) & ~rows["ulang"].to_numpy())
        if len(good):
            umur = exact_age(rows["birth"].to_numpy()[good], np.full(len(good), np.datetime64(d.day, "D")))
            self.candidates.append(pl.DataFrame({
                "nik_int": rows["nik_int"].to_numpy()[good],
                "ts": d.day.toordinal() * 86_400 + rows["seconds"].to_numpy()[good],
                "desa": rows["desa"].to_numpy()[good].astype(np.int32),
                "wajib": (umur >= 17) | (rows["status"].to_numpy()[good] != 0),
                "channel": rows["channel"].to_numpy()[good].astype(np.int8),
            }))

    def served(self, r: date, desa: int, end: date) -> date | None:
        """The first date in [r, end] with a loaded JEMPUT_BOLA row of ``desa``, or None (still open)."""
        days = self.jemput_bola.get(desa, [])
        j = bisect.bisect_left(days, r.toordinal())
        return date.fromordinal(days[j]) if j < len(days) and days[j] <= end.toordinal() else None

    def first_recordings(self, nd: int, until: date | None = None) -> tuple[np.ndarray, int, np.ndarray]:
        """The persons whose first clean BARU row falls in the window (with ``until``: on or before that
        date). Out: those wajib KTP at it per desa (``nd`` desa), all of them, all of them per channel."""
        new = np.zeros(nd, dtype=np.int64)
        first_any = 0
        by_channel = np.zeros(len(CHANNELS), dtype=np.int64)
        if self.candidates:
            c = pl.concat(self.candidates).sort("nik_int", "ts").unique("nik_int", keep="first", maintain_order=True)
            if until is not None:
                c = c.filter(pl.col("ts") < (until.toordinal() + 1) * 86_400)
            wajib = c["wajib"].to_numpy()
            new = np.bincount(c["desa"].to_numpy()[wajib].astype(np.int64), minlength=nd)
            first_any = c.height
            by_channel = np.bincount(c["channel"].to_numpy().astype(np.int64), minlength=len(CHANNELS))
        return new, first_any, by_channel


def _write_day(out_dir: Path, reg: _Regions, d: _Day, ledger: _Ledger) -> None:
    """Write the day's logs under ``out_dir``, kecamatan by kecamatan as its fate says, and note in
    the ledger each file written, missing, header-only or meant to be rejected. Fails: OSError."""
    parts, empty = _by_file(d.rows, len(reg.kec))
    day = d.day.isoformat()
    for k in range(len(reg.kec)):
        kec = str(reg.kec[k])
        rel = f"rekam/{day}/{kec}.csv"
        if d.fate[k] == BROKEN and not d.header_only[k]:  # broken device: nothing sent ...
            ledger.missing.append([day, kec])
            continue
        ledger.files_written += 1
        if d.fate[k] == BROKEN:  # ... or an export with no rows
            _write(out_dir / rel, empty, d.dialects[k])
            ledger.header_only.append([day, kec])
        elif d.fate[k] == LOADABLE:
            part = parts.get(k, empty)
            _write(out_dir / rel, part, d.dialects[k])
            if len(part) == 0:
                ledger.header_only.append([day, kec])
        else:
            kind = d.defects[k][0]
            if kind in ("unknown_kecamatan", "folder_not_a_date"):  # written elsewhere: its own log is missing
                ledger.missing.append([day, kec])
            rel = _write_rejected(out_dir, reg, d, k, parts.get(k, empty))
            ledger.rejected.append({"path": rel, "reason_code": kind})


def _write_requests(out_dir: Path, plan: _Plan, i: int, ledger: _Ledger) -> None:
    """Write the village requests registered on day ``i`` (if any) in their dialect, and count their
    rows and the reasons of the bad ones in the ledger. Fails: OSError."""
    planned = plan.outreach.request_files.get(i)
    if planned is None:
        return
    header, rows, reasons, d = planned
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=d["sep"], lineterminator=d["eol"])
    w.writerow(header)
    w.writerows(rows)
    path = out_dir / "permohonan" / f"{plan.days[i].isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if d["bom"] else b"") + buf.getvalue().encode("utf-8"))
    ledger.files_written += 1
    ledger.request_rows += len(rows)
    ledger.request_quarantine.update(r for r in reasons if r is not None)


def _by_file(rows: pl.DataFrame, nk: int) -> tuple[dict, list | pl.DataFrame]:
    """The day's rows (sorted by file) cut per kecamatan index, and an empty log's rows. A realistic
    day becomes tuples in REKAM_COLUMNS order once and is sliced; above SMALL_FILE_ROWS rows, frames."""
    if rows.height <= SMALL_FILE_ROWS:
        tuples = rows.select(REKAM_COLUMNS).rows()
        cut = np.searchsorted(rows["file_kec"].to_numpy(), np.arange(nk + 1))
        return {k: tuples[cut[k]:cut[k + 1]] for k in range(nk)}, []
    parts = rows.partition_by("file_kec", as_dict=True, maintain_order=True)
    return {int(k[0]): df for k, df in parts.items()}, rows.head(0)


def _write_rejected(out_dir: Path, reg: _Regions, d: _Day, k: int, part: pl.DataFrame | list[tuple]) -> str:
    """Write kecamatan ``k``'s log with its planned defect (``d.defects[k]``). Out: the path written,
    relative to ``out_dir``. Fails: OSError."""
    kec, day = str(reg.kec[k]), d.day.isoformat()
    kind, how = d.defects[k]
    rel = f"rekam/{day}/{kec}.csv"
    if kind == "empty_file":  # the upload broke off
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    elif kind == "missing_columns":  # an old export template without id_alat (or status_kawin)
        _write(out_dir / rel, part, d.dialects[k], drop="status_kawin" if how % 3 == 2 else "id_alat")
    elif kind == "unknown_kecamatan":  # saved under a wrong name
        name = [reg.kec_file_name[k], f"{kec} (1)", _typo(kec)][how % 3]
        rel = f"rekam/{day}/{name}.csv"
        _write(out_dir / rel, part, d.dialects[k])
    else:  # folder_not_a_date: the day typed backwards
        rel = f"rekam/{how}/{kec}.csv"
        _write(out_dir / rel, part, d.dialects[k])
    return rel


def _typo(kec: str) -> str:
    """A kecamatan code as typed without its zero padding (``16.09.05`` -> ``16.9.05``), or without its dots
    when the kab/kota number has no leading zero (``16.71.01`` -> ``167101``): never a code of the list."""
    prov, kab, rest = kec.split(".", 2)
    return f"{prov}.{kab[1:]}.{rest}" if kab.startswith("0") else kec.replace(".", "")


SMALL_FILE_ROWS = 20_000  # up to this many rows a log is written by the csv module (less overhead), above by Polars


def _write(path: Path, rows: pl.DataFrame | list[tuple], d: dict, drop: str | None = None,
           engine: str | None = None) -> None:
    """Write one log in dialect ``d`` (every dialect is valid per contract section 2). ``rows`` is a
    frame, or tuples in REKAM_COLUMNS order. Both engines give the same bytes (pinned by a test); ``engine``
    ("csv"/"polars") overrides the rule (tuples: csv; frames: csv up to SMALL_FILE_ROWS rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [c for c in REKAM_COLUMNS if c != drop]
    if isinstance(rows, list):
        engine = "csv"
    else:
        engine = engine or ("csv" if rows.height <= SMALL_FILE_ROWS else "polars")
    if engine == "polars":
        df = rows.select(names)
        if d["extra"] == 1:  # a row number in front and a remarks column at the end, as typed in a spreadsheet
            df = df.select(pl.int_range(1, pl.len() + 1).cast(pl.Utf8).alias("no"), pl.all(),
                           pl.when(pl.col("jenis_rekam").str.to_uppercase() == "ULANG").then(pl.lit(ULANG_NOTE))
                           .otherwise(None).alias("keterangan"))
        elif d["extra"] == 2:
            df = df.with_columns(pl.lit(None, pl.Utf8).alias("keterangan"))
        df = df.select(_header_order(df.columns, d)).rename(lambda c: _header_name(c, d))
        with path.open("wb") as fh:
            df.write_csv(fh, separator=d["sep"], line_terminator=d["eol"], include_bom=d["bom"], quote_style=d["quote"])
        return
    header = list(names)
    if isinstance(rows, list):
        keep = [j for j, c in enumerate(REKAM_COLUMNS) if c != drop]
        data = rows if drop is None else [tuple(r[j] for j in keep) for r in rows]
    else:
        data = rows.select(names).rows()
    if d["extra"] == 1:
        j = names.index("jenis_rekam")
        header = ["no", *header, "keterangan"]
        data = [(str(i), *r, ULANG_NOTE if (r[j] or "").upper() == "ULANG" else None) for i, r in enumerate(data, 1)]
    elif d["extra"] == 2:
        header = [*header, "keterangan"]
        data = [(*r, None) for r in data]
    order = [header.index(c) for c in _header_order(header, d)]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=d["sep"], lineterminator=d["eol"],
                   quoting=csv.QUOTE_ALL if d["quote"] == "always" else csv.QUOTE_MINIMAL)
    w.writerow([_header_name(header[j], d) for j in order])
    w.writerows([[r[j] for j in order] for r in data] if order != list(range(len(header))) else data)
    path.write_bytes((b"\xef\xbb\xbf" if d["bom"] else b"") + buf.getvalue().encode("utf-8"))


ULANG_NOTE = "rekam ulang, data rusak"


def _header_order(columns: list[str], d: dict) -> list[str]:
    """The header's column order in dialect ``d``."""
    return sorted(columns, reverse=True) if d["header"] == 1 else list(columns)


def _header_name(c: str, d: dict) -> str:
    """Column ``c`` as the header of dialect ``d`` spells it."""
    return c.upper() if d["header"] == 1 else f" {c.title()} " if d["header"] == 2 else c
