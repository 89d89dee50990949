"""The generator's reason codes, code lists and column names, read from the pipeline, never restated.

In: the suites (``expectations/*.json`` through ``flows.ingest.validate.suite_spec``), the reader's column lists
(``flows.ingest.read``), the file-level reasons of ``flows.ingest.discover`` and ``expectations/file_reasons.json``.
Out: ``ROW_REASONS`` (the validator's row reasons in its priority order, without ``duplicate_row``),
``REQUEST_REASONS``, ``FILE_REASONS``, the code lists of the log columns (``SEXES``, ``STATUS``,
``JENIS_REKAM``, ``CHANNELS``), the column lists and the manifest's hidden name.
Fails at import with ValueError when a suite no longer holds a rule the generator writes dirt for (the
dirt would then break a rule nobody checks): the generator must follow the suite, not the other way round.
"""

from __future__ import annotations

import json

from flows.ingest.discover import NAME_REASONS
from flows.ingest.read import PERMOHONAN_COLUMNS, PERMOHONAN_OPTIONAL, REKAM_COLUMNS
from flows.ingest.validate import EXPECTATIONS_DIR, suite_spec

COLUMNS = REKAM_COLUMNS  # the generator's old name for the log columns (tests/test_generate.py uses it)
MANIFEST = ".generator_manifest.json"   # hidden: the landing zone never reads hidden names
DUPLICATE = "duplicate_row"


def _reasons(suite: str) -> tuple[str, ...]:
    """The suite's reason codes in its priority order, each once (two rules may share one)."""
    return tuple(dict.fromkeys(e["meta"]["reason"] for e in suite_spec(suite)["expectations"]))


def _value_set(suite: str, reason: str) -> tuple[str, ...]:
    """The allowed values of the in-set rule behind ``reason`` (in the suite's order).
    Raises ValueError when the suite has no such rule."""
    for e in suite_spec(suite)["expectations"]:
        if e["meta"]["reason"] == reason and e["type"] == "expect_column_values_to_be_in_set":
            return tuple(e["kwargs"]["value_set"])
    raise ValueError(f"the suite {suite} has no value set for {reason}")


def _file_reasons() -> tuple[str, ...]:
    """The file-level rejections the generator writes, each checked to be a reason the pipeline gives."""
    known = set(NAME_REASONS) | set(json.loads((EXPECTATIONS_DIR / "file_reasons.json").read_text("utf-8"))["penjelasan"])
    wanted = ("empty_file", "missing_columns", "unknown_kecamatan", "folder_not_a_date")
    missing = [r for r in wanted if r not in known]
    if missing:
        raise ValueError(f"the pipeline no longer rejects files for {', '.join(missing)}")
    return wanted


# Quarantine reasons of a row (the validator's codes, in its priority order), then the file-level ones.
ROW_REASONS = tuple(r for r in _reasons("rekam_log") if r != DUPLICATE)
FILE_REASONS = _file_reasons()
R = {name: i for i, name in enumerate(ROW_REASONS)}
# Quarantine reasons of a village request row (expectations/permohonan.json, in its priority order).
REQUEST_REASONS = _reasons("permohonan")
REQUEST_COLUMNS = (*PERMOHONAN_COLUMNS, *PERMOHONAN_OPTIONAL)  # contract section 9 (the last one optional)

# The code lists of the log columns, in the suite's order (the generator's indices follow it).
SEXES = _value_set("rekam_log", "jenis_kelamin_invalid")          # L, P
STATUS = _value_set("rekam_log", "status_kawin_invalid")          # BELUM KAWIN, KAWIN, CERAI HIDUP, CERAI MATI
JENIS_REKAM = _value_set("rekam_log", "jenis_rekam_invalid")      # BARU, ULANG
CHANNELS = _value_set("rekam_log", "lokasi_rekam_invalid")        # DINAS, KECAMATAN, JEMPUT_BOLA, SEKOLAH, LAINNYA
DINAS, KECAMATAN, JEMPUT_BOLA, SEKOLAH, LAINNYA = (CHANNELS.index(c) for c in
                                                  ("DINAS", "KECAMATAN", "JEMPUT_BOLA", "SEKOLAH", "LAINNYA"))
MALE, FEMALE = SEXES.index("L"), SEXES.index("P")
BARU, ULANG = JENIS_REKAM.index("BARU"), JENIS_REKAM.index("ULANG")
