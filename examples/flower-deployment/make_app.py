"""(Re)write the Flower app folder ``app/`` (pyproject.toml + shim) that ``flwr run`` ships to the SuperLink."""

from __future__ import annotations

from pathlib import Path

from legion_misp.learning.flower_deploy import write_flower_app

if __name__ == "__main__":
    print(write_flower_app(Path(__file__).resolve().parent / "app"))
