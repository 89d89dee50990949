"""Issue 5.6: property-based tests (hypothesis).

1. The row rules: ``validate.validate_rekam`` (Great Expectations suite ``rekam_log``) must
   quarantine exactly the rows that an independent, plain-Python statement of the contract's
   rules (section 3) rejects, with the same first reason. Each example is a batch of rows in two
   files (GX costs ~0.3-0.5 s per call, so many rows are checked per call); values are drawn
   from valid ones, near misses and spreadsheet damage, from small pools so that duplicates occur.
2. Order independence of loading: the same files loaded one batch at a time in any order, or all
   at once, or loaded twice, give identical marts.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.reference.wilayah import desa_codes

# Hypothesis warns when the global `random` state moves while it draws. In the full suite it moves
# under it: Prefect's events client keeps a websocket open in a background thread, and the
# `websockets` keepalive draws its ping payload from `random` every 20 s (traced to
# websockets/asyncio/connection.py `ping`). The strategies here use no `random`.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies:hypothesis.errors.HypothesisDeprecationWarning")

DESA = sorted(desa_codes())
FILES = {"rekam/2025-01-15/16.09.01.csv": "2025-01-15", "rekam/2025-01-16/16.09.02.csv": "2025-01-16"}

# --- the contract's row rules, stated independently (plain Python, no regex engine of the pipeline) ---

DIGITS = set("0123456789")


def _digits(s: str, n: int | None = None) -> bool:
    return bool(s) and set(s) <= DIGITS and (n is None or len(s) == n)


def _digit_runs(s: str) -> list[tuple[int, int]]:
    """(start, end) of every maximal run of ASCII digits."""
    runs, i = [], 0
    while i < len(s):
        if s[i] in DIGITS:
            j = i
            while j < len(s) and s[j] in DIGITS:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def _long_digit_run(s: str) -> bool:
    """A NIK or a phone number: 10 or more digits in a row."""
    return any(b - a >= 10 for a, b in _digit_runs(s))


def _has_date(s: str) -> bool:
    """Day, month and year (4 digits, 1000-2999) as three runs of digits, each pair joined by one
    '/', '-' or '.': day-month-year (or month-day-year) or year-month-day (contract section 3)."""
    runs = _digit_runs(s)
    for (a1, b1), (a2, b2), (a3, b3) in zip(runs, runs[1:], runs[2:]):
        if a2 - b1 != 1 or a3 - b2 != 1 or s[b1] not in "/-." or s[b2] not in "/-.":
            continue
        n1, n2, n3 = b1 - a1, b2 - a2, b3 - a3
        year_last = n1 <= 2 and n2 <= 2 and n3 == 4 and s[a3] in "12"
        year_first = n1 == 4 and s[a1] in "12" and n2 <= 2 and n3 <= 2
        if year_last or year_first:
            return True
    return False


def _scientific(raw: str) -> bool:
    """`1.60901E+15`-style: what a spreadsheet shows for a NIK it turned into a number."""
    s = raw[1:] if raw.startswith("'") else raw
    for e in ("E", "e"):
        if s.count(e) == 1:
            mant, exp = s.split(e)
            exp = exp[1:] if exp.startswith("+") else exp
            for sep in (".", ","):
                if mant.count(sep) == 1:
                    a, b = mant.split(sep)
                    return _digits(a) and (b == "" or _digits(b)) and _digits(exp)
            return _digits(mant) and _digits(exp)
    return False


def _calendar_date(s: str | None) -> date | None:
    if not s:
        return None
    for sep, order in (("-", "ymd"), ("-", "dmy"), ("/", "dmy")):
        parts = s.split(sep)
        if len(parts) != 3:
            continue
        widths = (4, 2, 2) if order == "ymd" else (2, 2, 4)
        if not all(_digits(p, w) for p, w in zip(parts, widths)):
            continue
        y, m, d = (parts[0], parts[1], parts[2]) if order == "ymd" else (parts[2], parts[1], parts[0])
        try:
            return date(int(y), int(m), int(d))
        except ValueError:
            return None
    return None


def _timestamp(s: str | None) -> datetime | None:
    if not s or len(s) != 19 or s[10] not in " T":
        return None
    d, t = s[:10], s[11:]
    dp, tp = d.split("-"), t.split(":")
    if len(dp) != 3 or len(tp) != 3 or not all(_digits(p, w) for p, w in zip(dp + tp, (4, 2, 2, 2, 2, 2))):
        return None
    try:
        return datetime(*map(int, dp), *map(int, tp))
    except ValueError:
        return None


def expected_reasons(rows: list[dict]) -> list[str | None]:
    """The first broken rule of each row, in the contract's column order; None for a good row."""
    out, seen = [], set()
    for r in rows:
        raw = r["nik"] or ""
        nik = raw[1:] if raw.startswith("'") else raw
        born, at = _calendar_date(r["tanggal_lahir"]), _timestamp(r["waktu_rekam"])
        key = (r["source_file"], nik, at.isoformat(" ") if at else (r["waktu_rekam"] or ""))
        if at is None and r["waktu_rekam"] and re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T", r["waktu_rekam"]):
            key = (r["source_file"], nik, r["waktu_rekam"][:10] + " " + r["waktu_rekam"][11:])
        checks = [
            ("nik_spreadsheet_damaged", not _scientific(raw)),
            ("nik_not_16_digits", _digits(nik, 16)),
            ("nik_bad_province", _digits(nik, 16) and 11 <= int(nik[:2]) <= 96),
            ("nik_bad_birth_day", _digits(nik, 16) and (1 <= int(nik[6:8]) <= 31 or 41 <= int(nik[6:8]) <= 71)),
            ("nik_bad_birth_month", _digits(nik, 16) and 1 <= int(nik[8:10]) <= 12),
            ("nik_zero_serial", nik[12:16] != "0000"),
            ("jenis_kelamin_invalid", (r["jenis_kelamin"] or "").upper() in ("L", "P")),
            ("tanggal_lahir_invalid", born is not None),
            ("umur_out_of_range", born is None or at is None
             or 16 <= at.year - born.year - ((at.month, at.day) < (born.month, born.day)) <= 120),
            ("status_kawin_invalid", (r["status_kawin"] or "").upper().replace("_", " ")
             in ("BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI")),
            ("kode_desa_unknown", (r["kode_desa"] or "").upper() in desa_codes()),
            ("waktu_rekam_invalid", at is not None),
            ("waktu_rekam_not_log_date", at is None or at.date().isoformat() == r["log_date"]),
            ("jenis_rekam_invalid", (r["jenis_rekam"] or "").upper() in ("BARU", "ULANG")),
            ("lokasi_rekam_invalid", (r["lokasi_rekam"] or "").upper()
             in ("DINAS", "KECAMATAN", "JEMPUT_BOLA", "SEKOLAH", "LAINNYA")),
            ("id_alat_empty", bool(r["id_alat"])),
            ("id_alat_invalid", 1 <= len(r["id_alat"]) <= 32
             and all(ch.isascii() and (ch.isalnum() or ch in "._/-") for ch in r["id_alat"])
             and not _long_digit_run(r["id_alat"]) and not _has_date(r["id_alat"])),
            ("duplicate_row", key not in seen),
        ]
        seen.add(key)
        out.append(next((reason for reason, ok in checks if not ok), None))
    return out


# --- strategies: valid values, near misses and spreadsheet damage -------------------------------

def _two(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.integers(lo, hi).map(lambda v: f"{v:02d}")


valid_nik = st.builds(lambda p, k, d, m, y, s: f"{p}0901{d}{m}{y}{s}",
                      _two(11, 96), st.just(""), st.one_of(_two(1, 31), _two(41, 71)), _two(1, 12), _two(0, 99),
                      st.integers(1, 9999).map(lambda v: f"{v:04d}"))
NIK_POOL = ["1609014501010001", "1609015203950002", "1609016112880003"]
nik = st.one_of(
    st.sampled_from(NIK_POOL), st.sampled_from(NIK_POOL).map(lambda n: "'" + n), valid_nik,
    st.sampled_from(["1.60901E+15", "1,60901450101E+15", "1.6090145010100E15", "'1.60901E+15", "1609014501010000",
                     "160901450101001", "16090145010100011", "16O9014501010001", "", "1.60901E-15"]),
    st.builds(lambda p, rest: p + rest, _two(0, 99), st.just("09014501010001")),     # province
    st.builds(lambda d: f"160901{d}01010001", _two(0, 99)),                         # birth day
    st.builds(lambda m: f"16090145{m}010001", _two(0, 99)),                         # birth month
)
birth = st.builds(lambda y, m, d, fmt: fmt.format(y=y, m=m, d=d),
                  st.integers(1890, 2015), st.integers(1, 13), st.integers(1, 31),
                  st.sampled_from(["{y:04d}-{m:02d}-{d:02d}", "{d:02d}-{m:02d}-{y:04d}", "{d:02d}/{m:02d}/{y:04d}"]))
tanggal_lahir = st.one_of(birth, st.sampled_from(["36896", "5/1/2001", "2001/01/05", "05-01-01", "", "2001-1-5",
                                                  "2009-01-15", "2009-01-16", "1904-01-15", "1904-01-16"]))
WAKTU_POOL = ["2025-01-15 08:00:00", "2025-01-15T08:00:00", "2025-01-16 09:30:00"]
waktu = st.one_of(
    st.sampled_from(WAKTU_POOL),
    st.builds(lambda day, h, mi, s, sep: f"2025-01-{day:02d}{sep}{h:02d}:{mi:02d}:{s:02d}",
              st.sampled_from([14, 15, 16, 17]), st.integers(0, 25), st.integers(0, 61), st.integers(0, 59),
              st.sampled_from([" ", "T", "  ", "/"])),
    st.sampled_from(["45672.3333333333", "15/01/2025 08:00", "2025-01-15 08:00", "", "2025-02-30 08:00:00"]),
)


def _pick(valid: list[str], invalid: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid).map(str.lower), st.sampled_from(invalid))


# per column: (valid values, any value incl. near misses); a row is valid except in 0-3 columns
valid_birth = st.builds(lambda y, m, d, fmt: fmt.format(y=y, m=m, d=d), st.integers(1910, 2008), st.integers(1, 12),
                        st.integers(1, 28), st.sampled_from(["{y:04d}-{m:02d}-{d:02d}", "{d:02d}-{m:02d}-{y:04d}",
                                                             "{d:02d}/{m:02d}/{y:04d}"]))
COLUMNS = {
    "nik": (st.one_of(st.sampled_from(NIK_POOL), st.sampled_from(NIK_POOL).map(lambda n: "'" + n), valid_nik), nik),
    "jenis_kelamin": (st.sampled_from(["L", "P", "l", "p"]), _pick(["L", "P"], ["X", "LAKI-LAKI", "", "W"])),
    "tanggal_lahir": (valid_birth, tanggal_lahir),
    "status_kawin": (st.sampled_from(["BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI", "belum_kawin", "Cerai_Mati"]),
                     _pick(["KAWIN"], ["JANDA", "BELUM  KAWIN", "", "K", "BELUM-KAWIN"])),
    "kode_desa": (st.sampled_from(DESA), st.sampled_from(["16.09.01.9999", "16.9.1.1013", "1609011013", "16.08.01.1001", ""])),
    "waktu_rekam": (None, waktu),
    "jenis_rekam": (st.sampled_from(["BARU", "ULANG", "baru", "Ulang"]), _pick(["BARU"], ["B", "BARU ULANG", ""])),
    "lokasi_rekam": (st.sampled_from(["DINAS", "KECAMATAN", "JEMPUT_BOLA", "SEKOLAH", "LAINNYA", "jemput_bola"]),
                     _pick(["DINAS"], ["JEMPUT BOLA", "RUMAH", ""])),
    "id_alat": (st.sampled_from(["DINAS-01", "KEC-16.09.01-A", "kec/01_a.b", "A" * 32]),
                st.sampled_from(["DINAS-01", "", "HP OPR SITI", "A" * 33, "stra\u00dfe", "\ufb01-01", "KEC#1", "kec-01",
                                 "1609015205900001", "SITI.AMINAH-12/05/1990", "opr-1990-05-12", "1.5.1990", "HP081234567890",
                                 "16.09.01-123456789", "KEC-16.09.05-01"])),
}


@st.composite
def row(draw) -> dict:
    source_file = draw(st.sampled_from(sorted(FILES)))
    day = FILES[source_file]
    broken = draw(st.sets(st.sampled_from(sorted(COLUMNS)), max_size=3))
    r = {"source_file": source_file, "nama": "Nama Samaran"}
    for col, (valid, anything) in COLUMNS.items():
        if col == "waktu_rekam" and col not in broken:   # a valid time on the file's log date, from a small pool
            valid = st.builds(lambda t, sep: f"{day}{sep}{t}", st.sampled_from(["08:00:00", "09:30:00", "13:05:59"]),
                              st.sampled_from([" ", "T"]))
        r[col] = draw(anything if col in broken else valid)
    return r


def _frame(rows: list[dict]) -> pl.DataFrame:
    """What flows.ingest.read hands to validation: trimmed strings, empty -> null, with line numbers."""
    records = []
    for i, r in enumerate(rows):
        rec = {k: (v if v != "" else None) for k, v in r.items()}
        rec["line_number"] = i + 2
        rec["log_date"] = FILES[r["source_file"]]
        records.append(rec)
    cols = ["line_number", "nik", "nama", "jenis_kelamin", "tanggal_lahir", "status_kawin", "kode_desa",
            "waktu_rekam", "jenis_rekam", "lokasi_rekam", "id_alat", "source_file", "log_date"]
    return pl.DataFrame(records, schema={c: (pl.Int64 if c == "line_number" else pl.Utf8) for c in cols})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(row(), min_size=40, max_size=80))
def test_gx_suite_quarantines_exactly_what_the_contract_rejects(rows):
    from flows.ingest.validate import validate_rekam

    frame = _frame(rows)
    # rows keep file order (the duplicate rule looks at earlier rows of the same file)
    frame = frame.sort("source_file", "line_number", maintain_order=True)
    ordered = [rows[i - 2] | {"log_date": FILES[rows[i - 2]["source_file"]]} for i in frame["line_number"].to_list()]
    validated, _ = validate_rekam(frame)
    got = validated["reason"].to_list()
    want = expected_reasons(ordered)
    diffs = [(r["nik"], r["tanggal_lahir"], r["waktu_rekam"], g, w) for r, g, w in zip(ordered, got, want) if g != w]
    assert not diffs, diffs[:5]


EDGE_DATES = [   # (column, value, the contract's reason, what Polars alone would do)
    ("waktu_rekam", "2025-01-14 23:59:60", "waktu_rekam_invalid", "accepted as 2025-01-15 00:00:00 in the 01-15 log"),
    ("waktu_rekam", "2025-01-15 23:59:60", "waktu_rekam_invalid", "waktu_rekam_not_log_date"),
    ("tanggal_lahir", "0000-01-01", "tanggal_lahir_invalid", "umur_out_of_range (year 0 parsed)"),
    ("waktu_rekam", "0000-01-15 08:00:00", "waktu_rekam_invalid", "umur_out_of_range (year 0 parsed)"),
]


@pytest.mark.parametrize("column,value,contract,polars_alone", EDGE_DATES, ids=[g[1] for g in EDGE_DATES])
def test_leap_seconds_and_year_zero_are_not_valid_dates(column, value, contract, polars_alone):
    from flows.ingest.validate import validate_rekam

    r = {"source_file": "rekam/2025-01-15/16.09.01.csv", "nik": "1609014501010001", "nama": "x", "jenis_kelamin": "L",
         "tanggal_lahir": "2001-01-05", "status_kawin": "KAWIN", "kode_desa": DESA[0], "waktu_rekam": "2025-01-15 08:00:00",
         "jenis_rekam": "BARU", "lokasi_rekam": "DINAS", "id_alat": "A"} | {column: value}
    validated, _ = validate_rekam(_frame([r]))
    assert validated["reason"].to_list() == [contract]
    assert expected_reasons([r | {"log_date": "2025-01-15"}]) == [contract]


# --- order independence of loading --------------------------------------------------------------

def _person_rows(day: str, kec_desa: str, persons: list[tuple[str, str, str]]) -> list[str]:
    from tests.helpers import row as csv_row

    return [csv_row(nik=n, waktu=f"{day} {t}", jenis=j, desa=kec_desa, alat="A1") for n, t, j in persons]


@pytest.fixture(scope="module")
def order_zone(tmp_path_factory):
    """Logs in which the same persons appear in several files: ties at the same instant in two
    kecamatan, a BARU after an ULANG, a repeat on a later day; and a snapshot."""
    from tests.helpers import Landing

    landing = Landing(tmp_path_factory.mktemp("order") / "data")
    landing.snapshot()
    a, b, c, d = "1609014501010001", "1609015203950002", "1609016112880003", "1609014707990004"
    landing.log("2025-01-01", "16.09.01", _person_rows("2025-01-01", "16.09.01.1013",
                                                         [(a, "08:00:00", "BARU"), (b, "09:00:00", "BARU")]))
    landing.log("2025-01-01", "16.09.02", _person_rows("2025-01-01", "16.09.02.2012",
                                                         [(a, "08:00:00", "BARU"), (c, "10:00:00", "ULANG")]))
    landing.log("2025-01-02", "16.09.01", _person_rows("2025-01-02", "16.09.01.1013",
                                                         [(c, "08:00:00", "BARU"), (b, "11:00:00", "BARU")]))
    landing.log("2025-01-03", "16.09.03", _person_rows("2025-01-03", "16.09.03.2001" if "16.09.03.2001" in desa_codes()
                                                         else DESA[40], [(d, "08:00:00", "BARU"), (a, "12:00:00", "ULANG")]))
    return landing


def _marts(landing, order: list[int] | None = None, twice: bool = False) -> dict:
    """Every mart and the quarantine of the zone's files loaded into a fresh in-memory warehouse
    through the plain steps of a run (tests/harness.py ``load_landing``): one batch per file in
    ``order``, or all in one batch (None); optionally everything a second time (forced reload)."""
    from tests.harness import load_landing

    wh = load_landing(landing.data_dir, date(2025, 1, 31), order=order, twice=twice)
    try:
        out = wh.marts()
        out["quarantine"] = wh.query("select source_file, line_number, reason from audit.quarantine order by all")
        return out
    finally:
        wh.close()


@pytest.fixture(scope="module")
def reference_marts(order_zone):
    return _marts(order_zone)


@pytest.mark.slow     # five loads of the zone through Great Expectations
@settings(max_examples=5, deadline=None)
@given(order=st.permutations(range(4)), twice=st.booleans())
def test_loading_order_and_repetition_do_not_change_the_marts(order_zone, reference_marts, order, twice):
    got = _marts(order_zone, list(order), twice=twice)
    assert got == reference_marts
