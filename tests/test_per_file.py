"""Issue 19 (the per-file cost): what a run does for each file of the landing zone, pinned without a run.

A province year is ~86,000 log files, so the listing (flows.ingest.landing.LandingZone.walk), the
plan (flows.ingest.discover.plan) and the read (LandingZone.read, flows.ingest.load.fetch_files) do as
little as they can per file. These tests pin that the shortcuts change no outcome: the listing
is sorted and complete, the plan classifies every entry as ``classify`` does, and an unchanged
file costs no candidate and no keyed identity. Speed itself is measured in tests/bench, never here.
"""

from __future__ import annotations

import os
from datetime import date

from flows.ingest import discover
from flows.ingest.discover import classify, plan
from flows.ingest.landing import LandingZone
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
