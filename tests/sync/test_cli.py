"""``legion sync`` end to end through the CLI entry point, against medallion on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from connectors.job import run_lock
from legion_misp.cli import main
from legion_misp.stores import FeedStore
from tests.support.events import make_event

from .helpers import server_objects


def _public_key(tmp_path, user):
    """Each organisation's signing key (created once, mode 0600); returns its public key for the rosters."""
    from legion_misp.trust import KeyInfo, generate_key_file, load_private_key

    path = tmp_path / f"keys-{user}.pem"
    return (KeyInfo.of(load_private_key(path)) if path.exists() else generate_key_file(path)).public_key


def _config(tmp_path, api_root, collection, user="orgA", direction="both"):
    path = tmp_path / f"{user}.toml"
    roster = "".join(f"""
[[federation.members]]
pseudonym = "member-{member}"
public_key = "{_public_key(tmp_path, member)}"
collections = ["*"]
""" for member in ("orgA", "orgB"))
    path.write_text(f"""
[organisation]
name = "{user} Ltd"
pseudonym = "member-{user}"

[federation]
private_key = "file:keys-{user}.pem"

[store]
kind = "feed"
path = "feed-{user}"

[sync]
state_path = "{user}-state.sqlite"
retries = 1
backoff = 0.05
status_poll_interval = 0.05

[[federation.collections]]
url = "{api_root}"
collection = "{collection}"
direction = "{direction}"
username = "{user}"
password = "env:TEST_TAXII_{user.upper()}"
peer = "member-peer"
{roster}""", encoding="utf-8")
    return path


def _legion(capsys, *args):
    with pytest.raises(SystemExit) as stopped:
        main(list(args))
    out = capsys.readouterr()
    return stopped.value.code, out.out, out.err


def test_cli_push_pull_status(tmp_path, capsys, medallion):
    api_root, collection = medallion.info.api_root, medallion.info.collections["shared"]
    config_a = _config(tmp_path, api_root, collection, "orgA")
    feed_a = FeedStore(tmp_path / "feed-orgA")
    for i in range(3):
        feed_a.upsert(make_event(i, 4))

    code, _, err = _legion(capsys, "--config", str(config_a), "sync", "push", "--once")
    # never unsanitised by default: the real sanitiser is used and refuses without the federation key
    assert code == 2 and ("pseudonym_key" in err or "--no-sanitize" in err)
    assert server_objects(api_root, collection, "orgB", "orgB-pass") == []
    code, out, _ = _legion(capsys, "--config", str(config_a), "sync", "push", "--dry-run", "--no-sanitize")
    assert code == 0 and "(dry run)" in out
    assert server_objects(api_root, collection, "orgB", "orgB-pass") == []  # dry run sent nothing

    code, out, _ = _legion(capsys, "--config", str(config_a), "sync", "push", "--no-sanitize", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["totals"]["events_published"] == 3 and summary["totals"]["accepted"] > 0

    config_b = _config(tmp_path, api_root, collection, "orgB", direction="pull")
    code, out, _ = _legion(capsys, "--config", str(config_b), "sync", "run", "--once")
    assert code == 0, out
    assert "pulled" in out and "new 3" in out
    assert len(list(FeedStore(tmp_path / "feed-orgB").query())) == 3

    code, out, _ = _legion(capsys, "--config", str(config_b), "sync", "status")
    assert code == 0 and "cursor 20" in out and "run #1" in out
    code, out, _ = _legion(capsys, "--config", str(config_b), "sync", "quarantine", "list")
    assert code == 0 and "quarantine is empty" in out

    state = tmp_path / "orgB-state.sqlite.lock"
    with run_lock(state):
        code, _, err = _legion(capsys, "--config", str(config_b), "sync", "pull")
    assert code == 1 and "another sync run" in err

    code, _, err = _legion(capsys, "--config", str(config_b), "sync", "pull", "--once", "--every", "5m")
    assert code == 2


def test_cli_wrong_password_exit_code(tmp_path, capsys, medallion, monkeypatch):
    monkeypatch.setenv("TEST_TAXII_ORGB", "wrong")
    config_b = _config(tmp_path, medallion.info.api_root, medallion.info.collections["shared"], "orgB", "pull")
    code, out, _ = _legion(capsys, "--config", str(config_b), "sync", "pull")
    assert code == 1 and "401" in out and "wrong" not in out, out


def test_cli_push_goes_through_the_real_sanitiser_and_ledger(tmp_path, capsys, medallion, monkeypatch):
    """With legion_misp.privacy present, `sync push` sanitises (no --no-sanitize needed) and debits the ledger once
    per release, before anything leaves; an unchanged re-run spends nothing."""
    from legion_misp.privacy.ledger import open_ledger
    from legion_misp.sections import load_config

    monkeypatch.setenv("TEST_PSEUDONYM_KEY", "0d4b8e2f6a1c9e3b7d5f0a2c4e6b8d1f3a5c7e9b2d4f6a8c0e1b3d5f7a9c2e4b")
    api_root, collection = medallion.info.api_root, medallion.info.collections["shared"]
    config_a = _config(tmp_path, api_root, collection, "orgA", direction="push")
    config_a.write_text(config_a.read_text().replace(
        "[federation]\n", '[federation]\npseudonym_key = "env:TEST_PSEUDONYM_KEY"\n')
        + '\n[ledger]\npath = "ledger.sqlite"\n', encoding="utf-8")
    code, out, err = _legion(capsys, "--config", str(config_a), "sync", "push")
    assert code == 2 and "legion budget init" in out + err  # a missing ledger is an error, not a fresh budget
    assert _legion(capsys, "--config", str(config_a), "budget", "init")[0] == 0
    feed_a = FeedStore(tmp_path / "feed-orgA")
    secret_note = "internal ticket INC-1234567 at orgA Ltd"
    for i in range(2):
        event = make_event(i, 4)
        event["Attribute"][1]["comment"] = secret_note
        feed_a.upsert(event)

    code, out, err = _legion(capsys, "--config", str(config_a), "sync", "push", "--json")
    assert code == 0, out + err
    assert json.loads(out)["totals"]["events_published"] + json.loads(out)["totals"]["events_withheld"] == 2
    stored = json.dumps(server_objects(api_root, collection, "orgB", "orgB-pass"))
    assert "orgA Ltd" not in stored  # the organisation's real name never leaves
    ledger = open_ledger(load_config(config_a))
    entries = ledger.entries(within_window=True)
    from legion_misp.privacy import Sanitizer

    cost = Sanitizer.from_config(load_config(config_a)).release_cost()
    assert [e.scope for e in entries] == (["sync"] if cost.epsilon > 0 or cost.delta > 0 else [])
    spent = ledger.spent()

    code, out, _ = _legion(capsys, "--config", str(config_a), "sync", "push", "--json")
    assert code == 0 and json.loads(out)["totals"]["sent"] == 0
    assert ledger.spent() == spent  # nothing changed, nothing released, nothing spent


def test_push_and_pull_show_a_progress_bar_on_a_terminal(tmp_path, medallion):
    import os
    import sys

    from tests.helpers import run_on_a_terminal

    api_root, collection = medallion.info.api_root, medallion.info.collections["shared"]
    config_a = _config(tmp_path, api_root, collection, "orgA")
    feed_a = FeedStore(tmp_path / "feed-orgA")
    for i in range(3):
        feed_a.upsert(make_event(i, 4))
    os.environ["TEST_TAXII_ORGA"] = "orgA-pass"
    try:
        legion = [sys.executable, "-m", "legion_misp", "--config", str(config_a), "sync"]
        code, out, terminal = run_on_a_terminal([*legion, "push", "--once", "--no-sanitize"], tmp_path)
        assert code == 0, out + terminal
        assert f"push {collection}" in terminal and "object" in terminal
        code, out, terminal = run_on_a_terminal([*legion, "pull", "--once"], tmp_path)
        assert code in (0, 1), out + terminal
        assert f"pull {collection}" in terminal
        code, _, terminal = run_on_a_terminal([*legion[:-1], "-q", "sync", "pull", "--once"], tmp_path)
        assert f"pull {collection}" not in terminal
    finally:
        del os.environ["TEST_TAXII_ORGA"]
