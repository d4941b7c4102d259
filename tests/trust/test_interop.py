"""End to end from configuration files, on OpenTAXII 0.10.0b1 (which re-validates every object with stix2):
member-a signs with the key `legion keys generate` made, member-c verifies with its roster."""

from __future__ import annotations

import pytest

from connectors.job import SyncJob
from legion_misp.demo.attacks import misp_event
from legion_misp.sections import load_config
from legion_misp.stores import MemoryEventStore
from legion_misp.trust import EXTENSION_ID, KeyFileError, generate_key_file
from tests.support.servers import OpenTaxiiServer
from tests.sync.helpers import server_objects

ACCOUNTS = {"orgA": "orgA-pass", "orgC": "orgC-pass"}


@pytest.fixture(scope="module")
def opentaxii(tmp_path_factory):
    server = OpenTaxiiServer(tmp_path_factory.mktemp("opentaxii"), accounts=ACCOUNTS,
                             collections={"feed-a": {}, "feed-b": {}},
                             permissions={"orgA": {"feed-a": ["read", "write"], "feed-b": ["read", "write"]},
                                          "orgC": {"feed-a": ["read"], "feed-b": ["read"]}})
    server.start()
    yield server
    server.stop()


def _config(folder, pseudonym, user, collection, direction, roster, *, key: bool = True):
    folder.mkdir(parents=True, exist_ok=True)
    text = f"""[organisation]
name = "Org {pseudonym}"
pseudonym = "{pseudonym}"

[sync]
state_path = "state.sqlite"
retries = 1
status_poll_interval = 0.05

[federation]
{'private_key = "file:keys/own.pem"' if key else ''}
corroboration_f = 1

[[federation.collections]]
url = "{collection[0]}"
collection = "{collection[1]}"
direction = "{direction}"
username = "{user}"
password = "env:TEST_OT_{user.upper()}"
"""
    for name, public_key, collections in roster:
        text += (f'\n[[federation.members]]\npseudonym = "{name}"\npublic_key = "{public_key}"\n'
                 f'collections = {collections!r}\n'.replace("'", '"'))
    (folder / "legion.toml").write_text(text)
    return load_config(folder / "legion.toml")


def test_signed_publication_survives_opentaxii_and_verifies(tmp_path, opentaxii, monkeypatch):
    for user, password in ACCOUNTS.items():
        monkeypatch.setenv(f"TEST_OT_{user.upper()}", password)
    feed = opentaxii.info.collections["feed-a"]
    a_key = generate_key_file(tmp_path / "a" / "keys" / "own.pem")
    c_key = generate_key_file(tmp_path / "c" / "keys" / "own.pem")
    roster = [("member-a", a_key.public_key, [feed]), ("member-c", c_key.public_key, [feed])]
    where = (opentaxii.info.api_root, feed)
    config_a = _config(tmp_path / "a", "member-a", "orgA", where, "push", roster)
    event = misp_event("a: signed", ["198.51.100.1", "198.51.100.2"], timestamp=1_790_000_000, org="member-a")
    push = SyncJob.from_config(config_a, store=MemoryEventStore([event]), no_sanitize=True).push()
    assert push.ok, push.format()

    stored = server_objects(opentaxii.info.api_root, feed, "orgC", ACCOUNTS["orgC"])
    signed = [o for o in stored if EXTENSION_ID in o.get("extensions", {})]
    assert {o["type"] for o in stored} >= {"extension-definition", "report", "indicator"}
    assert signed and all(o["extensions"][EXTENSION_ID]["key_id"] == a_key.key_id for o in signed)

    config_c = _config(tmp_path / "c", "member-c", "orgC", where, "pull", roster)
    local = MemoryEventStore()
    pull = SyncJob.from_config(config_c, store=local).pull()
    assert pull.ok, pull.format()
    assert pull.totals()["quarantined"] == 0 and pull.totals()["new"] == 1
    (received,) = local.query()
    assert 'legion:signed-by="member-a"' in {t["name"] for t in received["Tag"]}
    assert {a["value"]: a["to_ids"] for a in received["Attribute"]} == {"198.51.100.1": False,
                                                                         "198.51.100.2": False}


def test_push_without_a_signing_key_sends_nothing(tmp_path, opentaxii, monkeypatch):
    monkeypatch.setenv("TEST_OT_ORGA", ACCOUNTS["orgA"])
    feed = opentaxii.info.collections["feed-b"]
    config = _config(tmp_path / "a", "member-a", "orgA", (opentaxii.info.api_root, feed), "push", [], key=False)
    event = misp_event("a: unsigned", ["198.51.100.9"], timestamp=1_790_000_000, org="member-a")
    with pytest.raises(KeyFileError, match="private_key is not set") as caught:
        SyncJob.from_config(config, store=MemoryEventStore([event]), no_sanitize=True).push()
    assert caught.value.exit_code == 2
    assert server_objects(opentaxii.info.api_root, feed, "orgC", ACCOUNTS["orgC"]) == []
