"""Parse raw CSV bytes in the contract's dialect (section 2) into frames of trimmed strings.

In: the bytes of files (read once by ``flows.ingest.landing``) and the required column names. Out: one
row per record (all values Utf8, trimmed, empty -> null), the physical line where each record
starts (header = line 1), the records that could not be split into the header's fields
(``malformed``), and the number of extra columns (never their names: a header can hold a NIK, a
name or a formula, so an extra column's name leaves this module nowhere, contract section 3). A
file-level defect is a FileRejected (reason code + sentence) in that file's result; nothing
raises. No path is ever opened here.

Two paths, same result: files without a quote character are split line by line with vectorised
Polars string operations, all such files of a batch that share a header together in one pass
(``parse_files``; per-file Polars calls cost ~6 ms a file, which dominated a year's backfill);
files with quotes go through Python's csv module one by one, which handles quoted separators and
line breaks. After a record it cannot parse it resumes at the next physical line, in time linear
in the file's size: a quoted record may span at most MAX_RECORD_LINES lines.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

import polars as pl

REKAM_COLUMNS = (
    "nik", "nama", "jenis_kelamin", "tanggal_lahir", "status_kawin",
    "kode_desa", "waktu_rekam", "jenis_rekam", "lokasi_rekam", "id_alat",
)
PENDUDUK_COLUMNS = ("kode_desa", "wajib_ktp_lk", "wajib_ktp_pr", "sudah_rekam_lk", "sudah_rekam_pr")
PERMOHONAN_COLUMNS = ("kode_desa", "tanggal_surat", "nomor_surat")
PERMOHONAN_OPTIONAL = ("perkiraan_warga",)

MAX_FIELD_BYTES = 64 * 1024  # a longer field is a malformed record, not a value
MAX_RECORD_LINES = 16        # a quoted record spanning more physical lines is malformed


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
    extra_columns: int = 0                  # how many header columns were ignored (never their names)


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


def _check_columns(names: list[str], required: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[str]:
    """The extra (ignored) column names, for counting only (callers keep ``len``); FileRejected when
    a known column is named twice or a required one is missing (those messages name only known columns)."""
    seen: set[str] = set()
    dupes = sorted({n for n in names if n in seen or seen.add(n)} & set(required + optional))
    if dupes:
        raise FileRejected("duplicate_columns", f"column(s) named twice in the header: {', '.join(dupes)}")
    missing = [c for c in required if c not in names]
    if missing:
        raise FileRejected("missing_columns", f"required column(s) missing: {', '.join(missing)}")
    return [n for n in names if n not in required and n not in optional and n]


def _clean(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    return frame.with_columns(
        [pl.col(c).str.strip_chars().replace("", None).alias(c) for c in columns]
    )


def _split_unquoted(items: list[tuple[int, str]], delim: str, names: list[str],
                    required: tuple[str, ...]) -> tuple[pl.DataFrame, list[tuple[int, int, str]]]:
    """Split the texts of many quote-free files with the same header in one set of vectorised
    Polars operations. ``items`` is (file_index, text). Returns the rows (file_index,
    line_number, required columns, untrimmed) and the malformed records (file_index, line, detail)."""
    texts = pl.DataFrame({"file_index": [i for i, _ in items], "line": [t for _, t in items]},
                         schema={"file_index": pl.UInt32, "line": pl.Utf8})
    frame = texts.with_columns(pl.col("line").str.split("\n")).explode("line")
    frame = frame.with_columns(
        (pl.int_range(pl.len()).over("file_index") + 1).cast(pl.Int64).alias("line_number"),
        pl.col("line").str.strip_suffix("\r"),
    )
    frame = frame.filter((pl.col("line_number") > 1) & (pl.col("line").str.strip_chars() != ""))
    frame = frame.with_columns(pl.col("line").str.split(delim).alias("fields"))
    frame = frame.with_columns(pl.col("fields").list.len().alias("n_fields"),
                               (pl.col("line").str.len_bytes() > MAX_FIELD_BYTES).alias("too_long"))
    if frame["too_long"].any():  # only a line longer than the bound can hold a field longer than it
        longest = pl.col("fields").list.eval(pl.element().str.len_bytes().max()).list.first()
        frame = frame.with_columns(pl.col("too_long") & (longest > MAX_FIELD_BYTES).fill_null(False))
    n = len(names)
    bad = frame.filter((pl.col("n_fields") != n) | pl.col("too_long"))
    malformed = [
        (int(fi), int(ln), f"record has a field longer than {MAX_FIELD_BYTES} bytes" if tl
         else f"record has {nf} fields, the header has {n}")
        for fi, ln, nf, tl in bad.select("file_index", "line_number", "n_fields", "too_long").iter_rows()
    ]
    good = frame.filter((pl.col("n_fields") == n) & ~pl.col("too_long"))
    index = {name: i for i, name in enumerate(names)}
    rows = good.select(
        "file_index", "line_number",
        *[pl.col("fields").list.get(index[c]).alias(c) for c in required],
    )
    return rows, malformed


def _physical_lines(text: str) -> list[str]:
    """Split on LF only (CRLF keeps its CR for the csv module), like the unquoted path: a lone CR,
    form feed or Unicode line separator inside a value is not a line end (str.splitlines would
    split on them and shift every later line number)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


class _TooManyLines(Exception):
    """A record pulled more than MAX_RECORD_LINES physical lines (a stray quote is eating the file)."""


class _Lines:
    """The physical lines a csv reader pulls from. The position outlives a reader, so that after a
    broken record a new reader resumes where the old one stopped (no copy of the rest of the file:
    linear time), and one record may pull at most MAX_RECORD_LINES lines."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.pos = 1               # index of the next line to hand out (0 is the header)
        self.record_start = 1

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            raise StopIteration
        if self.pos - self.record_start >= MAX_RECORD_LINES:
            raise _TooManyLines
        self.pos += 1
        return self.lines[self.pos - 1]


def _broken_detail(exc: Exception) -> str:
    reason = str(exc)
    if "field larger than field limit" in reason:
        return f"record has a field longer than {MAX_FIELD_BYTES} bytes"
    if isinstance(exc, _TooManyLines) or "EOF" in reason or "end of data" in reason:
        return "unterminated quoted field"
    return f"record is not valid CSV ({reason})"


def _split_quoted(text: str, delim: str, names: list[str],
                  required: tuple[str, ...]) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """Split one file that contains quote characters with Python's csv module (see module doc).
    A record that breaks is reported at its first physical line; reading resumes at the next one."""
    lines = _physical_lines(text)
    n = len(names)
    index = [names.index(c) for c in required]
    out_lines: list[int] = []
    out_cols: list[list[str]] = [[] for _ in required]
    malformed: list[tuple[int, str]] = []
    src = _Lines(lines)
    csv.field_size_limit(MAX_FIELD_BYTES)
    while src.pos < len(lines):
        reader = csv.reader(src, delimiter=delim, quotechar='"', strict=True)
        while True:
            start = src.record_start = src.pos     # index of the physical line where this record starts
            try:
                record = next(reader)
            except StopIteration:
                break
            except (csv.Error, _TooManyLines) as exc:
                malformed.append((start + 1, _broken_detail(exc)))
                src.pos = start + 1                # resume at the line after the record's first line
                break
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if len(record) != n:
                if src.pos - start > 1:            # spanned several lines: a stray quote ate them
                    malformed.append((start + 1, "unterminated quoted field"))
                    src.pos = start + 1
                    break
                malformed.append((start + 1, f"record has {len(record)} fields, the header has {n}"))
                continue
            out_lines.append(start + 1)
            for j, i in enumerate(index):
                out_cols[j].append(record[i])
    data = {"line_number": pl.Series(out_lines, dtype=pl.Int64)}
    data.update({c: pl.Series(out_cols[j], dtype=pl.Utf8) for j, c in enumerate(required)})
    return pl.DataFrame(data), malformed


@dataclass
class FileRead:
    """What reading one file of a batch gave: a file-level rejection, or its malformed records
    and ignored columns (its rows are in BatchRead.rows under its file_index)."""
    rejected: FileRejected | None = None
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line_number, detail)
    extra_columns: int = 0                  # how many header columns were ignored (never their names)


@dataclass
class BatchRead:
    rows: pl.DataFrame     # file_index (UInt32, position in the input list), line_number, required columns
    files: list[FileRead]  # one per input path, same order


def read_texts(texts: list[str], required: tuple[str, ...], optional: tuple[str, ...] = ()) -> BatchRead:
    """Parse many decoded CSV texts (see module doc). Quote-free files that share a header are
    split together in one pass of vectorised operations, so the cost per file is small; a file
    with quote characters goes through the csv module on its own. A file-level defect of one file
    is recorded in its FileRead and never affects the others. An ``optional`` column a file lacks
    is null in its rows."""
    files: list[FileRead] = []
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[int, str]]] = {}
    parts: list[pl.DataFrame] = []
    columns = required + optional

    def complete(frame: pl.DataFrame) -> pl.DataFrame:
        missing = [pl.lit(None, pl.Utf8).alias(c) for c in optional if c not in frame.columns]
        return frame.with_columns(missing).select("file_index", "line_number", *columns)

    # each distinct header line is read and checked once (a batch's files nearly all share one):
    # first line -> (delimiter, names, ignored columns, wanted columns), or the file-level rejection
    heads: dict[str, tuple[str, list[str], int, tuple[str, ...]] | FileRejected] = {}
    for i, text in enumerate(texts):
        end = text.find("\n")
        first = text if end < 0 else text[:end]
        head = heads.get(first)
        if head is None:
            try:
                delim, names = _header(first)
                extra = _check_columns(names, required, optional)
                head = (delim, names, len(extra), required + tuple(c for c in optional if c in names))
            except FileRejected as exc:
                head = exc
            heads[first] = head
        if isinstance(head, FileRejected):
            files.append(FileRead(rejected=FileRejected(head.code, head.message)))
            continue
        delim, names, extra, wanted = head
        got = FileRead(extra_columns=extra)
        files.append(got)
        if '"' in text:
            frame, got.malformed = _split_quoted(text, delim, names, wanted)
            parts.append(complete(frame.select(pl.lit(i, dtype=pl.UInt32).alias("file_index"), pl.all())))
        else:
            groups.setdefault((delim, tuple(names)), []).append((i, text))
    for (delim, names), items in groups.items():
        wanted = required + tuple(c for c in optional if c in names)
        frame, malformed = _split_unquoted(items, delim, list(names), wanted)
        parts.append(complete(frame))
        for fi, ln, detail in malformed:
            files[fi].malformed.append((ln, detail))
    for f in files:
        f.malformed.sort()
    schema = {"file_index": pl.UInt32, "line_number": pl.Int64, **{c: pl.Utf8 for c in columns}}
    if not parts:
        rows = pl.DataFrame(schema=schema)
    elif len(parts) == 1:
        rows = parts[0]
    else:
        rows = pl.concat(parts, how="vertical").sort("file_index", "line_number")
    return BatchRead(rows=_clean(rows, columns), files=files)


def parse_files(datas: list[bytes], required: tuple[str, ...], optional: tuple[str, ...] = ()) -> BatchRead:
    """Decode and parse the bytes of many raw files at once (see read_texts). A file that is not
    UTF-8 text gets a FileRejected in its FileRead; nothing raises."""
    files: list[FileRead | None] = [None] * len(datas)
    texts: list[str] = []
    readable: list[int] = []          # positions of the files whose text was decoded
    for i, data in enumerate(datas):
        try:
            texts.append(decode(data))
            readable.append(i)
        except FileRejected as exc:
            files[i] = FileRead(rejected=exc)
    got = read_texts(texts, required, optional)
    for j, i in enumerate(readable):
        files[i] = got.files[j]
    rows = got.rows
    if len(readable) < len(datas):   # file_index counts decoded texts: map it back to positions in datas
        rows = rows.with_columns(pl.Series(readable, dtype=pl.UInt32).gather(rows["file_index"]).alias("file_index"))
    return BatchRead(rows=rows, files=files)


def parse_file(data: bytes, required: tuple[str, ...]) -> ReadResult:
    """Decode and parse one raw file. Raises FileRejected for file-level defects."""
    got = parse_files([data], required)
    f = got.files[0]
    if f.rejected is not None:
        raise f.rejected
    return ReadResult(rows=got.rows.drop("file_index"), malformed=f.malformed, extra_columns=f.extra_columns)
