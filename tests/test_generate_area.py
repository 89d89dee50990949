"""The generator for any area (contract section 10, "Generator"): the default zone stays byte for byte
what it was, another area gets every kecamatan and desa of its list and loads through the real
functions of a run, a province's plan has the province's counts, and the dirt's reasons are the suite's.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from flows.cli import main
from flows.ingest.validate import suite_spec
from flows.reference.wilayah import desa_codes, kabupaten_codes, kecamatan_codes
from flows.synth import MANIFEST, REQUEST_REASONS, ROW_REASONS, generate
from flows.synth.codes import CHANNELS, JENIS_REKAM, SEXES, STATUS
from flows.synth.plan import _plan
from tests.harness import load_landing

TWO = ("16.09", "16.10")
# sha256 of the default zone of 2025-01-27..2025-02-07 (seed 2025), taken with flows/generate.py before the
# generator moved to flows/synth: path, NUL, bytes, NUL for every file in path order.
DEFAULT_DIGEST = "788132b6e983cb1032322261a6f7f477633db22e0e77819f4501f0065acc0dff"


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def test_without_an_area_the_zone_is_byte_for_byte_the_one_before_the_move(tmp_path):
    generate(tmp_path / "a", date(2025, 1, 27), date(2025, 2, 7), seed=2025)
    generate(tmp_path / "b", date(2025, 1, 27), date(2025, 2, 7), seed=2025, wilayah=("16.09",))
    assert digest(tmp_path / "a") == DEFAULT_DIGEST
    assert digest(tmp_path / "b") == DEFAULT_DIGEST, "the default area named explicitly is the same zone"


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """Three weeks of two kab/kota (OKU Selatan and Ogan Ilir), loaded through a run's functions."""
    data = tmp_path_factory.mktemp("two")
    s = generate(data / "raw", date(2025, 1, 6), date(2025, 1, 24), seed=3, wilayah=TWO)
    return data, s, load_landing(data, last_date=date(2025, 1, 24), area=TWO)


def test_a_two_kab_kota_zone_has_every_kecamatan_and_desa_of_both(two):
    data, s, _ = two
    written = {p.stem for p in (data / "raw" / "rekam").glob("*/*.csv")}
    missing = {k for _, k in s.expected["expected_missing"]}
    assert kecamatan_codes(TWO) <= written | missing and kecamatan_codes(TWO) & written >= kecamatan_codes(TWO) - missing
    assert {k[:5] for k in written if k in kecamatan_codes(TWO)} == set(TWO)
    snap = (data / "raw" / "penduduk" / "2025-01-05.csv").read_text().splitlines()
    assert {line.split(",")[0] for line in snap[1:]} == set(desa_codes(TWO))
    assert set(s.expected["expected_new_wajib_by_desa"]) == set(desa_codes(TWO))


def test_a_two_kab_kota_zone_loads_with_marts_for_both_and_its_kab_kota_snapshot(two):
    _, s, wh = two
    rows = wh.query("select kode_kabupaten, wajib_ktp from mart.backlog_kabupaten where as_of_date = '2025-01-24' order by 1")
    assert [k for k, _ in rows] == list(TWO) and all(w > 100_000 for _, w in rows)
    assert sum(w for _, w in rows) == s.expected["snapshot_totals"]["wajib_ktp"]
    (kab,) = s.expected["kabupaten_snapshots"]
    assert wh.query(f"select status from audit.file_loads where source_file = '{kab['path']}'") == [("loaded",)]
    # a name that is not a landing name is stored hashed (contract section 5): compare the landing names only
    rejected = [f for (f,) in wh.query("select source_file from audit.file_loads where status = 'rejected'")]
    expected = [r["path"] for r in s.expected["expected_rejected_files"]]
    assert len(rejected) == len(expected) and {f for f in rejected if "#" not in f} <= set(expected)


def test_the_backlog_at_the_end_is_the_snapshot_plus_the_new_recordings_with_a_later_kab_kota_snapshot(two):
    _, s, wh = two
    (sudah,) = wh.query("select sum(sudah_rekam) from mart.backlog_kabupaten where as_of_date = '2025-01-24'")[0]
    assert sudah == s.expected["snapshot_totals"]["sudah_rekam"] + s.expected["expected_new_wajib_total"]


def test_the_quarantine_of_another_area_is_the_manifests_reason_by_reason(two):
    _, s, wh = two
    found = dict(wh.query("select reason, count(*) from audit.quarantine where source_file like 'rekam/%' group by 1"))
    assert found == s.expected["expected_quarantine_by_reason"]
    assert set(found) <= set(ROW_REASONS) | {"duplicate_row"}


def test_a_province_plan_has_241_kecamatan_3259_desa_and_a_disdukcapil_office_per_kab_kota():
    plan = _plan(date(2025, 1, 1), date(2025, 1, 3), 2025, None, None, True, ("16",))
    reg = plan.reg
    assert len(reg.kec) == 241 and len(reg.desa) == 3259
    assert set(reg.kec.tolist()) == set(kecamatan_codes(("16",))) and set(reg.desa.tolist()) == set(desa_codes(("16",)))
    assert [str(reg.kec[c])[:5] for c in reg.capitals] == sorted(kabupaten_codes(("16",)))
    assert not plan.outage[:, reg.capitals].any(), "a Disdukcapil office never stops"
    assert 12 <= reg.volume <= 13.5, "the rows a day scale with the kecamatan (241 / 19)"
    share = {k: reg.pop[np.char.startswith(reg.desa.astype(str), k)].sum() for k in ("16.71", "16.12")}
    assert share["16.71"] > 5 * share["16.12"], "Kota Palembang is far larger than PALI"


def test_the_dirt_and_the_code_lists_are_the_suites():
    spec = {e["meta"]["reason"]: e for e in suite_spec("rekam_log")["expectations"]}
    assert [*ROW_REASONS, "duplicate_row"] == list(spec)
    assert list(REQUEST_REASONS) == list(dict.fromkeys(e["meta"]["reason"] for e in suite_spec("permohonan")["expectations"]))
    assert list(STATUS) == spec["status_kawin_invalid"]["kwargs"]["value_set"]
    assert list(CHANNELS) == spec["lokasi_rekam_invalid"]["kwargs"]["value_set"]
    assert list(SEXES) == spec["jenis_kelamin_invalid"]["kwargs"]["value_set"]
    assert list(JENIS_REKAM) == spec["jenis_rekam_invalid"]["kwargs"]["value_set"]


def test_ektp_generate_takes_an_area_and_writes_it(tmp_path, capsys):
    out = tmp_path / "zone"
    assert main(["generate", "--out", str(out), "--start", "2025-01-06", "--end", "2025-01-07", "--wilayah", "16.72"]) == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["wilayah"] == ["16.72"]
    assert {p.stem for p in out.glob("rekam/*/*.csv")} <= kecamatan_codes(("16.72",)) | {
        Path(r["path"]).stem for r in manifest["expected_rejected_files"]}
    assert Counter(p.parent.name for p in out.glob("rekam/*/*.csv"))


def test_a_two_kab_kota_zone_runs_through_the_real_flow_with_marts_for_both(prefect_api, landing, monkeypatch):
    s = generate(landing.raw, date(2025, 1, 6), date(2025, 1, 17), seed=5, wilayah=TWO)
    monkeypatch.setenv("EKTP_WILAYAH", ",".join(TWO))
    landing.run("2025-01-17", start="2025-01-06")
    rows = landing.query("select kode_kabupaten, wajib_ktp, sudah_rekam from mart.backlog_kabupaten "
                         "where as_of_date = '2025-01-17' order by 1", published=True)
    assert [k for k, _, _ in rows] == list(TWO)
    assert sum(w for _, w, _ in rows) == s.expected["snapshot_totals"]["wajib_ktp"]
    assert sum(x for _, _, x in rows) == s.expected["snapshot_totals"]["sudah_rekam"] + s.expected["expected_new_wajib_total"]
    (kab,) = s.expected["kabupaten_snapshots"]
    assert landing.query("select status from audit.file_loads where source_file = ?", [kab["path"]]) == [("loaded",)]
    kecamatan = {k for (k,) in landing.query("select distinct kode_kecamatan from mart.backlog_kecamatan", published=True)}
    assert kecamatan == set(kecamatan_codes(TWO))
