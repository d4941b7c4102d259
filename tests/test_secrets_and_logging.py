"""Secrets come from env:/file: only and never reach logs, errors or repr."""

from __future__ import annotations

import io
import json
import logging

import pytest

from legion_misp.errors import SecretError
from legion_misp.log import JsonFormatter, RedactingFilter
from legion_misp.secrets import Secret


def test_env_secret_resolves_and_repr_hides_value(monkeypatch):
    monkeypatch.setenv("LEGION_TEST_KEY", "hunter2-very-secret")
    secret = Secret("env:LEGION_TEST_KEY")
    assert secret.reveal() == "hunter2-very-secret"
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)


def test_file_secret_is_relative_to_base_dir(tmp_path):
    (tmp_path / "key.txt").write_text("filesecret-123\n", encoding="utf-8")
    assert Secret("file:key.txt", tmp_path).reveal() == "filesecret-123"


def test_unresolvable_secrets_name_the_reference_only(monkeypatch, tmp_path):
    monkeypatch.delenv("LEGION_ABSENT", raising=False)
    with pytest.raises(SecretError, match="LEGION_ABSENT"):
        Secret("env:LEGION_ABSENT").reveal()
    with pytest.raises(SecretError, match="does not exist"):
        Secret("file:absent.key", tmp_path).reveal()
    with pytest.raises(SecretError, match="never literally"):
        Secret("plain-value")


def test_log_records_are_redacted_in_message_args_and_traceback(monkeypatch):
    monkeypatch.setenv("LEGION_TEST_KEY2", "tok-7c1b9e55")
    value = Secret("env:LEGION_TEST_KEY2").reveal()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("legion_misp.test_redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("calling https://misp.example with key %s", value)
        try:
            raise RuntimeError(f"server said: bad key {value}")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert value not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines[0]["message"] == "calling https://misp.example with key ***"
    assert "bad key ***" in lines[1]["exception"]


def test_secret_files_are_0600_atomic_and_never_overwritten_by_accident(tmp_path):
    import os
    import stat

    from legion_misp.secrets import write_secret_file

    old_umask = os.umask(0)  # the most permissive umask: the mode must still be exactly 0600
    try:
        path = write_secret_file(tmp_path / "new-folder" / "key", "s3cret")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "s3cret"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with pytest.raises(FileExistsError):
        write_secret_file(path, "other")
    assert path.read_text() == "s3cret"
    write_secret_file(path, b"rotated", replace=True)
    assert path.read_text() == "rotated" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["key"]  # no temporary file left behind
