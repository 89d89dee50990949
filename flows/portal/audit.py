"""The portal's audit log: one JSON object per line in ``<data_dir>/portal/audit.jsonl`` (mode 600).

Each line: ``at`` (UTC, ISO 8601), ``who`` (an account name, or ``?`` for a name that is no
account: a typed name could be anything, even a NIK), ``action`` (``login``, ``login_failed``,
``login_locked``, ``logout``, ``password_changed``, ``upload``, ``upload_refused``, ``letter``,
``letter_refused``, ``forbidden``, ``too_large``, ``csrf``), ``address`` (the peer) and fixed
fields: the landing name of a file and its sha256, counts, reason codes. Never a password, a
hash, a token or any content of a file.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

_LOCK = threading.Lock()


class Audit:
    def __init__(self, folder: Path):
        self.path = Path(folder) / "audit.jsonl"

    def write(self, who: str, action: str, address: str, **fields) -> None:
        """Append one line (O_APPEND, created mode 600)."""
        record = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "who": who, "action": action,
                  "address": address, **fields}
        line = (json.dumps(record, ensure_ascii=True, sort_keys=False, default=str) + "\n").encode("ascii")
        with _LOCK:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def lines(self) -> list[dict]:
        try:
            text = self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            return []
        return [json.loads(x) for x in text.splitlines() if x.strip()]
