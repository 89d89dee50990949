"""The synthetic landing zone: deterministic, calibrated, structurally right, dirty on purpose.

The two-month demo generation is made once per module. Its files are re-read here with the csv
module and judged by a small, independent implementation of the contract's rules (sections 3 and
9), so the manifest's promises (quarantine counts, rejected files, new wajib-KTP persons per desa,
village requests and when they are served) are checked against the files themselves, not against
the generator's own bookkeeping.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from flows import synth as g
from flows.errors import UserError
from flows.ingest.validate import suite_spec
from flows.reference.wilayah import desa_codes, kecamatan_codes
from flows.synth import FILE_REASONS, REQUEST_REASONS, ROW_REASONS, GenerateSummary, generate
from flows.synth.calendar import _closed
from flows.synth.regions import _Regions
from flows.synth.snapshot import _snapshot
from flows.synth.write import _write

DEMO = dict(start=date(2025, 1, 1), end=date(2025, 2, 28), seed=2025, calibrate_to=(270_764, 213_572))
HEADER = "nik,nama,jenis_kelamin,tanggal_lahir,status_kawin,kode_desa,waktu_rekam,jenis_rekam,lokasi_rekam,id_alat"
NIK_RULE = re.compile(r"^(1[1-9]|[2-8]\d|9[0-6])\d{4}(0[1-9]|[12]\d|3[01]|4[1-9]|[56]\d|7[01])(0[1-9]|1[0-2])\d{2}(?!0000)\d{4}$")
STATUS = {"BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"}
LOKASI = {"DINAS", "KECAMATAN", "JEMPUT_BOLA", "SEKOLAH", "LAINNYA"}
ID_ALAT_RULE = re.compile(r"[A-Za-z0-9._/-]{1,32}")
NOMOR_RULE = re.compile(r"[A-Za-z0-9./-]{1,64}")
LONG_DIGITS = re.compile(r"\d{10}")          # a NIK or a phone number (id_alat, nomor_surat)
DATE_IN = re.compile(r"(?<!\d)(?:\d{1,2}[/.-]\d{1,2}[/.-][12]\d{3}|[12]\d{3}[/.-]\d{1,2}[/.-]\d{1,2})(?!\d)")


def device_id_ok(v: str) -> bool:
    """Contract section 3: the characters and length, no run of 10 digits, no date."""
    return ID_ALAT_RULE.fullmatch(v) is not None and not LONG_DIGITS.search(v) and not DATE_IN.search(v)


# ----------------------------------------------------------------------------------------------
# an independent reading of the contract (sections 2 and 3)

def read_log(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header names (trimmed, lower case) and (line number, {column: trimmed value or None})."""
    text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    first = text.split("\n", 1)[0]
    delim = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    names = [n.strip().lower() for n in next(reader)]
    out = []
    for rec in reader:
        if not rec:
            continue
        values = {n: (v.strip() or None) for n, v in zip(names, rec)}
        out.append((reader.line_num, values))
    return names, out


def parse_date(v: str | None) -> date | None:
    formats = ((r"(\d{4})-(\d{2})-(\d{2})", "ymd"), (r"(\d{2})-(\d{2})-(\d{4})", "dmy"), (r"(\d{2})/(\d{2})/(\d{4})", "dmy"))
    for pattern, order in formats:
        m = re.fullmatch(pattern, v or "")
        if m:
            a, b, c = (int(x) for x in m.groups())
            try:
                return date(a, b, c) if order == "ymd" else date(c, b, a)
            except ValueError:
                return None
    return None


def age(birth: date, at: date) -> int:
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


def contract_reason(r: dict, log_date: date) -> tuple[str | None, dict]:
    """The first broken rule of a row (contract section 3, the validator's order), and parsed values."""
    raw = r["nik"] or ""
    nik = raw[1:] if raw.startswith("'") else raw
    born = parse_date(r["tanggal_lahir"])
    key = re.sub(r"^(\d{4}-\d{2}-\d{2})T", r"\1 ", r["waktu_rekam"] or "")
    try:
        at = datetime.strptime(key, "%Y-%m-%d %H:%M:%S") if re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", key) else None
    except ValueError:
        at = None
    umur = age(born, at.date()) if born and at else None
    status = (r["status_kawin"] or "").upper().replace("_", " ")
    checks = [
        ("nik_spreadsheet_damaged", re.fullmatch(r"'?\d+(?:[.,]\d*)?[eE]\+?\d+", raw) is None),
        ("nik_not_16_digits", re.fullmatch(r"\d{16}", nik) is not None),
        ("nik_bad_province", 11 <= int(nik[:2]) <= 96 if nik[:2].isdigit() else False),
        ("nik_bad_birth_day", nik[6:8].isdigit() and (1 <= int(nik[6:8]) <= 31 or 41 <= int(nik[6:8]) <= 71)),
        ("nik_bad_birth_month", nik[8:10].isdigit() and 1 <= int(nik[8:10]) <= 12),
        ("nik_zero_serial", nik[12:16] != "0000"),
        ("jenis_kelamin_invalid", (r["jenis_kelamin"] or "").upper() in ("L", "P")),
        ("tanggal_lahir_invalid", born is not None),
        ("umur_out_of_range", umur is None or 16 <= umur <= 120),
        ("status_kawin_invalid", status in STATUS),
        ("kode_desa_unknown", (r["kode_desa"] or "").upper() in desa_codes()),
        ("waktu_rekam_invalid", at is not None),
        ("waktu_rekam_not_log_date", at is None or at.date() == log_date),
        ("jenis_rekam_invalid", (r["jenis_rekam"] or "").upper() in ("BARU", "ULANG")),
        ("lokasi_rekam_invalid", (r["lokasi_rekam"] or "").upper() in LOKASI),
        ("id_alat_empty", r["id_alat"] is not None),
        ("id_alat_invalid", r["id_alat"] is None or device_id_ok(r["id_alat"])),
    ]
    parsed = {"nik": nik, "key": key, "at": at, "umur": umur, "status": status, "born": born,
              "jenis": (r["jenis_rekam"] or "").upper(), "lokasi": (r["lokasi_rekam"] or "").upper(),
              "desa": (r["kode_desa"] or "").upper(), "sex": (r["jenis_kelamin"] or "").upper(), "nama": r["nama"],
              "alat": r["id_alat"]}
    return next((name for name, ok in checks if not ok), None), parsed


def file_reason(root: Path, path: Path) -> str | None:
    rel = path.relative_to(root / "rekam").parts
    try:
        date.fromisoformat(rel[0])
    except ValueError:
        return "folder_not_a_date"
    if path.stem not in kecamatan_codes():
        return "unknown_kecamatan"
    if path.stat().st_size == 0:
        return "empty_file"
    names, _ = read_log(path)
    return None if set(HEADER.split(",")) <= set(names) else "missing_columns"


def judge(root: Path) -> dict:
    """Everything the pipeline should find in a generated landing zone, worked out from the files."""
    rejected, quarantine, good = {}, Counter(), []
    for path in sorted((root / "rekam").rglob("*.csv")):
        code = file_reason(root, path)
        if code:
            rejected[path.relative_to(root).as_posix()] = code
            continue
        log_date = date.fromisoformat(path.parent.name)
        seen = set()
        for line, r in read_log(path)[1]:
            reason, p = contract_reason(r, log_date)
            if reason is None and (p["nik"], p["key"]) in seen:
                reason = "duplicate_row"
            seen.add((p["nik"], p["key"]))
            if reason:
                quarantine[reason] += 1
            else:
                good.append((path, line, p))
    first = {}
    for _path, _line, p in sorted((x for x in good if x[2]["jenis"] == "BARU"), key=lambda x: (x[2]["at"], str(x[0]), x[1])):
        first.setdefault(p["nik"], p)
    new = Counter(p["desa"] for p in first.values() if p["umur"] >= 17 or p["status"] != "BELUM KAWIN")
    return {"rejected": rejected, "quarantine": dict(quarantine), "good": good, "first": first, "new": new}


def request_rules_broken(r: dict, registered: date) -> list[str]:
    """Every rule of contract section 9 a request row breaks (in the validator's order; the
    duplicate rule is the caller's: it needs the earlier rows of the file)."""
    surat = parse_date(r["tanggal_surat"])
    warga = r.get("perkiraan_warga")
    checks = [
        ("kode_desa_unknown", (r["kode_desa"] or "").upper() in desa_codes()),
        ("tanggal_surat_invalid", surat is not None and surat <= registered),
        ("nomor_surat_invalid", r["nomor_surat"] is not None and NOMOR_RULE.fullmatch(r["nomor_surat"]) is not None
         and not LONG_DIGITS.search(r["nomor_surat"])),
        ("perkiraan_warga_invalid", warga is None or (re.fullmatch(r"[0-9]+", warga) is not None and int(warga) <= 100_000)),
    ]
    return [name for name, ok in checks if not ok]


def judge_requests(root: Path) -> dict:
    """The village requests the pipeline should load from ``root/permohonan`` and the rows it should
    quarantine, worked out from the files; ``broken`` lists every row's broken rules."""
    valid, quarantine, broken, headers = [], Counter(), [], {}
    for path in sorted((root / "permohonan").glob("*.csv")):
        registered = date.fromisoformat(path.stem)
        names, rows = read_log(path)
        headers[registered] = names
        seen = set()
        for _, r in rows:
            rules = request_rules_broken(r, registered)
            key = ((r["kode_desa"] or "").upper(), (r["nomor_surat"] or "").upper())
            if not rules and key in seen:
                rules = ["duplicate_row"]
            broken.append(rules)
            if rules:
                quarantine[rules[0]] += 1
            else:
                seen.add(key)
                valid.append((registered, r["kode_desa"], r["nomor_surat"], parse_date(r["tanggal_surat"])))
    return {"valid": valid, "quarantine": dict(quarantine), "broken": broken, "headers": headers}


def jemput_bola_days(found: dict) -> dict[str, set[date]]:
    """desa -> the dates with a loaded JEMPUT_BOLA row of a resident (any jenis_rekam)."""
    out = defaultdict(set)
    for _, _, p in found["good"]:
        if p["lokasi"] == "JEMPUT_BOLA":
            out[p["desa"]].add(p["at"].date())
    return out


def weekdays(after: date, upto: date) -> int:
    """Weekdays (Monday-Friday) in (after, upto]: the contract's hari_kerja_tanpa_rekam."""
    return sum((after + timedelta(days=k)).weekday() < 5 for k in range(1, (upto - after).days + 1))


def kecamatan_days(found: dict, kec: str) -> set[date]:
    """Dates with a loaded KECAMATAN row in kecamatan ``kec``'s own files."""
    return {p["at"].date() for path, _, p in found["good"] if path.stem == kec and p["lokasi"] == "KECAMATAN"}


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, GenerateSummary, dict]:
    root = tmp_path_factory.mktemp("demo")
    s = generate(root, **DEMO)
    return root, s, judge(root)


# ----------------------------------------------------------------------------------------------
# determinism

def test_same_arguments_give_identical_bytes_and_another_seed_differs(tmp_path):
    args = dict(start=date(2025, 2, 3), end=date(2025, 2, 5))
    a, b = generate(tmp_path / "a", seed=7, **args), generate(tmp_path / "b", seed=7, **args)
    generate(tmp_path / "c", seed=8, **args)
    assert a.expected == b.expected
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")


def test_same_arguments_give_identical_bytes_with_breakdowns_and_requests(tmp_path):
    args = {"start": date(2025, 1, 6), "end": date(2025, 2, 16), "seed": 11}
    a, b = generate(tmp_path / "a", **args), generate(tmp_path / "b", **args)
    assert len(a.expected["device_breakdowns"]) == 2 and a.expected["expected_requests"]
    assert a.expected["expected_request_quarantine_by_reason"]
    assert a.expected == b.expected and digest(tmp_path / "a") == digest(tmp_path / "b")
    v = [generate(tmp_path / f"v{k}", date(2025, 1, 6), date(2025, 1, 17), seed=11, rows_per_day=3_000) for k in (1, 2)]
    assert v[0].expected["expected_requests"] and digest(tmp_path / "v1") == digest(tmp_path / "v2")


def test_progress_is_reported_after_each_day(tmp_path):
    calls = []
    generate(tmp_path, date(2025, 3, 1), date(2025, 3, 3), dirt=False, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


# ----------------------------------------------------------------------------------------------
# calibration: the demo must show wajib 270,764 / sudah 213,572 / belum 57,192 on 2025-02-28

def test_calibrated_snapshot_plus_new_wajib_gives_the_published_figures(demo):
    root, s, _ = demo
    snap = pl.read_csv(root / "penduduk" / "2024-12-31.csv", infer_schema=False)
    assert snap.columns == ["kode_desa", "wajib_ktp_lk", "wajib_ktp_pr", "sudah_rekam_lk", "sudah_rekam_pr"]
    snap = snap.with_columns(pl.exclude("kode_desa").cast(pl.Int64))
    new = s.expected["expected_new_wajib_by_desa"]
    wajib = int(snap["wajib_ktp_lk"].sum() + snap["wajib_ktp_pr"].sum())
    sudah = int(snap["sudah_rekam_lk"].sum() + snap["sudah_rekam_pr"].sum())
    assert (wajib, sudah + sum(new.values())) == (270_764, 213_572)
    assert wajib - sudah - sum(new.values()) == 57_192
    assert s.expected["snapshot_totals"] == {"wajib_ktp": wajib, "sudah_rekam": sudah}
    assert s.snapshot_date == date(2024, 12, 31)


def test_snapshot_never_has_sudah_above_wajib_nor_a_negative_backlog_at_the_end(demo):
    root, s, _ = demo
    new = s.expected["expected_new_wajib_by_desa"]
    snap = pl.read_csv(root / "penduduk" / "2024-12-31.csv", schema_overrides={"kode_desa": pl.Utf8})
    assert snap.height == 259 and set(snap["kode_desa"]) == desa_codes() == set(new)
    for r in snap.iter_rows(named=True):
        assert 0 <= r["sudah_rekam_lk"] <= r["wajib_ktp_lk"] and 0 <= r["sudah_rekam_pr"] <= r["wajib_ktp_pr"]
        assert r["wajib_ktp_lk"] + r["wajib_ktp_pr"] - r["sudah_rekam_lk"] - r["sudah_rekam_pr"] - new[r["kode_desa"]] >= 0


def test_new_wajib_per_desa_matches_a_recount_of_first_clean_baru_rows(demo):
    _, s, found = demo
    expected = {k: v for k, v in s.expected["expected_new_wajib_by_desa"].items() if v}
    assert dict(found["new"]) == expected
    assert s.expected["expected_new_wajib_total"] == sum(expected.values()) > 5_000
    assert s.expected["expected_first_recordings"] == len(found["first"])


def test_uncalibrated_snapshot_keeps_the_regency_wajib_and_about_three_quarters_recorded(tmp_path):
    s = generate(tmp_path, date(2025, 3, 3), date(2025, 3, 7), seed=5)
    t, new = s.expected["snapshot_totals"], s.expected["expected_new_wajib_total"]
    assert t["wajib_ktp"] == 270_764
    assert 0.75 <= (t["sudah_rekam"] + new) / t["wajib_ktp"] <= 0.80


def test_uncalibrated_snapshot_raises_wajib_where_new_recordings_would_go_negative():
    reg = _Regions(np.random.default_rng(1))
    new = np.zeros(len(reg.desa), dtype=np.int64)
    new[[0, 100, 258]] = 5_000  # more new wajib KTP than these desa have
    snap = _snapshot(reg, new, None).with_columns(
        wajib=pl.col("wajib_ktp_lk") + pl.col("wajib_ktp_pr"), sudah=pl.col("sudah_rekam_lk") + pl.col("sudah_rekam_pr"))
    backlog = snap["wajib"].to_numpy() - snap["sudah"].to_numpy() - new
    assert backlog.min() == 0 and (backlog[[0, 100, 258]] == 0).all()
    assert snap["wajib"].sum() > 270_764 and (snap["sudah_rekam_lk"] <= snap["wajib_ktp_lk"]).all()


def test_calibration_that_cannot_be_met_is_refused(tmp_path):
    with pytest.raises(ValueError, match="above wajib"):
        generate(tmp_path / "a", date(2025, 3, 3), date(2025, 3, 3), calibrate_to=(100, 200))
    with pytest.raises(ValueError, match="more than sudah rekam"):
        generate(tmp_path / "b", date(2025, 3, 3), date(2025, 3, 3), calibrate_to=(270_764, 10))
    with pytest.raises(UserError, match="before start"):
        generate(tmp_path / "c", date(2025, 3, 3), date(2025, 3, 2))


# ----------------------------------------------------------------------------------------------
# dirt

def test_every_row_reason_and_file_defect_appears_in_two_months_of_dirt(demo):
    _, s, _ = demo
    assert set(s.expected["expected_quarantine_by_reason"]) == set(ROW_REASONS) | {"duplicate_row"}
    assert {f["reason_code"] for f in s.expected["expected_rejected_files"]} == set(FILE_REASONS)
    assert sum(f["reason_code"] == "folder_not_a_date" for f in s.expected["expected_rejected_files"]) == 1
    assert s.expected["expected_missing"] and s.expected["expected_header_only"]


def test_reason_codes_are_the_validators():
    suite = suite_spec("rekam_log")
    # two expectations may share a reason (id_alat_invalid: the characters, then no NIK or date in it)
    assert list(dict.fromkeys(e["meta"]["reason"] for e in suite["expectations"])) == [*ROW_REASONS, "duplicate_row"]


def test_each_quarantined_row_breaks_the_rule_the_manifest_expects(demo):
    _, s, found = demo
    assert found["quarantine"] == s.expected["expected_quarantine_by_reason"]
    total = sum(found["quarantine"].values())
    assert 0.02 <= total / s.rows_written <= 0.05, "a few per cent of rows are dirty"
    assert s.expected["expected_rows_loaded"] == len(found["good"])


def test_rejected_files_are_rejected_for_the_expected_reason(demo):
    _, s, found = demo
    assert found["rejected"] == {f["path"]: f["reason_code"] for f in s.expected["expected_rejected_files"]}
    assert s.rejected_files == len(found["rejected"])


def test_missing_kecamatan_days_have_no_file_and_every_other_one_has(demo):
    root, s, _ = demo
    missing = {tuple(m) for m in s.expected["expected_missing"]}
    for i in range(59):
        day = (date(2025, 1, 1) + timedelta(days=i)).isoformat()
        for kec in kecamatan_codes():
            assert (root / "rekam" / day / f"{kec}.csv").exists() != ((day, kec) in missing), (day, kec)
    for day, kec in s.expected["expected_header_only"]:
        assert len(read_log(root / "rekam" / day / f"{kec}.csv")[1]) == 0


QUIRKS = {
    "text marker": r"[;,]'\d{16}",
    "lower case code": r"[;,](baru|ulang|jemput_bola|kecamatan|dinas)[;,\r\n]",
    "underscore": r"(?i)belum_kawin",
    "T": r"\d{4}-\d{2}-\d{2}T\d{2}:",
    "DD-MM-YYYY": r"[;,]\d{2}-\d{2}-\d{4}[;,]",
    "DD/MM/YYYY": r"[;,]\d{2}/\d{2}/\d{4}[;,]",
    "spaces": r"[;,] (L|P|KAWIN|BELUM KAWIN|16\.09\.\d\d\.\d{4}) [;,]",
    "quoted comma in a name": r'"[A-Za-z\' ]+, [A-Z][A-Za-z.]+"',
    "apostrophe": r"[A-Za-z]'[a-z]",
}


def test_valid_quirks_and_every_dialect_occur(demo):
    root, _, _ = demo
    raw = [p.read_bytes() for p in sorted((root / "rekam").rglob("*.csv"))]
    assert any(b.startswith(b"\xef\xbb\xbf") for b in raw) and any(b"\r\n" in b for b in raw)
    assert any(b.split(b"\n")[0].count(b";") >= 9 for b in raw)
    assert any(b.startswith(b'"nik"') or b'"NIK"' in b[:200] for b in raw)
    assert any(b"keterangan" in b.split(b"\n")[0] for b in raw) and any(b" Nik " in b.split(b"\n")[0] for b in raw)
    text = b"\n".join(raw).decode("utf-8")
    values = {label: len(re.findall(pattern, text)) for label, pattern in QUIRKS.items()}
    assert all(values.values()), values


def test_clean_generation_writes_only_canonical_files_and_valid_rows(tmp_path):
    s = generate(tmp_path, date(2025, 3, 3), date(2025, 3, 5), seed=1, dirt=False)
    assert s.dirty_rows == 0 and s.rejected_files == 0
    assert s.expected["expected_quarantine_by_reason"] == {} and s.expected["expected_rejected_files"] == []
    files = sorted((tmp_path / "rekam").rglob("*.csv"))
    assert {p.stem for p in files} <= kecamatan_codes()
    for p in files:
        data = p.read_bytes()
        assert data.startswith(HEADER.encode() + b"\n") and b"\r" not in data and b'"' not in data
    found = judge(tmp_path)
    assert found["quarantine"] == {} and found["rejected"] == {}
    assert len(found["good"]) == s.rows_written


# ----------------------------------------------------------------------------------------------
# people and their NIKs

def test_clean_rows_have_a_nik_of_the_contract_structure_matching_birth_date_and_sex(demo):
    _, _, found = demo
    for _, _, p in found["good"]:
        assert NIK_RULE.match(p["nik"]), p["nik"]
        born = p["born"]
        assert p["nik"][6:12] == f"{born.day + (40 if p['sex'] == 'P' else 0):02d}{born.month:02d}{born.year % 100:02d}"
    regions = Counter(p["nik"][:4] for _, _, p in found["good"])
    assert regions.most_common(1)[0][0] == "1609" and len(regions) > 5  # mostly the regency, some migrants
    assert {p["nik"][4:6] for _, _, p in found["good"] if p["nik"].startswith("1609")} == {f"{k:02d}" for k in range(1, 20)}


def test_one_nik_is_one_person(demo):
    _, _, found = demo
    persons = defaultdict(set)
    for _, _, p in found["good"]:
        persons[p["nik"]].add((p["born"], p["sex"], p["nama"].upper().removesuffix(" ")))
    assert all(len(v) == 1 for v in persons.values())


def test_no_birthday_on_29_february_nor_within_a_day_of_the_recording(demo):
    _, _, found = demo
    for _, _, p in found["good"]:
        born, at = p["born"], p["at"].date()
        assert (born.month, born.day) != (2, 29)
        near = [abs((at - date(y, born.month, born.day)).days) for y in (at.year - 1, at.year, at.year + 1)]
        assert min(near) > 1


def test_ulang_persons_are_never_baru_and_a_few_persons_are_baru_twice_on_different_days(demo):
    _, _, found = demo
    baru_days, ulang = defaultdict(set), set()
    for _, _, p in found["good"]:
        (baru_days[p["nik"]].add(p["at"].date()) if p["jenis"] == "BARU" else ulang.add(p["nik"]))
    twice = [n for n, d in baru_days.items() if len(d) > 1]
    assert ulang and not ulang & set(baru_days)
    assert 20 <= len(twice) <= 0.03 * len(baru_days)


def test_channels_ages_and_married_minors_look_like_oku_selatan(demo):
    _, _, found = demo
    rows = [(path, p) for path, _, p in found["good"]]
    dinas = [(path, p) for path, p in rows if p["lokasi"] == "DINAS"]
    assert all(path.stem == "16.09.01" for path, _ in dinas)
    assert sum(not p["desa"].startswith("16.09.01.") for _, p in dinas) > 0.5 * len(dinas)
    for lokasi in ("KECAMATAN", "JEMPUT_BOLA", "SEKOLAH"):
        assert sum(p["lokasi"] == lokasi for _, p in rows) > 0.03 * len(rows), lokasi
    assert {p["umur"] for _, p in rows if p["lokasi"] == "SEKOLAH"} == {16, 17}
    baru = [p for _, p in rows if p["jenis"] == "BARU"]
    ages = Counter(p["umur"] for p in baru)
    assert ages[17] == max(ages.values()) and sum(ages[a] for a in (16, 17, 18, 19)) > 0.4 * len(baru)
    assert max(p["umur"] for p in baru) >= 80
    assert 5 <= sum(p["umur"] == 16 and p["status"] != "BELUM KAWIN" for p in baru) <= 0.1 * ages[16]
    # outreach: dozens of residents of one desa on one day, on a mobile device
    bursts = Counter((path, p["desa"]) for path, p in rows if p["lokasi"] == "JEMPUT_BOLA")
    assert max(bursts.values()) >= 24 and all(path.stem == desa[:8] for path, desa in bursts)


def test_weekdays_are_busy_mondays_busiest_and_weekends_near_zero(demo):
    _, _, found = demo
    per_day = Counter(p["at"].date() for _, _, p in found["good"])
    by_weekday = defaultdict(list)
    for d in (date(2025, 1, 1) + timedelta(days=i) for i in range(59)):
        by_weekday[d.weekday()].append(per_day.get(d, 0))
    mean = {k: np.median(v) for k, v in by_weekday.items()}
    assert 200 <= np.mean([mean[k] for k in range(5)]) <= 400
    assert max(mean, key=mean.get) in (0, 1) and mean[5] < 50 and mean[6] < 15


# ----------------------------------------------------------------------------------------------
# scale and plumbing

def test_rows_per_day_scales_vectorised_to_exact_volumes(tmp_path):
    s = generate(tmp_path, date(2025, 3, 8), date(2025, 3, 8), seed=1, rows_per_day=20_000, dirt=False)
    assert s.rows_written == 20_000 and s.files_written == 20  # 19 kecamatan logs and the snapshot
    sizes = {p.stem: p.stat().st_size for p in (tmp_path / "rekam" / "2025-03-08").glob("*.csv")}
    assert len(sizes) == 19 and max(sizes, key=sizes.get) == "16.09.01"  # DINAS logs in Muara Dua


@pytest.mark.parametrize("dialect", [
    {"sep": ",", "eol": "\n", "bom": False, "quote": "necessary", "header": 0, "extra": 0},
    {"sep": ";", "eol": "\r\n", "bom": True, "quote": "necessary", "header": 1, "extra": 1},
    {"sep": ",", "eol": "\n", "bom": False, "quote": "always", "header": 2, "extra": 2},
    {"sep": ";", "eol": "\n", "bom": False, "quote": "always", "header": 0, "extra": 1},
])
def test_small_and_large_file_writers_give_the_same_bytes(tmp_path, dialect):
    values = ["'1609014501010001", "Hendra, S.Pd", "L", None, "BELUM_KAWIN", " 16.09.01.1013 ",
              "2025-01-01T08:00:00", "ulang", "DINAS", "  "]
    rows = pl.DataFrame([dict(zip(g.COLUMNS, values)), dict(zip(g.COLUMNS, values), nama="Ma'ruf; bin Ali", jenis_rekam="BARU")],
                        schema={c: pl.Utf8 for c in g.COLUMNS})
    for drop in (None, "id_alat"):
        out = {}
        for name, data, engine in (("csv", rows, "csv"), ("polars", rows, "polars"), ("tuples", rows.rows(), None)):
            _write(tmp_path / f"{name}.csv", data, dialect, drop=drop, engine=engine)
            out[name] = (tmp_path / f"{name}.csv").read_bytes()
        assert out["csv"] == out["polars"] == out["tuples"], out


def test_manifest_is_outside_the_landing_folders_and_holds_no_nik_or_name(demo):
    root, s, found = demo
    text = (root / ".generator_manifest.json").read_text()
    assert json.loads(text) == s.expected
    assert not re.search(r"\d{16}", text)
    names = {p["nama"] for _, _, p in found["good"]}
    assert not any(f'"{n}"' in text for n in names)
    for key in ("seed", "start", "end", "snapshot_date", "rows_written", "files_written", "expected_quarantine_by_reason",
                "expected_rejected_files", "expected_missing", "expected_new_wajib_by_desa", "snapshot_totals",
                "device_breakdowns", "request_rows_written", "expected_requests", "expected_request_quarantine_by_reason"):
        assert key in s.expected


def test_exact_age_is_completed_years(tmp_path):
    birth = np.array(["2008-03-15", "2008-03-15", "2008-03-15", "1999-12-31"], dtype="datetime64[D]")
    at = np.array(["2025-03-14", "2025-03-15", "2025-03-16", "2025-01-01"], dtype="datetime64[D]")
    assert g.exact_age(birth, at).tolist() == [16, 17, 17, 25]
    assert g.days_to_birthday(birth, at).tolist() == [1, 0, 1, 1]


# ----------------------------------------------------------------------------------------------
# devices (contract section 3, id_alat; section 9, device activity and kecamatan service)

def test_several_devices_per_kecamatan_office_and_dinas_jemput_bola_and_school_devices(demo):
    _, _, found = demo
    per_kec = defaultdict(set)
    by_lokasi = defaultdict(set)
    for path, _, p in found["good"]:
        alat = p["alat"].upper()
        by_lokasi[p["lokasi"]].add(alat)
        if p["lokasi"] == "KECAMATAN":
            assert re.fullmatch(rf"KEC-{re.escape(path.stem)}-0[1-3]", alat), (path, alat)
            per_kec[path.stem].add(alat)
    assert set(per_kec) == kecamatan_codes()
    assert {len(v) for v in per_kec.values()} == {1, 2, 3}, "each office has 1-3 devices, several have more than one"
    assert by_lokasi["DINAS"] == {"DINAS-01", "DINAS-02", "DINAS-03"}
    assert by_lokasi["JEMPUT_BOLA"] == {"JB-01", "JB-02", "JB-03", "JB-04"}
    assert by_lokasi["SEKOLAH"] and all(re.fullmatch(r"SEKOLAH-0\d", a) for a in by_lokasi["SEKOLAH"])
    assert all(device_id_ok(a) for ids in by_lokasi.values() for a in ids)


def test_device_ids_in_lower_case_are_valid_quirks_of_dirty_files_only(demo, tmp_path):
    _, _, found = demo
    lower = [p["alat"] for _, _, p in found["good"] if p["alat"] != p["alat"].upper()]
    assert 20 <= len(lower) <= 0.1 * len(found["good"]) and all(device_id_ok(a) for a in lower)
    generate(tmp_path, date(2025, 3, 3), date(2025, 3, 5), seed=1, dirt=False)
    clean = judge(tmp_path)
    assert all(p["alat"] == p["alat"].upper() for _, _, p in clean["good"])


# ----------------------------------------------------------------------------------------------
# a kecamatan office device that stops for long (realistic volume only)

def test_the_demo_has_one_breakdown_in_the_middle_and_one_still_broken_at_the_end(demo):
    _, s, _ = demo
    middle, last = s.expected["device_breakdowns"]
    assert middle["kode_kecamatan"] != last["kode_kecamatan"] and "16.09.01" not in (middle["kode_kecamatan"], last["kode_kecamatan"])
    first, final = date.fromisoformat(middle["first_date"]), date.fromisoformat(middle["last_date"])
    assert date(2025, 1, 10) <= first and final <= date(2025, 2, 21) and not middle["broken_at_end"]
    assert 8 <= weekdays(first - timedelta(days=1), final) <= 12
    assert first.weekday() < 5 and final.weekday() < 5
    first_b = date.fromisoformat(last["first_date"])
    assert last["last_date"] == "2025-02-28" and last["broken_at_end"] and 7 <= (date(2025, 2, 28) - first_b).days <= 10


def test_broken_device_kecamatan_has_no_kecamatan_row_on_its_broken_days_and_comes_back(demo):
    root, s, found = demo
    for b in s.expected["device_breakdowns"]:
        kec, first, final = b["kode_kecamatan"], date.fromisoformat(b["first_date"]), date.fromisoformat(b["last_date"])
        sent = 0
        for k in range((final - first).days + 1):
            path = root / "rekam" / (first + timedelta(days=k)).isoformat() / f"{kec}.csv"
            if path.exists() and path.stat().st_size:
                sent += 1
                assert all((r.get("lokasi_rekam") or "").upper() != "KECAMATAN" for _, r in read_log(path)[1]), path
        assert sent >= 0.5 * ((final - first).days + 1), "the log still comes while the device is broken"
        office = kecamatan_days(found, kec)
        before = max(d for d in office if d < first)
        assert weekdays(before, final) >= 8 if not b["broken_at_end"] else weekdays(before, final) >= 5
        if not b["broken_at_end"]:  # it comes back: KECAMATAN rows again within a week
            assert min(d for d in office if d > final) <= final + timedelta(days=7)


def test_its_residents_are_recorded_at_dinas_or_jemput_bola_while_its_device_is_broken(demo):
    _, s, found = demo
    b = s.expected["device_breakdowns"][0]
    kec, first, final = b["kode_kecamatan"], date.fromisoformat(b["first_date"]), date.fromisoformat(b["last_date"])
    meanwhile = [(path, p) for path, _, p in found["good"]
                 if p["desa"].startswith(kec + ".") and first <= p["at"].date() <= final]
    lokasi = Counter(p["lokasi"] for _, p in meanwhile)
    assert lokasi["DINAS"] >= 10 and lokasi["JEMPUT_BOLA"] >= 20, lokasi
    assert all(path.stem == "16.09.01" for path, p in meanwhile if p["lokasi"] == "DINAS")
    assert not any(path.stem == kec and p["lokasi"] == "KECAMATAN" for path, p in meanwhile)
    visits = {p["at"].date() for path, p in meanwhile if p["lokasi"] == "JEMPUT_BOLA" and path.stem == kec}
    assert len(visits) >= 2


def test_second_kecamatan_has_no_kecamatan_row_in_the_last_five_or_more_weekdays(demo):
    _, s, found = demo
    kec = s.expected["device_breakdowns"][1]["kode_kecamatan"]
    last_row = max(kecamatan_days(found, kec))
    assert weekdays(last_row, date(2025, 2, 28)) >= 5, "diduga_alat_rusak on the last date (contract section 9)"


def test_breakdowns_and_volume_stay_exact_with_rows_per_day(tmp_path):
    s = generate(tmp_path, date(2025, 1, 6), date(2025, 2, 14), seed=3, rows_per_day=120, dirt=False)
    assert s.expected["device_breakdowns"] == [] and s.expected["expected_missing"] == []
    assert s.rows_written == 40 * 120
    assert 0 < len(s.expected["expected_requests"]) <= 40, "a few requests a week, whatever the volume"


# ----------------------------------------------------------------------------------------------
# village requests (contract section 9)

@pytest.fixture(scope="module")
def requests(demo) -> dict:
    return judge_requests(demo[0])


def test_request_reason_codes_are_the_validators():
    suite = suite_spec("permohonan")
    assert list(dict.fromkeys(e["meta"]["reason"] for e in suite["expectations"])) == list(REQUEST_REASONS)


def test_every_request_row_satisfies_or_breaks_exactly_the_rule_the_manifest_says(demo, requests):
    _, s, _ = demo
    assert all(len(rules) <= 1 for rules in requests["broken"]), "a bad row breaks exactly one rule"
    assert requests["quarantine"] == s.expected["expected_request_quarantine_by_reason"]
    assert set(requests["quarantine"]) == set(REQUEST_REASONS)
    assert sum(requests["quarantine"].values()) <= 0.3 * len(requests["valid"])
    assert len(requests["broken"]) == s.expected["request_rows_written"]
    manifest = [(date.fromisoformat(r["tanggal_daftar"]), r["kode_desa"], r["nomor_surat"])
                for r in s.expected["expected_requests"]]
    assert sorted(v[:3] for v in requests["valid"]) == manifest


def test_request_files_are_registered_on_office_days_with_letters_dated_a_few_days_before(demo, requests):
    assert requests["headers"] and not any(_closed(d) for d in requests["headers"])
    assert all(h in (list(g.REQUEST_COLUMNS), list(g.REQUEST_COLUMNS[:3])) for h in requests["headers"].values())
    assert 2 <= len(requests["valid"]) / (59 / 7) <= 6, "a few letters a week in the whole regency"
    assert all(0 <= (reg - surat).days <= 10 for reg, _, _, surat in requests["valid"])
    assert all(re.fullmatch(r"\d{3}/\d{3}/(DS|KEL)[.-]\d{4}(/[IVX]+)?/20\d\d", nomor) for _, _, nomor, _ in requests["valid"])
    files = [p.read_bytes() for p in sorted((demo[0] / "permohonan").glob("*.csv"))]
    raw = b"".join(files)
    assert re.search(rb"\d{2}-\d{2}-\d{4}", raw) and re.search(rb"\d{2}/\d{2}/\d{4}", raw) and b";" in raw
    assert any(b.startswith(b"\xef\xbb\xbf") for b in files) and any(b"\r\n" in b for b in files)


def test_served_requests_have_a_jemput_bola_row_of_their_desa_on_their_served_date_and_none_before(demo):
    _, s, found = demo
    visits = jemput_bola_days(found)
    served = [r for r in s.expected["expected_requests"] if r["tanggal_dilayani"]]
    for r in served:
        registered, on = date.fromisoformat(r["tanggal_daftar"]), date.fromisoformat(r["tanggal_dilayani"])
        assert registered <= on <= date(2025, 2, 28) and on in visits[r["kode_desa"]], r
        assert not any(registered <= d < on for d in visits[r["kode_desa"]]), r


def test_open_requests_have_no_jemput_bola_row_of_their_desa_up_to_the_end(demo):
    _, s, found = demo
    visits = jemput_bola_days(found)
    for r in s.expected["expected_requests"]:
        if r["tanggal_dilayani"] is None:
            assert not any(d >= date.fromisoformat(r["tanggal_daftar"]) for d in visits[r["kode_desa"]]), r


def test_some_requests_are_served_some_days_later_some_still_open_and_a_desa_wrote_twice(demo):
    _, s, _ = demo
    reqs = s.expected["expected_requests"]
    served = [r for r in reqs if r["tanggal_dilayani"]]
    open_ = [r for r in reqs if r["tanggal_dilayani"] is None]
    assert len(served) > len(open_) >= 3
    waits = [(date.fromisoformat(r["tanggal_dilayani"]) - date.fromisoformat(r["tanggal_daftar"])).days for r in served]
    assert min(waits) >= 0 and np.median(waits) >= 3
    per_desa = Counter(r["kode_desa"] for r in reqs)
    assert max(per_desa.values()) >= 2
    assert len({(r["kode_desa"], r["nomor_surat"].upper()) for r in reqs}) == len(reqs)


def test_clean_request_files_are_canonical_and_every_row_valid(tmp_path):
    s = generate(tmp_path, date(2025, 3, 3), date(2025, 3, 21), seed=1, dirt=False)
    files = sorted((tmp_path / "permohonan").glob("*.csv"))
    assert files and s.expected["expected_request_quarantine_by_reason"] == {}
    for p in files:
        data = p.read_bytes()
        assert data.startswith(b"kode_desa,tanggal_surat,nomor_surat,perkiraan_warga\n") and b"\r" not in data
        assert re.search(rb"\d{2}[-/]\d{2}[-/]\d{4}", data) is None, "ISO letter dates"
    found = judge_requests(tmp_path)
    assert found["quarantine"] == {} and len(found["valid"]) == len(s.expected["expected_requests"])
