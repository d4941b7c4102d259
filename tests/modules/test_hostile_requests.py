"""Hostile requests against every legion module through the real misp-modules server.

Each must get a short ``{"error": ...}`` (HTTP 200, no traceback, no echo of the input) and the server must keep
serving. Some bodies never reach a module: the stock server's own JSON parser (orjson) rejects invalid UTF-8, JSON
nested deeper than 1024 levels and non-object bodies with HTTP 500. For those we can only hold that the server stays
alive, and that is what we assert.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import pytest

MODULE_ROOT = Path(__file__).resolve().parents[2] / "misp_modules"
MODULES = sorted(p.stem for p in MODULE_ROOT.glob("*/legion_*.py"))
MARKER = "ECHO-CANARY-7731"


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.bin", b"\0" * (50 * 1024 * 1024))  # 50 MB of zeros, ~50 KB compressed
    return buffer.getvalue()


def nested(depth: int) -> dict:
    node: dict = {"leaf": MARKER}
    for _ in range(depth):
        node = {"n": node}
    return node


def hostile_bodies(module: str) -> dict[str, dict]:
    big = MARKER + "A" * (2 * 1024 * 1024)
    return {
        "missing everything": {"module": module},
        "attribute is a string": {"module": module, "attribute": MARKER, "data": MARKER},
        "wrong types": {"module": module, "attribute": {"type": 5, "value": [MARKER]}, "data": {"x": MARKER},
                        "params": [MARKER], "config": [MARKER]},
        "null config": {"module": module, "config": None, "attribute": None, "data": None, "params": None},
        "2 MB value": {"module": module, "attribute": {"type": "email-body", "value": big, "uuid": MARKER},
                       "data": big, "params": {"config_path": big}},
        "unsupported type": {"module": module, "attribute": {"type": "malware-sample", "value": MARKER,
                                                             "uuid": "x"}},
        "zip bomb in malware-sample": {"module": module, "attribute": {
            "type": "malware-sample", "value": f"{MARKER}.zip|d41d8cd98f00b204e9800998ecf8427e", "uuid": "x",
            "data": base64.b64encode(zip_bomb()).decode()}, "data": base64.b64encode(zip_bomb()).decode()},
        "deeply nested (within the parser's limit)": {"module": module, "attribute": nested(200),
                                                      "data": nested(200), "params": nested(200)},
        "invalid UTF-8 inside base64 data": {
            "module": module, "data": base64.b64encode(b"\xff\xfe\xfa" + MARKER.encode()).decode(),
            "attribute": {"type": "email-body", "value": "x", "uuid": "x",
                          "data": base64.b64encode(b"\xff\xfe" + MARKER.encode()).decode()}},
    }


@pytest.mark.slow
@pytest.mark.parametrize("module", MODULES)
def test_hostile_bodies_get_short_errors_and_server_survives(module_server, module):
    assert MODULES, "no legion modules found"
    for name, body in hostile_bodies(module).items():
        raw = json.dumps(body).encode("utf-8")
        status, answer_bytes = module_server.post_raw(raw, timeout=60)
        assert status == 200, (name, status)
        answer = json.loads(answer_bytes)
        assert isinstance(answer, dict) and isinstance(answer.get("error"), str), (name, answer)
        assert len(answer["error"]) <= 2000 and "Traceback" not in answer["error"], name
        assert MARKER not in answer_bytes.decode("utf-8", "replace"), f"{name}: input echoed"
        assert module_server.healthy(), f"server died after {name}"


@pytest.mark.slow
@pytest.mark.parametrize("raw", [
    b'{"module": "legion_publish_gate", "data": "\xff\xfe"}',
    b"[" * 5000 + b"]" * 5000,
    b'["legion_publish_gate"]',
    b'{"module": "legion_publish_gate", "data": "\\udcff"}',
    b"not json at all",
], ids=["invalid UTF-8", "nested beyond orjson's limit", "array body", "lone surrogate", "not JSON"])
def test_bodies_the_stock_server_rejects_leave_it_alive(module_server, raw):
    status, _ = module_server.post_raw(raw, timeout=30)
    assert status == 500  # rejected by the server's own parser before any module runs
    assert module_server.healthy()
