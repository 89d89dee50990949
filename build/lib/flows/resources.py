"""Where the project's rule files live: `sql/` and `expectations/`.

In a checkout (and an editable install) they are the repository's top-level folders. A wheel
(`pip install .`) ships them as package data under `flows/_data/`, so an installed `ektp` needs no
checkout. One function decides, so no module guesses a path of its own.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def project_dir(name: str) -> Path:
    """The folder ``name`` (``"sql"`` or ``"expectations"``): packaged copy first, else the checkout's."""
    packaged = _PACKAGE / "_data" / name
    return packaged if packaged.is_dir() else _PACKAGE.parent / name
