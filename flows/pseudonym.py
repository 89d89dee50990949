"""Keyed pseudonyms: HMAC-SHA256 of the NIK under EKTP_NIK_KEY (contract section 5).

A plain hash of a NIK is not allowed (the NIK space is small enough to enumerate); the key never
leaves the process. The hex digest identifies a person across files and runs with the same key.
"""

from __future__ import annotations

import hashlib
import hmac

import polars as pl


def pseudonym(nik: str, key: bytes) -> str:
    return hmac.new(key, nik.encode("ascii"), hashlib.sha256).hexdigest()


def pseudonymise(niks: pl.Series, key: bytes) -> pl.Series:
    """Map a Series of validated 16-digit NIKs to their pseudonyms (same length and order)."""
    inner = hashlib.sha256()
    outer = hashlib.sha256()
    block = key if len(key) <= 64 else hashlib.sha256(key).digest()
    block = block.ljust(64, b"\0")
    inner.update(bytes(b ^ 0x36 for b in block))
    outer.update(bytes(b ^ 0x5C for b in block))
    out = []
    append = out.append
    for nik in niks.to_list():
        h = inner.copy()
        h.update(nik.encode("ascii"))
        o = outer.copy()
        o.update(h.digest())
        append(o.hexdigest())
    return pl.Series(niks.name or "person_id", out, dtype=pl.Utf8)
