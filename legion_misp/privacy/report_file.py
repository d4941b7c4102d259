"""A sanitising release's JSON report, streamed event by event to a temporary file and renamed into place at the end
(a crash leaves no half-written report)::

    {"run": {...}, "events": [{...}, ...], "summary": {...}}
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any

from .report import EventReport


class ReportFile:
    """The JSON report of one release at ``path`` (``None``: no report, every call does nothing)."""

    def __init__(self, path: Path | None, header: dict[str, Any]):
        self.path = path
        self.residual = 0
        self._handle: IO[str] | None = None
        self._first = True
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        self._handle = os.fdopen(fd, "w", encoding="utf-8")
        self._handle.write('{"run": ' + json.dumps(header, ensure_ascii=False) + ',\n "events": [')

    def add(self, report: EventReport) -> None:
        self.residual += len(report.residual)
        if self._handle is not None:
            self._handle.write(("\n  " if self._first else ",\n  ") + json.dumps(report.as_dict(), ensure_ascii=False))
            self._first = False

    def close(self, summary: dict[str, Any]) -> None:
        if self._handle is None or self.path is None:
            return
        self._handle.write('],\n "summary": ' + json.dumps(summary, ensure_ascii=False) + "}\n")
        self._handle.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if self._handle is not None:
            self._handle.close()
            Path(self._tmp).unlink(missing_ok=True)
