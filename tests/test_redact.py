"""The redaction rules for unexpected exceptions (flows/errors.py), on the messages libraries give."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from flows.errors import UserError, redact, scrub

NIK, NAME = "1609014501010001", "Budi Santoso"


@pytest.mark.parametrize("text, expected", [
    (f"Could not convert string '{NIK}' to INT16", "Could not convert string '…' to INT16"),
    (f"can't convert '{NAME}' to int", "can't convert '…' to int"),                  # apostrophe is not a quote
    ("bad 'Ma'ruf Amin' here", "bad '…' here"),                                         # nor inside a name
    (f"LINE 1: select cast('{NAME[:6]}...", "LINE 1: select cast('…"),                   # cut off at the line end
    (f'values: ["{NAME}"]', "values: ['…']"),
    (f"row {NIK} and {NIK[1:]} and {NIK[2:]}", "row <digits> and <digits> and <digits>"),  # lost zeros too
    ("No such file: '/srv/ektp/data/raw/rekam/x.csv'", "No such file: '/srv/ektp/data/raw/rekam/x.csv'"),
    ("run 20261128T113134123456-ab12 failed", "run 20261128T113134123456-ab12 failed"),  # run ids stay
])
def test_quoted_values_and_nik_length_digit_runs_are_redacted_paths_and_run_ids_kept(text, expected):
    assert redact(text) == expected


def test_scrub_redacts_real_library_errors_and_their_chain_but_not_our_own_sentences():
    try:
        try:
            pl.Series("nama", [NAME]).cast(pl.Int64)
        except pl.exceptions.PolarsError:
            duckdb.execute("select cast(? as smallint)", [NIK])
    except duckdb.Error as exc:
        scrub(exc)
        text = f"{exc!r} {exc.__context__!r} {exc}"
        assert "'…'" in text and NIK not in text and NAME not in text
    else:
        pytest.fail("the casts did not fail")
    ours = UserError("--kecamatan '16.09.99' is not a kecamatan of OKU Selatan.")
    assert str(scrub(ours)) == "--kecamatan '16.09.99' is not a kecamatan of OKU Selatan."
