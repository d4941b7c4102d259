"""A fix for medallion 3.0.0's memory backend, applied by the servers legion starts (embedded demo server, tests).

medallion's ``find_att`` takes a ``version`` property as the TAXII version of anything that has one. Manifest
entries do; but so do STIX objects whose own schema has a ``version`` property (``extension-definition``, as the
signature extension publishes, and ``software``): storing one makes every later GET of the collection answer 500
("time data '1.0.0' does not match format"). :func:`fix_find_att` replaces ``find_att`` in the medallion modules
that imported it, so ``version`` counts only for manifest entries (which have no ``type``).
"""

from __future__ import annotations

from typing import Any


def _find_att(obj: dict[str, Any]) -> Any:
    """The version of a manifest entry (``version``) or of a STIX object (``modified``, ``created``, or the date
    it was added), never a STIX object's own ``version`` property."""
    from medallion import common

    if "version" in obj and "type" not in obj:
        return common.string_to_datetime(obj["version"])
    if "modified" in obj:
        return common.string_to_datetime(obj["modified"])
    if "created" in obj:
        return common.string_to_datetime(obj["created"])
    return common.string_to_datetime(obj["_date_added"])


def fix_find_att() -> None:
    """Install :func:`_find_att` in medallion (idempotent; medallion has no other way to configure this)."""
    from medallion import common
    from medallion.backends import memory_backend
    from medallion.filters import basic_filter

    for module in (common, memory_backend, basic_filter):
        module.find_att = _find_att
