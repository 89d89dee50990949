"""Keyed pseudonyms: HMAC-SHA256 of the NIK under EKTP_NIK_KEY (contract section 5).

A plain hash of a NIK is not allowed (the NIK space is small enough to enumerate); the key never
leaves the process. The hex digest identifies a person across files and runs with the same key.

``pseudonymise`` maps a whole batch: the key's inner and outer pads are precomputed and DuckDB
(an in-memory connection, closed at once) computes ``sha256(opad || sha256(ipad || nik))`` for
every row - RFC 2104, byte-identical to ``hmac.new(key, nik, sha256).hexdigest()`` (tested).
"""

from __future__ import annotations

import hashlib

import polars as pl

_BLOCK = 64  # SHA-256 block size in bytes


def _pads(key: bytes) -> tuple[bytes, bytes]:
    block = key if len(key) <= _BLOCK else hashlib.sha256(key).digest()
    block = block.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def pseudonymise(niks: pl.Series, key: bytes) -> pl.Series:
    """Map a Series of validated 16-digit NIKs to their pseudonyms (same length and order)."""
    name = niks.name or "person_id"
    if niks.len() == 0:
        return pl.Series(name, [], dtype=pl.Utf8)
    import duckdb

    ipad, opad = _pads(key)
    frame = niks.rename("nik").to_frame()
    con = duckdb.connect()   # in memory, this call only: nothing is written anywhere
    try:
        con.register("niks", frame)
        # RFC 2104 with the pads as parameters (never in the SQL text); DuckDB's sha256 runs
        # vectorised on all cores, about twice as fast as hashlib in a Python loop here
        out = con.sql("select sha256(?::blob || unhex(sha256(?::blob || encode(nik)))) as v from niks",
                      params=[opad, ipad]).to_arrow_table()
    finally:
        con.close()
    return pl.from_arrow(out)["v"].cast(pl.Utf8).rename(name)
