"""Read one raw CSV file in the contract's dialect (section 2) into a frame of trimmed strings.

In: a path and the required column names. Out: a ReadResult with one row per record (all values
Utf8, trimmed, empty -> null), the physical line number where each record starts (header = line 1),
the records that could not be split into the header's fields (``malformed``), and extra columns.
A file-level defect raises FileRejected with a reason code and a sentence; nothing else raises.

Two paths, same result: files without a quote character are split line by line with vectorised
Polars string operations; files with quotes go through Python's csv module, which handles quoted
separators and line breaks and resumes at the next line after a record it cannot parse.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

REKAM_COLUMNS = (
    "nik", "nama", "jenis_kelamin", "tanggal_lahir", "status_kawin",
    "kode_desa", "waktu_rekam", "jenis_rekam", "lokasi_rekam", "id_alat",
)
PENDUDUK_COLUMNS = ("kode_desa", "wajib_ktp_lk", "wajib_ktp_pr", "sudah_rekam_lk", "sudah_rekam_pr")

MAX_FIELD_BYTES = 64 * 1024  # a longer field is a malformed record, not a value
# The reader holds a whole file in memory (bytes, text, split lines and frame: about 10x its size
# at peak, measured: a 50 MiB log takes ~515 MiB to read), and validation adds to that. So a file
# larger than this is rejected as ``file_too_large`` before it is read (it is only hashed, in
# chunks). Operators can change the bound with EKTP_MAX_FILE_MB; a real daily log of one
# kecamatan is well under 1 MiB, so the default is ~100x what any honest log needs.
DEFAULT_MAX_FILE_MB = 64
DEFAULT_MAX_FILE_BYTES = DEFAULT_MAX_FILE_MB * 1024 * 1024


def max_file_bytes() -> int:
    """The size bound in bytes: EKTP_MAX_FILE_MB (a positive number) or DEFAULT_MAX_FILE_MB."""
    import os

    raw = os.environ.get("EKTP_MAX_FILE_MB", "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_MAX_FILE_MB
    except ValueError:
        mb = DEFAULT_MAX_FILE_MB
    if not mb > 0:
        mb = DEFAULT_MAX_FILE_MB
    return int(mb * 1024 * 1024)


class FileRejected(Exception):
    """A file-level defect: nothing of the file is loaded. ``code`` is a stable reason code."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class ReadResult:
    rows: pl.DataFrame                      # line_number + required columns, Utf8, trimmed
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line_number, detail)
    extra_columns: list[str] = field(default_factory=list)


def decode(data: bytes) -> str:
    """Bytes -> text: UTF-8 with or without BOM. Raises FileRejected for anything else."""
    if not data:
        raise FileRejected("empty_file", "the file is empty (0 bytes)")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise FileRejected("not_utf8", "the file is UTF-16 text; save it as CSV UTF-8")
    if b"\x00" in data[:65536] or b"\x00" in data[-65536:]:
        raise FileRejected("not_text", "the file contains binary data (NUL bytes), not CSV text")
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileRejected(
            "not_utf8",
            f"the file is not UTF-8 text (invalid byte 0x{data[exc.start]:02x} on line {line}); "
            "save it as CSV UTF-8",
        ) from None
    if "\x00" in text:
        raise FileRejected("not_text", "the file contains binary data (NUL bytes), not CSV text")
    return text


def _sniff_delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _header(text: str) -> tuple[str, list[str]]:
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise FileRejected("not_csv", "the first line is empty; expected a header row")
    delim = _sniff_delimiter(first)
    try:
        names = next(csv.reader([first], delimiter=delim, strict=True))
    except csv.Error as exc:
        raise FileRejected("not_csv", f"the header row is not valid CSV ({exc})") from None
    return delim, [n.strip().lower() for n in names]


def _check_columns(names: list[str], required: tuple[str, ...]) -> list[str]:
    seen: set[str] = set()
    dupes = sorted({n for n in names if n in seen or seen.add(n)} & set(required))
    if dupes:
        raise FileRejected("duplicate_columns", f"column(s) named twice in the header: {', '.join(dupes)}")
    missing = [c for c in required if c not in names]
    if missing:
        raise FileRejected("missing_columns", f"required column(s) missing: {', '.join(missing)}")
    return [n for n in names if n not in required and n]


def _clean(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    return frame.with_columns(
        [pl.col(c).str.strip_chars().replace("", None).alias(c) for c in columns]
    )


def _split_unquoted(text: str, delim: str, names: list[str], required: tuple[str, ...]) -> ReadResult:
    lines = pl.Series("line", text.split("\n"), dtype=pl.Utf8)
    frame = pl.DataFrame({"line": lines}).with_row_index("line_number", offset=1)
    frame = frame.with_columns(pl.col("line").str.strip_suffix("\r"))
    frame = frame.filter((pl.col("line_number") > 1) & (pl.col("line").str.strip_chars() != ""))
    frame = frame.with_columns(pl.col("line").str.split(delim).alias("fields"))
    frame = frame.with_columns(pl.col("fields").list.len().alias("n_fields"))
    n = len(names)
    too_long = pl.col("fields").list.eval(pl.element().str.len_bytes().max()).list.first() > MAX_FIELD_BYTES
    frame = frame.with_columns(too_long.alias("too_long"))
    bad = frame.filter((pl.col("n_fields") != n) | pl.col("too_long"))
    malformed = [
        (int(ln), f"record has a field longer than {MAX_FIELD_BYTES} bytes" if tl
         else f"record has {nf} fields, the header has {n}")
        for ln, nf, tl in bad.select("line_number", "n_fields", "too_long").iter_rows()
    ]
    good = frame.filter((pl.col("n_fields") == n) & ~pl.col("too_long"))
    index = {name: i for i, name in enumerate(names)}
    rows = good.select(
        pl.col("line_number").cast(pl.Int64),
        *[pl.col("fields").list.get(index[c]).alias(c) for c in required],
    )
    return ReadResult(rows=_clean(rows, required), malformed=malformed)


def _physical_lines(text: str) -> list[str]:
    """Split on LF only (CRLF keeps its CR for the csv module), like the unquoted path: a lone CR,
    form feed or Unicode line separator inside a value is not a line end (str.splitlines would
    split on them and shift every later line number)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _split_quoted(text: str, delim: str, names: list[str], required: tuple[str, ...]) -> ReadResult:
    lines = _physical_lines(text)
    n = len(names)
    index = [names.index(c) for c in required]
    out_lines: list[int] = []
    out_cols: list[list[str]] = [[] for _ in required]
    malformed: list[tuple[int, str]] = []
    pos = 1  # index into `lines` of the next unread physical line (0 is the header)
    csv.field_size_limit(MAX_FIELD_BYTES)
    while pos < len(lines):
        reader = csv.reader(iter(lines[pos:]), delimiter=delim, quotechar='"', strict=True)
        start = pos  # index of the physical line where the next record starts
        try:
            for record in reader:
                line_number = start + 1  # physical line where this record starts (1-based)
                start = pos + reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue
                if len(record) != n:
                    if start - line_number > 0:  # spanned several lines: a stray quote ate them
                        start = line_number - 1
                        raise csv.Error("a quoted field runs over several lines and breaks the record")
                    malformed.append((line_number, f"record has {len(record)} fields, the header has {n}"))
                    continue
                out_lines.append(line_number)
                for j, i in enumerate(index):
                    out_cols[j].append(record[i])
            break
        except csv.Error as exc:
            line_number = start + 1
            reason = str(exc)
            if "field larger than field limit" in reason:
                detail = f"record has a field longer than {MAX_FIELD_BYTES} bytes"
            elif "EOF" in reason or "end of data" in reason or "several lines" in reason:
                detail = "unterminated quoted field"
            else:
                detail = f"record is not valid CSV ({reason})"
            malformed.append((line_number, detail))
            pos = start + 1  # resume at the physical line after the bad record's first line
    data = {"line_number": pl.Series(out_lines, dtype=pl.Int64)}
    data.update({c: pl.Series(out_cols[j], dtype=pl.Utf8) for j, c in enumerate(required)})
    return ReadResult(rows=_clean(pl.DataFrame(data), required), malformed=malformed)


def read_text(text: str, required: tuple[str, ...]) -> ReadResult:
    """Parse decoded CSV text (see module doc)."""
    delim, names = _header(text)
    extra = _check_columns(names, required)
    body_has_quotes = '"' in text
    split = _split_quoted if body_has_quotes else _split_unquoted
    result = split(text, delim, names, required)
    result.extra_columns = extra
    return result


def read_file(path: Path, required: tuple[str, ...], max_bytes: int | None = None) -> ReadResult:
    """Read, decode and parse one raw file. Raises FileRejected for file-level defects.

    ``max_bytes`` defaults to ``max_file_bytes()`` (EKTP_MAX_FILE_MB, default 64 MiB).
    """
    if max_bytes is None:
        max_bytes = max_file_bytes()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FileRejected("unreadable", f"the file cannot be read ({exc.strerror})") from None
    if size > max_bytes:
        raise FileRejected("file_too_large", f"the file is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB "
                           "limit (EKTP_MAX_FILE_MB); split it or raise the limit")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileRejected("unreadable", f"the file cannot be read ({exc.strerror})") from None
    return read_text(decode(data), required)
