"""Where the files shipped beside the code are: the MISP module root and the example events.

From a source checkout (or an editable install) they are the project's ``misp_modules/`` and ``examples/``; from an
installed wheel they are ``legion_misp/bundled/`` (copied there by setup.py's build hook). Never the site-packages
``misp_modules`` folder: that is the misp-modules server's own package, which holds no legion module.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PACKAGE_DIR / "bundled"
SOURCE_DIR = PACKAGE_DIR.parent


def _first_with(candidates: list[Path], marker: str) -> Path:
    for candidate in candidates:
        if any(candidate.glob(marker)):
            return candidate
    return candidates[0]


def module_root() -> Path:
    """The misp-modules custom root holding legion's four module files."""
    return _first_with([SOURCE_DIR / "misp_modules", BUNDLED_DIR / "misp_modules"], "*/legion_*.py")


def examples_dir() -> Path:
    """The folder holding ``events/`` (example MISP events) and ``staff-directory.txt``."""
    return _first_with([SOURCE_DIR / "examples", BUNDLED_DIR / "examples"], "events/*.json")
