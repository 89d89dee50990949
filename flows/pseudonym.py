"""Keyed pseudonyms: HMAC-SHA256 of the NIK under EKTP_NIK_KEY (contract section 5).

A plain hash of a NIK is not allowed (the NIK space is small enough to enumerate); the key never
leaves the process. The hex digest identifies a person across files and runs with the same key.

``pseudonymise`` is the batch path: HMAC is computed once per distinct NIK of the batch (repeat
captures and duplicates share it), with the key's inner and outer pads precomputed, as
``sha256(opad + sha256(ipad + nik).digest())`` - RFC 2104, byte-identical to
``hmac.new(key, nik, sha256).hexdigest()`` - and mapped back to the rows in Polars. The cost is
a small part of a run (see docs/performance.md); repeat captures are hashed once.
"""

from __future__ import annotations

import hashlib
import hmac

import polars as pl

_BLOCK = 64  # SHA-256 block size in bytes


def pseudonym(nik: str, key: bytes) -> str:
    return hmac.new(key, nik.encode("ascii"), hashlib.sha256).hexdigest()


def _pads(key: bytes) -> tuple[bytes, bytes]:
    block = key if len(key) <= _BLOCK else hashlib.sha256(key).digest()
    block = block.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def pseudonymise(niks: pl.Series, key: bytes) -> pl.Series:
    """Map a Series of validated 16-digit NIKs to their pseudonyms (same length and order)."""
    name = niks.name or "person_id"
    if niks.len() == 0:
        return pl.Series(name, [], dtype=pl.Utf8)
    ipad, opad = _pads(key)
    sha256 = hashlib.sha256
    uniq = niks.unique(maintain_order=False)
    digests = [sha256(opad + sha256(ipad + n.encode("ascii")).digest()).hexdigest()
               for n in uniq.to_list()]
    mapping = pl.DataFrame({"k": uniq, "v": pl.Series(digests, dtype=pl.Utf8)})
    out = niks.rename("k").to_frame().join(mapping, on="k", how="left", maintain_order="left")["v"]
    return out.rename(name)
