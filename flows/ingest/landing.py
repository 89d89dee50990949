"""Safe access to the landing zone (``<data dir>/raw``): list it, and read each file exactly once.

Everything goes through directory descriptors: the ``raw`` folder is opened once per run, and
every folder and file below it is opened relative to its parent's descriptor with
``O_NOFOLLOW`` (``openat``), so no path component can be swapped for a symbolic link between the
listing and the read. Inside ``batch()`` a folder's descriptor is kept while the files of the
batch that lie in it are read, then closed: it was opened without following links, and so is
every file opened from it. A file is opened non-blocking (a FIFO swapped in cannot hang the run),
``fstat``-ed on the open descriptor (only regular files are read), read no further than the size
limit plus one byte, and hashed from those same bytes: the bytes a run parses are the bytes it
hashed. Nothing here knows the key: what could not be read carries only a label (``unread``), and
flows.ingest.discover turns it into a keyed identity (never a plain hash of a path).

The walk is iterative (no recursion) and stops descending below ``max_depth`` folders: a folder
nested deeper is reported as an entry of kind ``deep``, never fatal.

In: the raw folder. Out: ``Entry`` listings and ``Fetched`` reads. Nothing here raises for a
strange file; only a missing or unreadable raw folder itself raises OSError.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from stat import S_ISDIR, S_ISLNK, S_ISREG
from typing import NamedTuple

IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".uploading", ".filepart")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
CHUNK = 1 << 20   # the smallest read: a file's first read asks for all of it (its size from fstat, + 1)


def ignored(name: str) -> bool:
    """Upload convention: hidden names, temporary suffixes and spreadsheet lock files are never read."""
    if name.endswith(".csv"):   # most names (a province year: ~86,000): no temporary suffix to look for
        return name.startswith((".", "~$"))
    return name.startswith((".", "~$")) or name.lower().endswith(IGNORED_SUFFIXES)


class Entry(NamedTuple):
    """What the listing saw at one path under raw/ (``rel`` is '/'-separated). Immutable; a tuple
    (half the cost of a frozen dataclass, ~86,000 of them in a province year's listing)."""
    rel: str
    kind: str          # file / link / special (pipe, socket, device) / deep (a folder too deep to search)
    size: int
    mtime_ns: int


@dataclass
class Fetched:
    """One open-once read: the bytes (None when not kept), their SHA-256 and the file's fstat."""
    sha256: str                              # "" when nothing was read (see ``unread``)
    size: int
    mtime_ns: int
    data: bytes | None = None
    reject: tuple[str, str] | None = None    # (code, sentence) when the file cannot be used
    gone: bool = False                       # removed since the listing: it left the landing zone
    unread: str | None = None                # what stood there when it could not be read: link, link-dir, special, unreadable


class LandingZone:
    """The open raw folder of one run. Use as a context manager; the descriptor is closed on exit."""

    def __init__(self, raw_dir: os.PathLike | str):
        self.raw_dir = os.fspath(raw_dir)
        self.fd: int | None = None
        self._batch = False                             # inside ``batch()``: ``read`` keeps its folder
        self._folder: tuple[str, int] | None = None    # (folder under raw/, its descriptor) kept by ``read``
        self._ahead: tuple[int, threading.Thread, list] | None = None   # (max_depth, thread, [entries or exception])

    def __enter__(self) -> LandingZone:
        # the raw folder itself may be a link to a mount chosen by the operator; below it, nothing
        # is followed. No raw folder yet: an empty landing zone.
        try:
            self.fd = os.open(self.raw_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            self.fd = None
        return self

    def __exit__(self, *exc) -> None:
        if self._ahead is not None:     # a listing begun ahead ends before its descriptor closes
            self._ahead[1].join()
            self._ahead = None
        self.release()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    # --- listing ---------------------------------------------------------------------------------

    def _open_dir(self, parts: list[str]) -> int:
        """A descriptor of raw/<parts...>, each component opened relative to its parent, no links."""
        if self.fd is None:
            raise FileNotFoundError(self.raw_dir)
        fd = os.dup(self.fd)
        try:
            for part in parts:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd

    def walk_ahead(self, max_depth: int, early: bool = True) -> None:
        """Begin ``walk(max_depth)`` in a thread now; ``walked`` takes its listing (issue 19: a
        province year's ~86,000 entries take 0.3 s, mostly ``lstat`` without the GIL, while the run
        checks the key and the area and opens the warehouse). The listing is as of this call, or
        (``early``) the one ``walk_early`` began at the command's start, when it lists this very
        folder to the same depth."""
        if self._ahead is not None:
            return
        if self._take_early(max_depth, early):
            return
        self._ahead = (max_depth, *_listing_thread(self, max_depth, "ektp-landing-walk"))

    def _take_early(self, max_depth: int, wanted: bool) -> bool:
        """Take the listing of ``walk_early``, which is dropped either way (one run takes it, once):
        True when ``wanted`` and it is of this folder (the same device and inode as this zone's
        descriptor, unchanged at its top since: the same ctime, so a folder made anew in its place
        is never taken for it), to ``max_depth``, begun at most EARLY_MAX_AGE_S ago."""
        found = dict(_EARLY)
        _EARLY.clear()
        if not (wanted and found) or self.fd is None:
            return False
        st = os.fstat(self.fd)
        if (found["key"] != (st.st_dev, st.st_ino, st.st_ctime_ns, max_depth)
                or time.monotonic() - found["at"] > EARLY_MAX_AGE_S):
            return False
        self._ahead = (max_depth, found["thread"], found["got"])
        return True

    def walked(self, max_depth: int) -> list[Entry]:
        """The listing begun by ``walk_ahead`` (once), else ``walk(max_depth)`` now."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead[1].join()
        if ahead is None or ahead[0] != max_depth:
            return self.walk(max_depth)
        if isinstance(ahead[2][0], BaseException):
            raise ahead[2][0]
        return ahead[2][0]

    def walk(self, max_depth: int) -> list[Entry]:
        """Every non-ignored entry under raw/, sorted by path. Folders are descended iteratively up to
        ``max_depth`` levels; a deeper folder is listed once as kind ``deep`` and not searched. One
        ``lstat`` per entry (``DirEntry.stat(follow_symlinks=False)``: no link is followed), nothing
        else per entry but the Entry itself: a province year is ~86,000 of them."""
        out: list[Entry] = []
        append = out.append
        pending: list[list[str]] = [[]]
        while pending:
            parts = pending.pop()
            try:
                fd = self._open_dir(parts)
            except OSError:
                continue        # removed or swapped for a link since it was listed: not searched
            prefix = "".join(part + "/" for part in parts)
            deeper = len(parts) + 1 > max_depth
            try:
                with os.scandir(fd) as it:
                    for e in it:
                        name = e.name
                        if ignored(name):
                            continue
                        try:
                            st = e.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        mode = st.st_mode
                        if S_ISREG(mode):
                            append(Entry(prefix + name, "file", st.st_size, st.st_mtime_ns))
                        elif S_ISDIR(mode):
                            if deeper:
                                append(Entry(prefix + name, "deep", 0, st.st_mtime_ns))
                            else:
                                pending.append([*parts, name])
                        elif S_ISLNK(mode):
                            append(Entry(prefix + name, "link", st.st_size, st.st_mtime_ns))
                        else:
                            append(Entry(prefix + name, "special", 0, st.st_mtime_ns))
            except OSError:
                pass
            finally:
                os.close(fd)
        out.sort()      # by path: ``rel`` is the first field and no two entries share one
        return out

    def readlink(self, rel: str) -> str:
        parts = rel.split("/")
        fd = self._open_dir(parts[:-1])
        try:
            return os.readlink(parts[-1], dir_fd=fd)
        finally:
            os.close(fd)

    # --- reading ---------------------------------------------------------------------------------

    @contextmanager
    def batch(self):
        """Within: ``read`` keeps the descriptor of the last file's folder for the next file in the
        same folder, so files read in path order open their folder once, not once each (a province
        year is ~86,000 files in 366 folders). On leaving, the descriptor is closed: none outlives
        the batch, and the next batch opens its folders again (a folder swapped for a link in
        between is refused). A folder that cannot be opened is never kept: each file says why."""
        self._batch = True
        try:
            yield self
        finally:
            self._batch = False
            self.release()

    def _folder_fd(self, folder: str) -> int:
        """The descriptor of raw/<folder>, each component opened relative to its parent, no links;
        inside ``batch()`` the one kept from the last read when it is the same folder."""
        if self._folder is not None and self._folder[0] == folder:
            return self._folder[1]
        self.release()
        fd = self._open_dir(folder.split("/") if folder else [])
        if self._batch:
            self._folder = (folder, fd)
        return fd

    def release(self) -> None:
        """Close the folder descriptor ``read`` keeps inside ``batch()``, if any."""
        if self._folder is not None:
            fd, self._folder = self._folder[1], None
            os.close(fd)

    def read(self, rel: str, max_bytes: int, keep: bool = True) -> Fetched:
        """Open raw/<rel> once (no link anywhere on the way, non-blocking), check it is a regular
        file on the open descriptor, and read and hash its bytes, never more than ``max_bytes`` + 1
        of them (contract section 3: a file over the limit is read no further than the limit plus
        one byte, hashing included; its ``sha256`` is then that of the bytes read). The bytes are
        kept when ``keep`` and there are at most ``max_bytes``. A file that could not be read has
        no ``sha256`` (empty) and ``unread`` says what it was (flows.ingest.discover keys its identity).
        Inside ``batch()`` the folder's descriptor is kept for the next read."""
        folder, _, name = rel.rpartition("/")
        try:
            dfd = self._folder_fd(folder)
        except FileNotFoundError:
            return Fetched("", 0, 0, gone=True)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                return Fetched("", 0, 0, unread="link-dir",
                               reject=("symlink", "a folder on the way was replaced by a symbolic link; links are never followed"))
            return Fetched("", 0, 0, unread="unreadable", reject=("unreadable", f"the file cannot be read ({exc.strerror})"))
        try:
            try:
                fd = os.open(name, _FILE_FLAGS, dir_fd=dfd)
            except FileNotFoundError:
                return Fetched("", 0, 0, gone=True)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    return Fetched("", 0, 0, unread="link",
                                   reject=("symlink", "a symbolic link; links are never followed (put the file itself in place)"))
                return Fetched("", 0, 0, unread="unreadable", reject=("unreadable", f"the file cannot be read ({exc.strerror})"))
        finally:
            if not self._batch:
                os.close(dfd)
        try:
            return _read_open(fd, max_bytes, keep)
        finally:
            os.close(fd)


# The listing a loading command begins before its flow run (``walk_early``), until the run's
# LandingZone takes it (``LandingZone.walk_ahead``) or lists again.
_EARLY: dict = {}
EARLY_MAX_AGE_S = 60.0


def walk_early(raw_dir: os.PathLike | str, max_depth: int) -> None:
    """Begin listing ``raw_dir`` now, in a thread, for the run this command is about to start
    (issue 19: while the command imports Prefect and creates its flow run, ~1.5 s, a province
    year's ~86,000 entries are listed, which the run otherwise waited for after its own checks).
    The run's ``LandingZone.walk_ahead`` takes this listing only when it lists the same folder (device,
    inode and ctime) to the same depth, within EARLY_MAX_AGE_S, and did not wait for the writer's lock;
    otherwise it lists again and this one is dropped. What it lists is as of this call: a file that
    arrives later is loaded by the next run, as one that arrives during a run is. No raw folder:
    nothing begins (the run finds the landing zone empty itself)."""
    _EARLY.clear()
    try:
        fd = os.open(os.fspath(raw_dir), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    zone = LandingZone(raw_dir)
    zone.fd = fd
    st = os.fstat(fd)
    thread, got = _listing_thread(zone, max_depth, "ektp-landing-walk-early", close=True)
    _EARLY.update(key=(st.st_dev, st.st_ino, st.st_ctime_ns, max_depth), thread=thread, got=got, at=time.monotonic())


def _listing_thread(zone: LandingZone, max_depth: int, name: str, close: bool = False) -> tuple[threading.Thread, list]:
    """A started thread making ``zone.walk(max_depth)``, and the list that gets its listing or the
    exception it raised (``LandingZone.walked`` raises it again); ``close``: the zone's descriptor
    is closed when the listing is made (a zone of the listing only)."""
    got: list = []

    def run() -> None:
        try:
            got.append(zone.walk(max_depth))
        except BaseException as exc:   # noqa: BLE001 - raised again by ``walked``
            got.append(exc)
        finally:
            if close:
                os.close(zone.fd)
                zone.fd = None

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread, got


def _read_open(fd: int, max_bytes: int, keep: bool) -> Fetched:
    """Read and hash an open descriptor, at most ``max_bytes`` + 1 bytes (see LandingZone.read)."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        return Fetched("", 0, st.st_mtime_ns, unread="special",
                       reject=("not_a_regular_file", "not a regular file (a pipe, socket or device); only plain files are read"))
    h = hashlib.sha256()
    kept: list[bytes] = []
    total = 0
    bound = max(0, max_bytes) + 1
    try:
        while total < bound:
            # the whole file in one read where it can: one bytes object, kept as it is (b"".join of one
            # item is that item), not a list of 1 MiB chunks copied again into one (issue 19)
            want = min(max(CHUNK, st.st_size + 1 - total), bound - total)
            chunk = os.read(fd, want)
            if not chunk:
                break
            h.update(chunk)
            total += len(chunk)
            if keep and total <= max_bytes:
                kept.append(chunk)
            if len(chunk) < want and total >= st.st_size:
                break       # a short read at the size fstat gave: the end (no extra read to see it)
    except OSError as exc:
        return Fetched("", total, st.st_mtime_ns, unread="unreadable",
                       reject=("unreadable", f"the file cannot be read ({exc.strerror})"))
    got = Fetched(h.hexdigest(), total, st.st_mtime_ns)
    if total > max_bytes:
        size = max(st.st_size, total)
        got.size = size
        got.reject = ("file_too_large", f"the file is {size / 2**20:.0f} MiB, over the "
                      f"{max_bytes / 2**20:.0f} MiB limit (EKTP_MAX_FILE_MB); split it or raise the limit")
    elif keep:
        got.data = b"".join(kept)
    return got
