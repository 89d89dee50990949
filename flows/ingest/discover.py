"""Decide, per entry of the landing zone, what a run must do with it (no file is opened here).

In: the listing of ``raw/`` (``flows.ingest.landing``), the warehouse's current file versions, the run's
date window and the pseudonym key. Out: a Plan of candidates: new entries, and entries whose size
or mtime differ from their loaded version (``flows.fetch`` then reads them once, hashes them, and
drops those whose bytes did not change).

Landing names (contract section 5) are exactly ``rekam/<YYYY-MM-DD>/<kode_kecamatan>.csv``,
``penduduk/<YYYY-MM-DD>.csv``, ``penduduk/<YYYY-MM-DD>/<kode_kabupaten>.csv`` (a snapshot of one
kab/kota of the area, contract section 4) and ``permohonan/<YYYY-MM-DD>.csv``, with the codes of
the run's area (``flows.reference.wilayah``). Any other entry under raw/ is
rejected for its name, and its name is never stored or printed: its ``source_file`` is
``rekam/<folder if it is a date, else ?>/#<h>``, ``<kind>/#<h>`` or ``?/#<h>``, with ``h`` the first
12 hex digits of the HMAC-SHA256 of its path under raw/ under the pseudonym key (a plain hash would
let a NIK in a file name be enumerated). Links, pipes and folders too deep to search are
rejected without being opened; their identity (``sha256`` in audit.file_loads) is keyed too
(``unread_identity``). A log or request file dated before 2011-01-01 is rejected whole
(``date_before_2011``) under its landing name.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date

import duckdb

from flows.dates import EARLIEST_RUN_DATE, parse_iso_date
from flows.ingest.feeds import CODE_REASONS, FEEDS, PENDUDUK, PERMOHONAN, REKAM, Feed, Layout
from flows.ingest.landing import Entry

_PATTERNS = [layout.pattern for feed in FEEDS.values() for layout in feed.layouts]
# Feed.layout(depth) of every feed, looked up once (landing_name runs for every entry of a listing)
_LAYOUTS = {(feed.kind, layout.depth): layout for feed in FEEDS.values() for layout in reversed(feed.layouts)}
# rejection sentences for a file's name or type: fixed, never quoting the name
NAME_REASONS = {
    "folder_not_a_date": "the folder is not a date (expected rekam/<YYYY-MM-DD>/<kode_kecamatan>.csv)",
    "unknown_kecamatan": "the file name is not a kecamatan code of the area (e.g. 16.09.01) followed by .csv",
    "unknown_kabupaten": "the file name is not a kab/kota code of the area (e.g. 16.09) followed by .csv "
                         "(expected penduduk/<YYYY-MM-DD>/<kode_kabupaten>.csv)",
    "name_not_a_date": "the file name is not a date (expected <YYYY-MM-DD>.csv directly in its folder)",
    "unexpected_path": "not a landing name ({})".format(   # every layout of every feed (flows.ingest.feeds)
        " or ".join([", ".join(_PATTERNS[:-1]), _PATTERNS[-1]] if len(_PATTERNS) > 1 else _PATTERNS)),
    "symlink": "a symbolic link; links are never followed (put the file itself in place)",
    "not_a_regular_file": "not a regular file (a pipe, socket or device); only plain files are read",
    "folder_too_deep": "a folder nested too deep under raw/; it was not searched",
}
# e-KTP recording began in 2011: a log or request file dated earlier is rejected whole (contract
# section 3); its name is a landing name and is stored as it is. The same date bounds a run's dates.
FIRST_DATE = EARLIEST_RUN_DATE
DATE_REASONS = {
    "date_before_2011": "the file is dated before 2011-01-01 (e-KTP recording began in 2011); check the date in its name",
}
NAME_CODES = frozenset({"folder_not_a_date", "unknown_kecamatan", "unknown_kabupaten", "name_not_a_date",
                        "unexpected_path"})


@dataclass
class Candidate:
    rel: str                    # local path under raw/ (never stored or printed unless it is a landing name)
    source_file: str            # what the warehouse records: the landing name, or its hashed form
    kind: str                   # rekam / penduduk / permohonan / other
    log_date: date | None
    kode_kecamatan: str | None
    size: int
    mtime_ns: int
    entry_kind: str = "file"    # file / link / special / deep (flows.ingest.landing.Entry.kind)
    sha256: str = ""
    reject: tuple[str, str] | None = None   # (code, sentence) when the name or type alone rejects it
    replaces: bool = False      # an earlier version of this path is in the warehouse
    known_sha256: str | None = None   # the current version's SHA-256, when there is one
    id_key: bytes = field(default=b"", repr=False)   # identity_key(): keys the identity of what cannot be read

    @property
    def opened(self) -> bool:
        """Whether a run reads (and hashes) this entry: regular files only."""
        return self.entry_kind == "file"

    def shipped(self) -> Candidate:
        """A copy that travels beyond the fetch (flows.ingest.load.RawFile): ``rel`` replaced by
        ``source_file`` (no raw file name leaves the writer), no identity key. What
        ``dataclasses.replace`` gives, without its per-call cost (once per file of a batch)."""
        new = object.__new__(Candidate)
        new.__dict__.update(self.__dict__)
        new.rel, new.id_key = self.source_file, b""
        return new


@dataclass
class Plan:
    candidates: list[Candidate] = field(default_factory=list)
    unchanged: int = 0
    later: int = 0              # files dated after the run's last date, left untouched
    touched: list[tuple[str, int]] = field(default_factory=list)  # (source_file, new mtime_ns): same bytes, new mtime

    def of(self, feed: Feed) -> list[Candidate]:
        """The candidates of ``feed`` in path order; the batched feed (the logs) also takes every
        entry rejected for its name or type outside the feeds' folders."""
        kinds = {feed.kind, "other"} if feed.batching == "batches" else {feed.kind}
        return sorted((c for c in self.candidates if c.kind in kinds), key=lambda c: c.source_file)

    @property
    def snapshots(self) -> list[Candidate]:
        return self.of(PENDUDUK)

    @property
    def requests(self) -> list[Candidate]:
        return self.of(PERMOHONAN)

    @property
    def logs(self) -> list[Candidate]:
        """Recording logs, and every entry rejected for its name or type outside penduduk/ and permohonan/."""
        return self.of(REKAM)


def name_hash(rel: str, key: bytes) -> str:
    """The first 12 hex digits of HMAC-SHA256(key, path under raw/), as contract section 5 fixes."""
    return hmac.new(key, rel.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:12]


def hashed_name(rel: str, key: bytes) -> str:
    """The stored form of a path that is not a landing name."""
    parts = rel.split("/")
    h = "#" + name_hash(rel, key)
    feed = FEEDS.get(parts[0]) if len(parts) > 1 else None
    if feed is not None and feed.dated_folder:
        folder = parts[1] if len(parts) > 2 and parse_iso_date(parts[1]) is not None else "?"
        return f"{feed.kind}/{folder}/{h}"
    return f"{feed.kind}/{h}" if feed is not None else f"?/{h}"


def identity_key(source_file: str, key: bytes) -> bytes:
    """A per-file key, HMAC-SHA256(key, "identity:" + source_file): the identity of a file that is
    never read (a link, a pipe, a folder too deep) or could not be read is ``unread_identity`` under
    it, so it is keyed by the pseudonym key like the hashed names (contract section 5), never a
    plain hash of a path or of a link's target. Stored names only: a migration can recompute it."""
    return hmac.new(key, ("identity:" + source_file).encode("utf-8", "surrogateescape"), hashlib.sha256).digest()


def unread_identity(id_key: bytes, what: str) -> str:
    """The ``sha256`` recorded for something not read: HMAC-SHA256(identity_key, what), with
    ``what`` one of link, link-dir, special, deep, unreadable, or ``link:<target>`` for a link."""
    return hmac.new(id_key, what.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()


def _dated_name(parts: list[str], layout: Layout, codes: frozenset[str],
                day_of=parse_iso_date) -> tuple[date | None, str | None, str | None]:
    """(date, code, reason) of a path of ``layout``'s depth: ``<date>.csv`` or ``<date>/<code>.csv``."""
    if layout.code is None:
        day = day_of(parts[1][:-4]) if parts[1].endswith(".csv") else None
        return day, None, None if day is not None else "name_not_a_date"
    day = day_of(parts[1])
    if day is None:
        return None, None, "folder_not_a_date"
    if not parts[2].endswith(".csv") or parts[2][:-4] not in codes:
        return day, None, CODE_REASONS[layout.code]
    return day, parts[2][:-4], None


def landing_name(rel: str, kecamatan: frozenset[str], kabupaten: frozenset[str] = frozenset(),
                 day_of=parse_iso_date) -> tuple[str, date | None, str | None, str | None]:
    """(kind, date, kode_kecamatan, reason) of a path under raw/; reason is None for a landing name.
    The names are the layouts of the feeds (``flows.ingest.feeds``). ``kecamatan`` and ``kabupaten``: the
    codes of the area (the stem of a name whose layout carries a code). ``day_of``: the date of a
    ``YYYY-MM-DD`` text (``parse_iso_date``; a listing's ``plan`` passes a memo of it)."""
    parts = rel.split("/")
    feed = FEEDS.get(parts[0]) if len(parts) > 1 else None
    if feed is None:
        return "other", None, None, "unexpected_path"
    layout = _LAYOUTS.get((feed.kind, len(parts)))
    if layout is None:
        # a feed dated by its folder keeps the folder's date (rekam/<date>/a/b.csv is of <date>)
        day = day_of(parts[1]) if feed.dated_folder and len(parts) > 2 else None
        return feed.kind, day, None, "unexpected_path"
    codes = kecamatan if layout.code == "kecamatan" else kabupaten if layout.code == "kabupaten" else frozenset()
    day, code, reason = _dated_name(parts, layout, codes, day_of)
    return feed.kind, day, code if layout.code == "kecamatan" else None, reason


def _memo_dates():
    """``parse_iso_date`` remembered per text, for one listing: the ~86,000 logs of a province
    year sit in 366 dated folders, so each folder's date is parsed once, not once per file."""
    seen: dict[str, date | None] = {}

    def day_of(text: str) -> date | None:
        try:
            return seen[text]
        except KeyError:
            seen[text] = day = parse_iso_date(text)
            return day
    return day_of


def classify(entry: Entry, key: bytes, kecamatan: frozenset[str], kabupaten: frozenset[str] = frozenset()) -> Candidate:
    """A Candidate for one listed entry: its stored name, kind, date and any rejection by name or type."""
    kind, day, kode, reason = landing_name(entry.rel, kecamatan, kabupaten)
    source = entry.rel if reason is None else hashed_name(entry.rel, key)
    return _candidate(entry, key, source, kind, day, kode, reason)


def _candidate(entry: Entry, key: bytes, source: str, kind: str, day: date | None, kode: str | None,
               reason: str | None) -> Candidate:
    """The Candidate of ``classify`` from the entry's name already worked out (``landing_name``)."""
    cand = Candidate(entry.rel, source, kind, day, kode, entry.size, entry.mtime_ns, entry_kind=entry.kind,
                     id_key=identity_key(source, key))
    type_reason = {"link": "symlink", "special": "not_a_regular_file", "deep": "folder_too_deep"}.get(entry.kind)
    code = type_reason or reason
    if code is not None:
        cand.reject = (code, NAME_REASONS[code])
    elif kind in FEEDS and FEEDS[kind].since_2011 and day is not None and day < FIRST_DATE:
        cand.reject = ("date_before_2011", DATE_REASONS["date_before_2011"])
    if not cand.opened:
        # never opened: identified by what it is (a link by its target text, set by the caller)
        cand.sha256 = unread_identity(cand.id_key, entry.kind)
    return cand


def current_versions(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, int | None, int | None]]:
    """source_file -> (sha256, bytes, mtime_ns) of its current (not superseded) version. Read as
    columns (issue 19: a province year's ~86,000 versions in 0.07 s instead of 0.09-0.15 s as rows)."""
    got = con.sql(
        "select source_file, sha256, bytes, mtime_ns from audit.file_loads where status <> 'superseded'"
    ).to_arrow_table()
    source, sha, size, mtime = (got.column(i).to_pylist() for i in range(4))
    return dict(zip(source, zip(sha, size, mtime)))


def plan(entries: list[Entry], known: dict[str, tuple[str, int | None, int | None]], key: bytes,
         kecamatan: frozenset[str], last_date: date, start_date: date | None = None,
         only_kecamatan: frozenset[str] | None = None, force: bool = False,
         link_text=None, kabupaten: frozenset[str] = frozenset()) -> Plan:
    """Plan a run over log dates [start_date, last_date] (every snapshot and request file up to
    last_date). An entry whose (size, mtime) match its current version is unchanged without being
    read; ``force`` makes files of the window candidates anyway. ``link_text(rel)`` gives a link's
    target text, so that a link identifies by where it points. ``kecamatan``, ``kabupaten``: the
    codes of the run's area.

    Per entry, an unchanged one costs its name (dates remembered per folder), one look-up and the
    comparison: no Candidate, no keyed identity. A province year is ~86,000 entries, most of them
    unchanged on any night."""
    out = Plan()
    day_of = _memo_dates()
    windowed = frozenset(kind for kind, feed in FEEDS.items() if feed.window == "run")
    for entry in entries:
        kind, day, kode, reason = landing_name(entry.rel, kecamatan, kabupaten, day_of)
        if day is not None and day > last_date:
            out.later += 1
            continue
        if day is not None and kind in windowed:
            if start_date is not None and day < start_date:
                continue
            if only_kecamatan is not None and kode not in only_kecamatan:
                continue
        source = entry.rel if reason is None else hashed_name(entry.rel, key)
        prev = known.get(source)
        if prev and not force and prev[1] == entry.size and prev[2] == entry.mtime_ns:
            out.unchanged += 1
            continue
        cand = _candidate(entry, key, source, kind, day, kode, reason)
        if entry.kind == "link" and link_text is not None:
            try:
                cand.sha256 = unread_identity(cand.id_key, "link:" + link_text(entry.rel))
            except OSError:
                pass
        if prev and not cand.opened and prev[0] == cand.sha256 and not force:
            out.unchanged += 1
            out.touched.append((cand.source_file, cand.mtime_ns))
            continue
        cand.replaces = prev is not None
        cand.known_sha256 = prev[0] if prev else None
        out.candidates.append(cand)
    return out
