"""Issue 19 (the per-file cost): what a run does for each file of the landing zone, pinned without a run.

A province year is ~86,000 log files, so the listing (flows.ingest.landing.LandingZone.walk), the
plan (flows.ingest.discover.plan) and the read (LandingZone.read, flows.ingest.load.fetch_files) do as
little as they can per file. These tests pin that the shortcuts change no outcome: the listing
is sorted and complete, the plan classifies every entry as ``classify`` does, an unchanged file
costs no candidate and no keyed identity, a folder's descriptor is opened once per batch and never
outlives it (a folder swapped for a link between batches is refused), and the bytes returned are
the bytes hashed at every size around a read chunk and the size limit. Speed itself is measured in
tests/bench, never here.
"""

from __future__ import annotations

import hashlib
import os
from datetime import date

import pytest

from flows.ingest import discover, landing
from flows.ingest.discover import classify, plan
from flows.ingest.landing import LandingZone
from flows.ingest.load import fetch_files
from flows.reference.wilayah import DEFAULT_AREA, kabupaten_codes, kecamatan_codes

KEY = b"test-key-for-the-per-file-path-0123456789"
KEC = frozenset(kecamatan_codes(DEFAULT_AREA))
KAB = frozenset(kabupaten_codes(DEFAULT_AREA))
LAST = date(2025, 1, 3)
HOSTILE = "1609015205900001 SITI AMINAH lahir 1990-05-12.csv"


def _put(raw, rel: str, data: bytes = b"nik,nama\n") -> None:
    path = raw / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _zone(tmp_path):
    """A landing zone with every kind of entry a listing meets: landing names of every feed, names
    refused for their folder, date, code or place, a hostile name, links, a FIFO, a folder too deep,
    ignored names, a file dated after the run and one before 2011."""
    raw = tmp_path / "raw"
    for rel in ("rekam/2025-01-01/16.09.01.csv", "rekam/2025-01-01/16.09.02.csv", "rekam/2025-01-02/16.09.01.csv",
                "rekam/2025-01-02/99.99.99.csv", "rekam/2025-01-02/16.09.01.txt", "rekam/2025-02-30/16.09.01.csv",
                "rekam/kemarin/16.09.01.csv", "rekam/2025-01-02/x/16.09.01.csv", "rekam/2025-01-04/16.09.01.csv",
                "rekam/2010-12-31/16.09.01.csv", f"rekam/2025-01-01/{HOSTILE}", "penduduk/2024-12-31.csv",
                "penduduk/2025-01-01/16.09.csv", "penduduk/2025-01-01/16.10.csv", "penduduk/akhir-tahun.csv",
                "permohonan/2025-01-02.csv", "permohonan/2025-01-04.csv", "catatan.csv", "lain/2025-01-01.csv",
                "rekam/2025-01-01/.16.09.03.csv", "rekam/2025-01-01/16.09.04.csv.part", "a/b/c/d/e/f/g/h/i.csv"):
        _put(raw, rel)
    day = raw / "rekam" / "2025-01-01"
    (day / "16.09.05.csv").symlink_to("../../penduduk/2024-12-31.csv")
    (day / "16.09.06.csv").symlink_to("/nowhere")
    os.mkfifo(day / "16.09.07.csv")
    return raw


def _listing(raw, max_depth: int = 4):
    with LandingZone(raw) as zone:
        return zone.walk(max_depth)


def test_the_listing_is_sorted_by_path_one_entry_each_and_nothing_ignored_is_listed(tmp_path):
    entries = _listing(_zone(tmp_path))
    rels = [e.rel for e in entries]
    assert rels == sorted(rels) and len(set(rels)) == len(rels)
    kinds = {e.rel: e.kind for e in entries}
    assert kinds["rekam/2025-01-01/16.09.05.csv"] == "link" and kinds["rekam/2025-01-01/16.09.07.csv"] == "special"
    assert kinds["a/b/c/d/e"] == "deep" and not any(r.startswith("a/b/c/d/e/") for r in rels)
    assert not any(r.endswith((".16.09.03.csv", ".part")) for r in rels)
    st = os.lstat(tmp_path / "raw" / "rekam" / "2025-01-01" / "16.09.01.csv")
    one = next(e for e in entries if e.rel == "rekam/2025-01-01/16.09.01.csv")
    assert (one.kind, one.size, one.mtime_ns) == ("file", st.st_size, st.st_mtime_ns)


def test_a_listing_begun_ahead_is_the_listing_of_its_start_taken_once_and_ends_with_the_zone(tmp_path):
    """Issue 19: a run lists the landing zone in a thread while it checks its key and area
    (``walk_ahead``); ``walked`` gives what ``walk`` gives, once; another depth lists again; a
    failure of the listing is raised by ``walked``; leaving the zone waits for the thread (its
    descriptor is not closed under it)."""
    raw = _zone(tmp_path)
    with LandingZone(raw) as zone:
        zone.walk_ahead(4)
        thread = zone._ahead[1]
        assert zone.walked(4) == zone.walk(4)
        assert zone._ahead is None and not thread.is_alive()
        zone.walk_ahead(4)
        assert zone.walked(2) == zone.walk(2)         # asked for another depth: listed again, at that depth
        zone.walk_ahead(4)
        thread = zone._ahead[1]
    assert not thread.is_alive() and zone._ahead is None and zone.fd is None

    class Broken(LandingZone):
        def walk(self, max_depth):
            raise PermissionError("raw/ cannot be listed")

    with Broken(raw) as zone:
        zone.walk_ahead(4)
        with pytest.raises(PermissionError, match="cannot be listed"):
            zone.walked(4)


def test_the_plan_classifies_every_entry_as_classify_does(tmp_path):
    entries = _listing(_zone(tmp_path))
    got = plan(entries, {}, KEY, KEC, LAST, kabupaten=KAB)
    dated_after = [e for e in entries if classify(e, KEY, KEC, KAB).log_date not in (None,)
                   and classify(e, KEY, KEC, KAB).log_date > LAST]
    expected = [classify(e, KEY, KEC, KAB) for e in entries if e not in dated_after]
    assert got.candidates == expected and got.later == len(dated_after) == 2
    assert got.unchanged == 0 and got.touched == []


def test_the_plans_window_and_kecamatan_keep_what_classify_says_is_in_them(tmp_path):
    entries = _listing(_zone(tmp_path))
    got = plan(entries, {}, KEY, KEC, LAST, start_date=date(2025, 1, 2), only_kecamatan=frozenset({"16.09.01"}),
               kabupaten=KAB)
    for cand in got.candidates:
        if cand.kind == "rekam" and cand.log_date is not None:     # the logs' window; snapshots and requests whole
            assert cand.log_date >= date(2025, 1, 2) and cand.kode_kecamatan == "16.09.01"
    assert "rekam/2025-01-02/16.09.01.csv" in {c.source_file for c in got.candidates}
    assert "penduduk/2024-12-31.csv" in {c.source_file for c in got.candidates}


def test_an_entry_whose_size_and_mtime_match_its_version_is_unchanged_without_a_candidate_or_keyed_identity(tmp_path, monkeypatch):
    raw = _zone(tmp_path)
    entries = _listing(raw)
    first = plan(entries, {}, KEY, KEC, LAST, kabupaten=KAB)
    known = {c.source_file: (c.sha256 or "x" * 64, c.size, c.mtime_ns) for c in first.candidates}
    path = raw / "rekam" / "2025-01-01" / "16.09.01.csv"
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9, path.stat().st_mtime_ns + 10**9))   # one file touched
    keyed = []
    real = discover.identity_key
    monkeypatch.setattr(discover, "identity_key", lambda source, key: keyed.append(source) or real(source, key))
    second = plan(_listing(raw), known, KEY, KEC, LAST, kabupaten=KAB)
    assert [c.source_file for c in second.candidates] == ["rekam/2025-01-01/16.09.01.csv"] == keyed
    assert second.candidates[0].replaces and second.candidates[0].known_sha256 == known["rekam/2025-01-01/16.09.01.csv"][0]
    assert second.unchanged == len(first.candidates) - 1 and second.later == first.later


def test_forcing_makes_every_file_of_the_window_a_candidate_even_when_unchanged(tmp_path):
    entries = _listing(_zone(tmp_path))
    first = plan(entries, {}, KEY, KEC, LAST, kabupaten=KAB)
    known = {c.source_file: (c.sha256, c.size, c.mtime_ns) for c in first.candidates}
    forced = plan(entries, known, KEY, KEC, LAST, force=True, kabupaten=KAB)
    assert [c.source_file for c in forced.candidates] == [c.source_file for c in first.candidates]
    assert all(c.replaces for c in forced.candidates) and forced.unchanged == 0


def _count_calls(monkeypatch, name: str, flag: int | None = None) -> list:
    """Count ``os.<name>`` calls made through flows.ingest.landing (with ``flag`` set, for open)."""
    calls = []
    real = getattr(os, name)

    def counted(*a, **kw):
        if flag is None or a[1] & flag:
            calls.append(a[0])
        return real(*a, **kw)
    monkeypatch.setattr(landing.os, name, counted)
    return calls


def test_files_of_one_folder_open_the_folder_once_per_batch_and_a_small_file_is_read_in_one_call(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    names = [f"rekam/2025-01-0{d}/16.09.0{k}.csv" for d in (1, 2) for k in (1, 2, 3)]
    for rel in names:
        _put(raw, rel, rel.encode())
    entries = _listing(raw)
    p = plan(entries, {}, KEY, KEC, LAST, kabupaten=KAB)
    with LandingZone(raw) as zone:
        folders = _count_calls(monkeypatch, "open", os.O_DIRECTORY)
        reads = _count_calls(monkeypatch, "read")
        files = fetch_files(zone, p.candidates, p, 1 << 20)
    assert [f.data for f in files] == [rel.encode() for rel in names]
    assert folders == ["rekam", "2025-01-01", "rekam", "2025-01-02"]     # each folder once, each component without links
    assert len(reads) == len(names)                                      # one read a file: the short read at its size


def test_a_file_larger_than_a_chunk_is_read_in_one_call_into_one_bytes_object(tmp_path, monkeypatch):
    """Issue 19: a file's first read asks for all of it (its size + 1), so a large log is one bytes
    object, not chunks copied again into one."""
    monkeypatch.setattr(landing, "CHUNK", 16)
    raw = tmp_path / "raw"
    data = os.urandom(1000)
    _put(raw, "rekam/2025-01-01/16.09.01.csv", data)
    reads = _count_calls(monkeypatch, "read")
    with LandingZone(raw) as zone:
        got = zone.read("rekam/2025-01-01/16.09.01.csv", 1 << 20)
    assert got.data == data and got.sha256 == hashlib.sha256(data).hexdigest()
    assert len(reads) == 1


def test_a_folder_swapped_for_a_link_between_batches_is_refused_and_no_descriptor_outlives_a_batch(tmp_path):
    raw = tmp_path / "raw"
    for k in (1, 2):
        _put(raw, f"rekam/2025-01-01/16.09.0{k}.csv", b"nik\n")
    p = plan(_listing(raw), {}, KEY, KEC, LAST, kabupaten=KAB)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with LandingZone(raw) as zone:
        first = fetch_files(zone, p.candidates[:1], p, 1 << 20)
        os.rename(raw / "rekam" / "2025-01-01", elsewhere / "2025-01-01")
        (raw / "rekam" / "2025-01-01").symlink_to(elsewhere / "2025-01-01")
        second = fetch_files(zone, p.candidates[1:], p, 1 << 20)
        assert zone._folder is None
    assert first[0].data == b"nik\n" and first[0].cand.reject is None
    assert second[0].data is None and second[0].cand.reject[0] == "symlink"


def test_a_file_removed_or_swapped_for_a_link_inside_a_kept_folder_is_gone_or_refused(tmp_path):
    raw = tmp_path / "raw"
    for k in (1, 2, 3):
        _put(raw, f"rekam/2025-01-01/16.09.0{k}.csv", b"nik\n")
    p = plan(_listing(raw), {}, KEY, KEC, LAST, kabupaten=KAB)
    day = raw / "rekam" / "2025-01-01"
    with LandingZone(raw) as zone, zone.batch():
        assert zone.read(p.candidates[0].rel, 1 << 20).data == b"nik\n"        # the folder is kept from here
        (day / "16.09.02.csv").unlink()
        (day / "16.09.03.csv").unlink()
        (day / "16.09.03.csv").symlink_to(day / "16.09.01.csv")
        assert zone.read(p.candidates[1].rel, 1 << 20).gone
        assert zone.read(p.candidates[2].rel, 1 << 20).unread == "link"


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 32, 33, 100])
@pytest.mark.parametrize("limit_offset", [-1, 0, 1, 50])
def test_the_bytes_read_are_the_bytes_hashed_at_every_size_around_a_chunk_and_the_limit(tmp_path, monkeypatch, size, limit_offset):
    monkeypatch.setattr(landing, "CHUNK", 16)
    raw = tmp_path / "raw"
    data = bytes(range(256))[:size] if size <= 256 else os.urandom(size)
    _put(raw, "rekam/2025-01-01/16.09.01.csv", data)
    limit = max(0, size + limit_offset)
    with LandingZone(raw) as zone:
        got = zone.read("rekam/2025-01-01/16.09.01.csv", limit)
    if size <= limit:
        assert got.reject is None and got.data == data and got.size == size
        assert got.sha256 == hashlib.sha256(data).hexdigest()
    else:                                            # over the limit: hashed no further than limit + 1 bytes
        assert got.reject[0] == "file_too_large" and got.data is None and got.size == size
        assert got.sha256 == hashlib.sha256(data[:limit + 1]).hexdigest()


def test_a_read_outside_a_batch_keeps_no_folder_so_a_folder_swapped_for_a_link_after_it_is_refused(tmp_path):
    raw = tmp_path / "raw"
    for k in (1, 2):
        _put(raw, f"rekam/2025-01-01/16.09.0{k}.csv", b"nik\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with LandingZone(raw) as zone:          # as the key check reads one file, long before the batches
        assert zone.read("rekam/2025-01-01/16.09.01.csv", 1 << 20).data == b"nik\n"
        assert zone._folder is None
        os.rename(raw / "rekam" / "2025-01-01", elsewhere / "2025-01-01")
        (raw / "rekam" / "2025-01-01").symlink_to(elsewhere / "2025-01-01")
        got = zone.read("rekam/2025-01-01/16.09.02.csv", 1 << 20)
    assert got.data is None and got.unread == "link-dir" and got.reject[0] == "symlink"


def test_files_of_a_batch_that_share_a_header_get_the_outcome_each_would_get_alone(monkeypatch):
    from flows.ingest import read
    from flows.ingest.feeds import REKAM

    header = ",".join(REKAM.columns)
    row = ",".join(f"v{i}" for i in range(len(REKAM.columns)))
    texts = [header + "\n" + row + "\n",                               # the batch's usual header
             header + ",catatan\n" + row + ",x\n",                     # one ignored column
             header + "," + REKAM.columns[0] + "\n" + row + ",y\n",    # a column named twice: rejected
             header.replace(REKAM.columns[-1], "lain") + "\n" + row,   # a required column missing: rejected
             header + "\n" + row + "\n" + row + ",extra\n",            # the usual header, a malformed record
             header.replace(",", ";") + "\n" + row.replace(",", ";"),  # another delimiter
             header + "," + REKAM.columns[0] + "\n" + row + ",z\n",    # the same rejected header again
             header + "\r\n" + row + "\r\n",                           # CRLF
             header]                                                   # a header and no newline
    alone = [read.read_texts([t], REKAM.columns, REKAM.optional) for t in texts]
    headers = []
    real = read._header
    monkeypatch.setattr(read, "_header", lambda first: headers.append(first) or real(first))
    together = read.read_texts(texts, REKAM.columns, REKAM.optional)
    for i, one in enumerate(alone):
        got, want = together.files[i], one.files[0]
        assert (type(got.rejected), got.extra_columns, got.malformed) == (type(want.rejected), want.extra_columns, want.malformed)
        if want.rejected is not None:
            assert (got.rejected.code, got.rejected.message) == (want.rejected.code, want.rejected.message)
        rows = together.rows.filter(together.rows["file_index"] == i).drop("file_index")
        assert rows.equals(one.rows.drop("file_index"))
    assert len(headers) == len(set(headers)) == 6        # each distinct header line read once


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_pause_of_the_listing_leaves_the_collector_as_it_found_it_even_on_error(enabled):
    import gc

    from flows.orchestration.run import collector_paused

    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled() == enabled
        with pytest.raises(OSError), collector_paused():
            raise OSError("the raw folder went away")
        assert gc.isenabled() == enabled
    finally:
        gc.enable() if was else gc.disable()
