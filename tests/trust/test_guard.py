"""Honest and malicious members on a real TAXII 2.1 server (medallion 3.0.0 on 127.0.0.1), pulled by member-c
with verification and corroboration (f = 1, roster of 4)."""

from __future__ import annotations

import datetime as dt

import requests

from connectors.quarantine import retry_quarantine
from connectors.state import SyncState
from legion_misp.demo.attacks import SimMember, forged, ip_indicator, misp_event, roster_entries, tampered
from legion_misp.stores.events import iter_attributes
from legion_misp.trust import EXTENSION_ID, Roster, Signer, extension_definition
from legion_misp.trust.corroboration import TAG_PREFIX
from tests.sync.conftest import settings_for

from .conftest import PASSWORDS, T0, Federation

MEDIA = "application/taxii+json;version=2.1"


def _attributes(store) -> dict[str, list[tuple[bool, list[str]]]]:
    """value → [(to_ids, corroboration tags)] over every stored event."""
    found: dict[str, list[tuple[bool, list[str]]]] = {}
    for event in store.query():
        for attribute in iter_attributes(event):
            tags = [t["name"] for t in attribute.get("Tag", []) if t["name"].startswith(TAG_PREFIX)]
            found.setdefault(str(attribute["value"]), []).append((bool(attribute.get("to_ids")), tags))
    return found


def _server_objects(federation: Federation, title: str = "shared", *, version: str = "last") -> list[dict]:
    answer = requests.get(f"{federation.api_root}collections/{federation.collection(title)}/objects/",
                          params={"limit": 100, "match[version]": version}, auth=("orgC", PASSWORDS["orgC"]),
                          headers={"Accept": MEDIA}, timeout=30)
    answer.raise_for_status()
    return answer.json().get("objects", [])


def test_honest_members_are_accepted_and_a_lone_indicator_is_not_trusted(federation):
    federation.publish("a", [misp_event("a: C2 wave", ["198.51.100.1", "198.51.100.2"], timestamp=1_790_000_000,
                                        org="member-a")])
    objects = _server_objects(federation)
    assert extension_definition() in objects  # the definition is published, byte for byte
    signed = [o for o in objects if o["type"] == "indicator"]
    assert len(signed) == 2 and all(o["extensions"][EXTENSION_ID]["signer"] == "member-a" for o in signed)

    summary = federation.pull()
    assert summary.ok, summary.format()
    assert federation.quarantine() == []
    assert summary.totals()["new"] == 1
    (event,) = federation.local.query()
    assert 'legion:signed-by="member-a"' in {t["name"] for t in event["Tag"]}
    values = _attributes(federation.local)
    assert values["198.51.100.1"] == [(False, ['legion:corroboration="1-of-4"'])]
    assert values["198.51.100.2"] == [(False, ['legion:corroboration="1-of-4"'])]


def test_f_plus_one_members_confirming_later_turn_to_ids_on_everywhere(federation):
    federation.publish("a", [misp_event("a: wave", ["198.51.100.1", "198.51.100.2", "198.51.100.3"],
                                        timestamp=1_790_000_000, org="member-a")])
    assert federation.pull().ok
    assert all(not ids for ids, _ in _attributes(federation.local)["198.51.100.1"])

    federation.clock.advance(hours=2)
    federation.publish("b", [misp_event("b: same campaign", ["198.51.100.1", "198.51.100.2", "203.0.113.9"],
                                        timestamp=1_790_003_600, org="member-b")])
    summary = federation.pull()
    assert summary.ok, summary.format()
    assert summary.totals()["corroborated"] == 1  # member-a's event, stored before b confirmed, was updated
    values = _attributes(federation.local)
    for confirmed in ("198.51.100.1", "198.51.100.2"):
        assert values[confirmed] == [(True, ['legion:corroboration="2-of-4"'])] * 2, confirmed
    assert values["198.51.100.3"] == [(False, ['legion:corroboration="1-of-4"'])]
    assert values["203.0.113.9"] == [(False, ['legion:corroboration="1-of-4"'])]
    assert federation.quarantine() == []


def test_one_member_flooding_invented_indicators_never_gets_to_ids(federation):
    invented = [f"203.0.113.{i}" for i in range(1, 26)]
    # the same invented addresses, three times over, in three events: still one member
    federation.publish("m", [misp_event(f"m: flood {n}", invented, timestamp=1_790_000_000 + n, org="member-m")
                             for n in range(3)])
    summary = federation.pull()
    assert summary.ok, summary.format()
    assert federation.quarantine() == []  # validly signed: accepted, just not trusted
    values = _attributes(federation.local)
    assert set(invented) <= set(values)
    for value in invented:
        assert values[value] == [(False, ['legion:corroboration="1-of-4"'])] * 3, value


def test_malicious_member_attacks_are_quarantined_with_their_reason(federation, members):
    federation.publish("a", [misp_event("a: wave", ["198.51.100.1", "198.51.100.2"], timestamp=1_790_000_000,
                                        org="member-a")])
    assert federation.pull().ok  # member-c has member-a's objects before the attacks start
    first, second = sorted((o for o in _server_objects(federation) if o["type"] == "indicator"),
                           key=lambda o: o["pattern"])
    m, later = members["m"], T0 - dt.timedelta(hours=1)

    forge = forged(ip_indicator("192.0.2.66", created=later), claimed=members["a"], actual=m)
    tamper = tampered(first, pattern_ip="192.0.2.77", at=later)  # a's signature kept, content changed
    hijack = Signer("member-m", m.key).sign(tampered(second, pattern_ip="198.51.100.2", at=later))
    impostor = members["x"].signer.sign(ip_indicator("192.0.2.88", created=later))
    stolen = members["c_old"].signer.sign(ip_indicator("192.0.2.99", created=later))
    unsigned = ip_indicator("192.0.2.111", created=later)
    bad_definition = dict(extension_definition(), description="anything goes",
                          modified="2026-02-01T00:00:00.000Z")
    federation.post([forge, tamper, hijack, impostor, stolen, unsigned, bad_definition])
    trespass = m.signer.sign(ip_indicator("192.0.2.122", created=later))
    federation.post([trespass], title="restricted")

    summary = federation.pull(("shared", "restricted"))
    expected = [(forge, "bad-signature"), (tamper, "bad-signature"), (hijack, "signer-changed"),
                (impostor, "unknown-member"), (stolen, "revoked-key"), (unsigned, "unsigned"),
                (bad_definition, "constant-mismatch"), (trespass, "not-allowed")]
    reasons = {(e.stix_id, e.version): e.reason for e in federation.quarantine()}
    assert {k: v.split(":")[1].strip() for k, v in reasons.items()} == {
        (o["id"], o["modified"]): code for o, code in expected}
    assert "revoked at 2026-11-01" in reasons[(stolen["id"], stolen["modified"])]
    assert "key stolen" in reasons[(stolen["id"], stolen["modified"])]
    assert "may not publish to collection" in reasons[(trespass["id"], trespass["modified"])]
    assert "was published by member 'member-a'" in reasons[(hijack["id"], hijack["modified"])]
    assert summary.rejections() == {"bad-signature": 2, "signer-changed": 1, "unknown-member": 1,
                                    "revoked-key": 1, "unsigned": 1, "constant-mismatch": 1, "not-allowed": 1}
    assert "trust: rejected 8" in summary.format()

    values = _attributes(federation.local)  # nothing the attacker made reached the local store
    assert set(values) == {"198.51.100.1", "198.51.100.2"}
    assert values["198.51.100.2"] == [(False, ['legion:corroboration="1-of-4"'])]


def test_replayed_old_version_is_refused_in_another_collection(federation):
    event = misp_event("a: wave", ["198.51.100.1"], timestamp=1_790_000_000, org="member-a")
    federation.publish("a", [event])
    assert federation.pull().ok
    updated = misp_event("a: wave", ["198.51.100.1", "198.51.100.200"], timestamp=1_790_009_999, org="member-a")
    federation.publish("a", [updated])  # new versions of the report and of the first indicator
    assert federation.pull().ok
    assert set(_attributes(federation.local)) == {"198.51.100.1", "198.51.100.200"}

    old = [o for o in _server_objects(federation, version="first") if o["type"] in ("indicator", "report")
           and o["modified"].startswith("2026-09-21T14:13:20")]
    assert {o["type"] for o in old} == {"indicator", "report"}
    federation.post(old, title="restricted", who="m")  # genuine, validly signed by member-a, but older
    summary = federation.pull(("shared", "restricted"))
    codes = {e.stix_id: e.reason.split(":")[1].strip() for e in federation.quarantine()}
    assert codes == {o["id"]: "replay" for o in old}
    assert "older than version 2026-09-21T16:59:59.000Z" in federation.quarantine()[0].reason
    assert summary.rejections() == {"replay": len(old)}
    assert set(_attributes(federation.local)) == {"198.51.100.1", "198.51.100.200"}  # no rollback


def test_quarantine_retry_verifies_again(federation, members):
    old_b, new_b = members["b"], SimMember("member-b")  # b rotated; member-c's roster does not know it yet
    federation.members["b"] = new_b
    federation.publish("b", [misp_event("b: fresh", ["198.51.100.50"], timestamp=1_790_000_000, org="member-b")])
    forge = forged(ip_indicator("192.0.2.66", created=T0), claimed=members["a"], actual=members["m"])
    federation.post([forge])
    first = federation.pull()
    assert first.rejections()["unknown-key"] >= 2 and first.rejections()["bad-signature"] == 1
    assert "198.51.100.50" not in _attributes(federation.local)

    entries = roster_entries({k: federation.members[k] for k in ("a", "b", "c", "m")},
                             {k: sorted(m.collections) for k, m in zip("abcm", federation.roster.members,
                                                                       strict=True)},
                             revoked={"c": [(members["c_old"], T0 - dt.timedelta(days=1))]})
    entries[1]["previous_keys"] = [{"public_key": old_b.public_key, "retired_at": "2026-11-02T08:00:00Z"}]
    federation.roster = Roster.from_entries(entries)
    with SyncState(federation.tmp / "puller-state.sqlite") as state:
        resolved, still = retry_quarantine(state, federation.local, settings_for(federation.tmp, "puller"), None,
                                           trust=federation.policy())
    assert still == 1 and resolved >= 2
    (left,) = federation.quarantine()
    assert left.stix_id == forge["id"] and "bad-signature" in left.reason
    assert _attributes(federation.local)["198.51.100.50"] == [(False, ['legion:corroboration="1-of-4"'])]
