"""Peak memory of the current process, measured so that it belongs to this process alone.

``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is *not* used: on Linux it survives ``fork`` + ``exec``, so a worker
started by a large parent (``make bench`` runs every benchmark in one process) reports the parent's peak instead of
its own. ``VmHWM`` in ``/proc/self/status`` is the high-water mark of this process's own address space, which
``exec`` starts afresh.
"""

from __future__ import annotations

from pathlib import Path

STATUS = Path("/proc/self/status")


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB (``VmHWM``)."""
    return _status_kib("VmHWM") / 1024


def current_rss_mib() -> float:
    """This process's resident set size now, in MiB (``VmRSS``)."""
    return _status_kib("VmRSS") / 1024


def _status_kib(field: str) -> int:
    for line in STATUS.read_text(encoding="ascii", errors="replace").splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise RuntimeError(f"{field} not found in {STATUS} (Linux only)")
