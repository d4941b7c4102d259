"""A fix for medallion 3.0.0's memory backend, applied by the servers legion starts (embedded demo server, tests).

medallion's ``find_att`` takes a ``version`` property as the TAXII version of anything that has one. Manifest
entries do; but so do STIX objects whose own schema has a ``version`` property (``extension-definition``, as the
signature extension publishes, and ``software``): storing one makes every later GET of the collection answer 500
("time data '1.0.0' does not match format"). :func:`fix_find_att` replaces ``find_att`` in the medallion modules
that imported it, so ``version`` counts only for manifest entries (which have no ``type``).
"""

from __future__ import annotations

from typing import Any

from medallion import common
from medallion.backends import memory_backend
from medallion.common import determine_spec_version
from medallion.filters import basic_filter
from medallion.filters.basic_filter import BasicFilter


def _find_att(obj: dict[str, Any]) -> Any:
    """The version of a manifest entry (``version``) or of a STIX object (``modified``, ``created``, or the date
    it was added), never a STIX object's own ``version`` property."""

    if "version" in obj and "type" not in obj:
        return common.string_to_datetime(obj["version"])
    if "modified" in obj:
        return common.string_to_datetime(obj["modified"])
    if "created" in obj:
        return common.string_to_datetime(obj["created"])
    return common.string_to_datetime(obj["_date_added"])


def fix_find_att() -> None:
    """Install :func:`_find_att` in medallion (idempotent; medallion has no other way to configure this)."""

    for module in (common, memory_backend, basic_filter):
        module.find_att = _find_att


# ---- linear-time filters ------------------------------------------------------------------------------------
# medallion 3.0.0's BasicFilter compares every object with every manifest entry (and every other object), parsing
# timestamps in the inner loop: one GET of a 1,000-object collection takes seconds. These replacements return the
# same objects in the same order, using indexes; :func:`fix_slow_filters` installs them.

def _sort_and_paginate(self: Any, data: list[dict[str, Any]], limit: int | None, manifest: list[dict[str, Any]]
                       ) -> tuple[list[dict[str, Any]], Any, dict[str, str]]:
    find_att = basic_filter.find_att
    next_save: Any = {}
    headers: dict[str, str] = {}
    new: list[dict[str, Any]] = []
    if len(data) == 0:
        return new, next_save, headers
    if not manifest:
        return _ORIGINAL["sort_and_paginate"](self, data, limit, manifest)
    manifest.sort(key=lambda x: x["date_added"])
    first: dict[tuple[str, Any], dict[str, Any]] = {}
    for check in data:  # the first object of each (id, version), as the original's inner loop finds it
        first.setdefault((check["id"], find_att(check)), check)
    temp = None
    for man in manifest:
        check = first.get((man["id"], find_att(man)))
        if check is None:
            continue
        if len(headers) == 0:
            headers["X-TAXII-Date-Added-First"] = man["date_added"]
        new.append(check)
        temp = man
        if len(new) == limit:
            headers["X-TAXII-Date-Added-Last"] = man["date_added"]
    if limit and limit < len(data):
        next_save = new[limit:]
        new = new[:limit]
    else:
        headers["X-TAXII-Date-Added-Last"] = temp["date_added"]  # type: ignore[index]  # as the original
    return new, next_save, headers


def _filter_by_added_after(data: list[dict[str, Any]], manifest_info: Any, added_after_date: str
                           ) -> list[dict[str, Any]]:
    if manifest_info is None:
        return _ORIGINAL["filter_by_added_after"](data, manifest_info, added_after_date)
    find_att, parse = basic_filter.find_att, basic_filter.string_to_datetime
    after = parse(added_after_date)
    later = {(item["id"], find_att(item)) for item in manifest_info if parse(item["date_added"]) > after}
    return [obj for obj in data if (obj["id"], find_att(obj)) in later]


def _filter_by_spec_version(data: list[dict[str, Any]], spec_: Any) -> list[dict[str, Any]]:
    if spec_:
        return _ORIGINAL["filter_by_spec_version"](data, spec_)

    def version(obj: dict[str, Any]) -> str:
        return obj["media_type"].split("version=")[1] if "media_type" in obj else determine_spec_version(obj)

    newest: dict[str, str] = {}
    for obj in data:
        s = version(obj)
        if obj["id"] not in newest or s > newest[obj["id"]]:
            newest[obj["id"]] = s
    return [obj for obj in data if not version(obj) < newest[obj["id"]]]  # no other copy has a newer spec


_ORIGINAL: dict[str, Any] = {}


def fix_slow_filters() -> None:
    """Install the linear-time filters in medallion's BasicFilter (idempotent)."""

    if _ORIGINAL:
        return
    _ORIGINAL["sort_and_paginate"] = BasicFilter.sort_and_paginate
    _ORIGINAL["filter_by_added_after"] = BasicFilter.filter_by_added_after
    _ORIGINAL["filter_by_spec_version"] = BasicFilter.filter_by_spec_version
    BasicFilter.sort_and_paginate = _sort_and_paginate
    BasicFilter.filter_by_added_after = staticmethod(_filter_by_added_after)
    BasicFilter.filter_by_spec_version = staticmethod(_filter_by_spec_version)
