"""``ektp rejects``: the local paths of rejected files, for the operator at the machine.

A file rejected for its name is stored only as its hashed form (``rekam/<date or ?>/#<h>``,
contract section 5). To find it, this walks the landing zone and computes the same HMAC for every
entry under the key. The result goes to the operator's terminal only (the caller escapes control
characters); it is never run as a flow, logged or stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.ingest.discover import hashed_name, landing_name
from flows.ingest.landing import LandingZone
from flows.reference.wilayah import kabupaten_codes, kecamatan_codes
from flows.settings import Settings
from flows.warehouse.database import connect_reader


@dataclass(frozen=True)
class Rejected:
    source_file: str            # as stored (hashed for a bad name)
    error: str
    local_path: str | None      # where it is now, or None when it has left the landing zone


def rejected_files(settings: Settings, key: bytes) -> list[Rejected]:
    """Every rejected current file version of the analysts' copy, with its local path."""
    con = connect_reader(settings.published_path)
    try:
        rows = con.execute("""select source_file, error from audit.file_loads
                              where status = 'rejected' order by source_file""").fetchall()
    finally:
        con.close()
    kec, kab = kecamatan_codes(settings.wilayah), kabupaten_codes(settings.wilayah)
    local: dict[str, str] = {}
    with LandingZone(settings.raw_dir) as zone:
        for entry in zone.walk(settings.max_depth):
            stored = entry.rel if landing_name(entry.rel, kec, kab)[3] is None else hashed_name(entry.rel, key)
            local.setdefault(stored, entry.rel)
    return [Rejected(sf, err or "", str(settings.raw_dir / local[sf]) if sf in local else None) for sf, err in rows]
