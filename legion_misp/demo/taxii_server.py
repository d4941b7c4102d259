"""An embedded TAXII 2.1 server for the demo: medallion 3.0.0 (memory backend) in this process, on 127.0.0.1.

Served by Werkzeug's ``make_server`` in a daemon thread on an ephemeral port; ``close()`` (or leaving the ``with``
block) shuts it down. medallion registers its Flask blueprints once per process, so one process can start this
server several times in sequence but never two at once.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

HOST = "127.0.0.1"


def _quiet_handler_class():
    from werkzeug.serving import WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):  # the demo prints its own summary
            pass

    return QuietHandler
_lock = threading.Lock()
_state = {"blueprints": False, "running": False}


class EmbeddedTaxiiServer:
    """medallion with one API root ``api1``; ``collections`` maps title → {"can_read", "can_write"}.

    After ``start()``: ``api_root`` (URL) and ``collection_ids`` (title → id).
    """

    def __init__(self, workdir: Path, *, users: dict[str, str], collections: dict[str, dict[str, bool]],
                 max_page_size: int = 200):
        self.workdir = Path(workdir)
        self.users = dict(users)
        self.collection_ids = {title: str(uuid.uuid4()) for title in collections}
        self.collections = collections
        self.max_page_size = max_page_size
        self.api_root = ""
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> EmbeddedTaxiiServer:
        from medallion import application_instance as app  # medallion: the demo extra, needed only to serve
        from medallion import register_blueprints, set_config
        from werkzeug.serving import make_server

        from .medallion_compat import fix_find_att, fix_slow_filters

        fix_find_att()  # extension-definition objects (signed publishing) would make every GET answer 500
        fix_slow_filters()  # the same answers in linear time (a demo federation's collection holds ~1,000 objects)

        _QuietHandler = _quiet_handler_class()

        with _lock:
            if _state["running"]:
                raise RuntimeError("an embedded TAXII server is already running in this process")
            _state["running"] = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._server = make_server(HOST, 0, app, threaded=True, request_handler=_QuietHandler)
        base = f"http://{HOST}:{self._server.server_port}"
        self.api_root = f"{base}/api1/"
        data = {
            "/discovery": {"title": "legion demo TAXII server", "description": "embedded medallion (loopback)",
                           "contact": "demo@localhost", "default": self.api_root, "api_roots": [self.api_root]},
            "api1": {"information": {"title": "api1", "description": "demo federation",
                                     "versions": ["application/taxii+json;version=2.1"],
                                     "max_content_length": 10 * 1024 * 1024},
                     "status": [],
                     "collections": [{"id": self.collection_ids[t], "title": t, "description": t,
                                      "can_read": r.get("can_read", True), "can_write": r.get("can_write", True),
                                      "media_types": ["application/stix+json;version=2.1"], "objects": [],
                                      "manifest": []} for t, r in self.collections.items()]},
        }
        data_path = self.workdir / "data.json"
        data_path.write_text(json.dumps(data), encoding="utf-8")
        config = {"users": self.users, "taxii": {"max_page_size": self.max_page_size},
                  "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                              "filename": str(data_path), "session_timeout": 60, "check_interval": 10}}
        for name in ("users", "taxii", "backend"):
            set_config(app, name, config)
        with _lock:
            if not _state["blueprints"]:
                register_blueprints(app)
                _state["blueprints"] = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="legion-embedded-taxii", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with _lock:
            _state["running"] = False

    def __enter__(self) -> EmbeddedTaxiiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
