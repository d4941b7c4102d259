"""medallion's memory backend, saved to its data file after every write so a killed server restarts with its data.

medallion 3.0.0's memory backend loses everything on restart; the fault tests kill the server mid-push and restart
it, which only means something if what it had accepted survives. Writes go to a temporary file and are renamed.

Importing this module also applies :func:`legion_misp.demo.medallion_compat.fix_find_att` (objects with their own
``version`` property, such as the signature extension's ``extension-definition``, would otherwise make every GET
answer 500).
"""

from __future__ import annotations

import json
import os
import threading

from medallion.backends.memory_backend import MemoryBackend

from legion_misp.demo.medallion_compat import fix_find_att

fix_find_att()


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
