"""Issue 18 (7a): each raw feed is described once (flows/ingest/feeds.py) and the steps read that description.

These pin the description against the things it describes: the landing tables of sql/schema.sql
(a real DuckDB warehouse), the suites in expectations/, the landing names discover accepts and
refuses, and the harness's row schemas.
"""

from __future__ import annotations

from datetime import date

import pytest

from flows.ingest.discover import NAME_REASONS, landing_name
from flows.ingest.feeds import FEEDS, coverage
from flows.ingest.validate import suite_spec
from flows.reference.wilayah import DEFAULT_AREA, desa_codes, desa_of_kabupaten, kabupaten_codes, kecamatan_codes
from tests.harness import LANDING_SCHEMAS, empty_warehouse

KEC = frozenset(kecamatan_codes(DEFAULT_AREA))
KAB = frozenset(kabupaten_codes(DEFAULT_AREA))
EXAMPLE = {None: "", "kecamatan": "16.09.01", "kabupaten": "16.09"}


def _name(pattern: str, code: str | None) -> str:
    """A landing name of a layout's pattern, dated 2025-01-06."""
    return pattern.replace("<YYYY-MM-DD>", "2025-01-06").replace(f"<kode_{code}>", EXAMPLE[code])


@pytest.mark.parametrize("kind", sorted(FEEDS))
def test_every_feeds_landing_table_has_exactly_its_described_columns_and_run_id(kind):
    feed = FEEDS[kind]
    con = empty_warehouse()
    schema, table = feed.table.split(".")
    got = [r[0] for r in con.execute("""select column_name from information_schema.columns
                                        where table_schema = ? and table_name = ? order by ordinal_position""",
                                     [schema, table]).fetchall()]
    assert got == [*feed.table_columns, "run_id"]
    assert list(LANDING_SCHEMAS[kind]) == got     # the harness gives rows of the same columns


@pytest.mark.parametrize("kind", sorted(FEEDS))
def test_every_feeds_suite_exists_and_is_named_as_described(kind):
    assert suite_spec(FEEDS[kind].suite)["name"] == FEEDS[kind].suite


@pytest.mark.parametrize("kind,pattern,code", [(f.kind, lay.pattern, lay.code) for f in FEEDS.values() for lay in f.layouts])
def test_every_layout_is_a_landing_name_and_yields_its_date_and_code(kind, pattern, code):
    got_kind, day, kode, reason = landing_name(_name(pattern, code), KEC, KAB)
    assert (got_kind, day, reason) == (kind, date(2025, 1, 6), None)
    assert kode == (EXAMPLE[code] if code == "kecamatan" else None)


@pytest.mark.parametrize("kind,pattern,code", [(f.kind, lay.pattern, lay.code) for f in FEEDS.values()
                                               for lay in f.layouts if lay.code])
def test_a_layouts_name_with_a_code_outside_the_area_is_refused_for_that_code(kind, pattern, code):
    name = pattern.replace("<YYYY-MM-DD>", "2025-01-06").replace(f"<kode_{code}>", "99.99.99")
    assert landing_name(name, KEC, KAB)[3] == f"unknown_{code}"


def test_the_unexpected_path_sentence_lists_every_layout():
    for feed in FEEDS.values():
        for layout in feed.layouts:
            assert layout.pattern in NAME_REASONS["unexpected_path"]


def test_a_kab_kota_snapshot_covers_its_kab_kota_and_an_area_snapshot_the_area():
    assert coverage("penduduk/2025-01-06/16.09.csv", ("16",)) == desa_of_kabupaten("16.09")
    assert coverage("penduduk/2025-01-06.csv", DEFAULT_AREA) == desa_codes(DEFAULT_AREA)
    assert coverage("rekam/2025-01-06/16.09.01.csv", DEFAULT_AREA) == desa_codes(DEFAULT_AREA)


def test_logs_are_never_pseudonymised_under_an_empty_key():
    """A caller that forgets the key (run.load_feed's default is b"") gets an error, not pseudonyms
    anyone could recompute; with the key the same batch loads."""
    from flows.ingest.discover import Candidate
    from flows.ingest.feeds import REKAM
    from flows.ingest.load import RawFile, prepare
    from tests.harness import TEST_KEY
    from tests.helpers import HEADER, row

    rel = "rekam/2025-01-06/16.09.01.csv"
    data = (HEADER + "\n" + row(waktu="2025-01-06 08:00:00") + "\n").encode()
    raw = RawFile(Candidate(rel, rel, "rekam", date(2025, 1, 6), "16.09.01", len(data), 0, sha256="0" * 64), data)
    with pytest.raises(ValueError, match="pseudonym key"):
        prepare(REKAM, [raw], b"")
    assert prepare(REKAM, [raw], TEST_KEY.encode()).rows.height == 1
