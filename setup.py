"""Build hook: ship misp_modules/ and the example events inside the wheel (as legion_misp/bundled/).

Metadata, dependencies and extras live in setup.cfg. ``legion modules install`` and ``legion demo`` read the
bundled copies when legion-misp runs from an installed wheel (see legion_misp/shipped.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# source (relative to the project root) -> destination under legion_misp/bundled/
BUNDLED = {
    "misp_modules": "misp_modules",
    "examples/events": "examples/events",
    "examples/staff-directory.txt": "examples/staff-directory.txt",
}
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


class BuildPyWithBundledData(build_py):
    """build_py that also copies the module files and example events into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads them from the source tree
            return
        target = Path(self.build_lib) / "legion_misp" / "bundled"
        for source, destination in BUNDLED.items():
            origin, copy = HERE / source, target / destination
            if not origin.exists():
                raise FileNotFoundError(f"{origin} is missing: the wheel would ship without it (see MANIFEST.in)")
            shutil.rmtree(copy, ignore_errors=True)
            copy.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, copy, ignore=_SKIP)
            else:
                shutil.copy2(origin, copy)


setup(cmdclass={"build_py": BuildPyWithBundledData})
