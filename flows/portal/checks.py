"""An upload or a village letter, checked with the pipeline's own code, then written to its landing name.

Uploads go through ``flows.ingest.load.check_log`` (the reader of contract section 2 and the rekam suite
of section 3: the same code path as a run, so the portal and a run never disagree); letters go
through ``flows.ingest.load.prepare_requests`` (the request suite of section 9). No rule is restated
here. Verdicts carry line numbers, reason codes and the fixed Indonesian sentences of
``flows.outputs.feedback`` (never a value of a row). A log that passes the file-level checks is written
atomically (a new file renamed into place: a re-send replaces it); a letter is appended to
``raw/permohonan/<today>.csv`` the same way, only when its row passes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from flows.files import atomic_write
from flows.ingest.discover import Candidate
from flows.ingest.load import RawFile, check_log, prepare_requests
from flows.ingest.read import PERMOHONAN_COLUMNS, PERMOHONAN_OPTIONAL, FileRejected, decode
from flows.ingest.validate import PERMOHONAN_SUITE, suite_spec
from flows.outputs.feedback import FALLBACK, sentences
from flows.reference.wilayah import DEFAULT_AREA, kecamatan_codes

# Great Expectations keeps one context per process: one check at a time.
_GX = threading.Lock()
# letters of one day are read, appended and renamed under this lock (one portal process)
_LETTERS = threading.Lock()
LETTER_COLUMNS = (*PERMOHONAN_COLUMNS, *PERMOHONAN_OPTIONAL)


@dataclass
class Problem:
    line: int | None        # physical line; None for the whole file
    reason: str
    sentence: str


@dataclass
class Verdict:
    accepted: bool                     # passed the file-level checks (and was written)
    landing_name: str
    sha256: str
    rows_ok: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def file_problem(self) -> Problem | None:
        return next((p for p in self.problems if p.line is None), None)


def _sentence(reason: str) -> str:
    return sentences().get(reason, FALLBACK)


def check_upload(data: bytes, log_date: date, kode: str, area: tuple[str, ...] = DEFAULT_AREA) -> Verdict:
    """The pipeline's verdict on a log (no file is written)."""
    with _GX:
        out = check_log(data, log_date, kode, area=area)
    f = out.files[0]
    verdict = Verdict(f.status == "loaded", f.source_file, f.sha256, rows_ok=f.rows_loaded)
    if f.status == "rejected":
        code = (f.error or "unreadable").split(":", 1)[0]
        verdict.problems.append(Problem(None, code, _sentence(code)))
    elif out.quarantine is not None:
        for line, reason in out.quarantine.select("line_number", "reason").iter_rows():
            verdict.problems.append(Problem(int(line), reason, _sentence(reason)))
    return verdict


def warm_up(area: tuple[str, ...] = DEFAULT_AREA) -> None:
    """Build the suite's context once (about 10 s on a busy machine) before the first upload needs
    it: a one-row log of empty values through the same check. Run in a thread at start."""
    from flows.ingest.read import REKAM_COLUMNS

    check_upload((",".join(REKAM_COLUMNS) + "\n" + "," * (len(REKAM_COLUMNS) - 1) + "\n").encode(),
                 date(2025, 1, 1), min(kecamatan_codes(area)), area)


def store_upload(raw_dir: Path, verdict: Verdict, data: bytes) -> Path:
    """Write an accepted log to its landing name atomically (mode 640: the pipeline's reader only)."""
    return atomic_write(raw_dir / verdict.landing_name, data, 0o640)


# --- village letters -------------------------------------------------------------------------------

@dataclass
class Letter:
    kode_desa: str
    tanggal_surat: str
    nomor_surat: str
    perkiraan_warga: str = ""


def _existing(path: Path) -> tuple[bytes, str, list[str]]:
    """The bytes of today's request file, its delimiter and header (the template for a new one)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return b"", ",", list(LETTER_COLUMNS)
    try:
        text = decode(data)
    except FileRejected:
        return data, ",", []
    first = text.split("\n", 1)[0].rstrip("\r")
    delim = ";" if first.count(";") > first.count(",") else ","
    header = next(csv.reader([first], delimiter=delim), [])
    return data, delim, [h.strip().lower() for h in header]


def _append(data: bytes, delim: str, header: list[str], letter: Letter) -> tuple[bytes, int]:
    """The file with one more record and the physical line it starts on."""
    values = {"kode_desa": letter.kode_desa, "tanggal_surat": letter.tanggal_surat,
              "nomor_surat": letter.nomor_surat, "perkiraan_warga": letter.perkiraan_warga}
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim, lineterminator="\r\n" if b"\r\n" in data else "\n")
    if not data:
        w.writerow(header)
    w.writerow([values.get(h, "") for h in header])
    if data and not data.endswith(b"\n"):
        data += b"\r\n" if b"\r\n" in data else b"\n"
    line = data.count(b"\n") + (2 if not data else 1)
    return data + buf.getvalue().encode("utf-8"), line


def _letter_sentence(detail: str) -> str:
    """The Indonesian sentence of a request rule (``meta.penjelasan`` in expectations/permohonan.json)
    when the suite has one, else the rule's own ``detail`` (the suite's sentence, never a value)."""
    for e in suite_spec(PERMOHONAN_SUITE)["expectations"]:
        meta = e.get("meta", {})
        if meta.get("detail") and (detail or "").startswith(meta["detail"]):
            return meta.get("penjelasan") or detail
    return detail or FALLBACK


def register_letter(raw_dir: Path, today: date, letter: Letter, area: tuple[str, ...] = DEFAULT_AREA) -> Verdict:
    """Check a letter against section 9's rules (in today's file, so a repeat of an earlier letter
    of the day is a duplicate) and append it to ``raw/permohonan/<today>.csv`` when its row passes."""
    rel = f"permohonan/{today.isoformat()}.csv"
    path = raw_dir / rel
    with _LETTERS:
        data, delim, header = _existing(path)
        if data and not set(PERMOHONAN_COLUMNS) <= set(header):
            return Verdict(False, rel, "", problems=[Problem(None, "missing_columns", _sentence("missing_columns"))])
        new, line = _append(data, delim, header, letter)
        sha = hashlib.sha256(new).hexdigest()
        cand = Candidate(rel, rel, "permohonan", today, None, len(new), 0, sha256=sha)
        with _GX:
            out = prepare_requests([RawFile(cand, new)], area=area)
        f = out.files[0]
        if f.status == "rejected":
            code = (f.error or "unreadable").split(":", 1)[0]
            return Verdict(False, rel, sha, problems=[Problem(None, code, _sentence(code))])
        mine = out.quarantine.filter(out.quarantine["line_number"] == line) if out.quarantine is not None else None
        if mine is not None and mine.height:
            problems = [Problem(line, r, _letter_sentence(d)) for r, d in mine.select("reason", "detail").iter_rows()]
            return Verdict(False, rel, sha, problems=problems)
        atomic_write(path, new, 0o640)
        return Verdict(True, rel, sha, rows_ok=f.rows_loaded)
