"""medallion's memory backend, saved to its data file after every write so a killed server restarts with its data.

medallion 3.0.0's memory backend loses everything on restart; the fault tests kill the server mid-push and restart
it, which only means something if what it had accepted survives. Writes go to a temporary file and are renamed.
"""

from __future__ import annotations

import json
import os
import threading

from medallion import common as _common
from medallion.backends import memory_backend as _memory_backend
from medallion.backends.memory_backend import MemoryBackend
from medallion.filters import basic_filter as _basic_filter


def _find_att(obj):
    """The version of a manifest entry (``version``) or of a STIX object (``modified``, ``created``, or the date
    it was added), never a STIX object's own ``version`` property."""
    if "version" in obj and "type" not in obj:
        return _common.string_to_datetime(obj["version"])
    if "modified" in obj:
        return _common.string_to_datetime(obj["modified"])
    if "created" in obj:
        return _common.string_to_datetime(obj["created"])
    return _common.string_to_datetime(obj["_date_added"])


for _module in (_common, _memory_backend, _basic_filter):
    _module.find_att = _find_att


class PersistentMemoryBackend(MemoryBackend):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._filename = kwargs.get("filename")
        self._save_lock = threading.Lock()

    def add_objects(self, api_root, collection_id, objs, request_time):
        status = super().add_objects(api_root, collection_id, objs, request_time)
        self._save()
        return status

    def delete_object(self, *args, **kwargs):
        result = super().delete_object(*args, **kwargs)
        self._save()
        return result

    def _save(self):
        if not self._filename:
            return
        with self._save_lock:
            tmp = f"{self._filename}.tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(self.data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._filename)
