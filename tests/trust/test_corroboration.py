"""Corroboration: normalised indicator keys, distinct members within a window, k-of-n, applying to events."""

from __future__ import annotations

import datetime as dt

import pytest

from legion_misp.trust import Sighting, apply_corroboration, corroborate, corroborating_members, indicator_key

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
DAY = 86400.0


def _ind(pattern: str, pattern_type: str = "stix") -> dict:
    return {"type": "indicator", "pattern": pattern, "pattern_type": pattern_type}


@pytest.mark.parametrize("first, second", [
    ("[ipv4-addr:value = '198.51.100.7']", "[ ipv4-addr:value='198.51.100.7' ]"),
    ("[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '198.51.100.7']",
     "[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_ref.type = 'ipv4-addr']"),
    ("[domain-name:value = 'C2.Example.NET.']", "[domain-name:value = 'c2.example.net']"),
    ("[file:hashes.'SHA-256' = 'ABCDEF0123']", "[file:hashes.SHA256 = 'abcdef0123']"),
    ("[url:value = 'HTTPS://Evil.Example/Path?Q=1']", "[url:value = 'https://evil.example/Path?Q=1']"),
    ("[ipv6-addr:value = '2001:DB8:0:0::1']", "[ipv6-addr:value = '2001:db8::1']"),
])
def test_equivalent_patterns_share_a_key(first, second):
    assert indicator_key(_ind(first)) == indicator_key(_ind(second)) is not None


@pytest.mark.parametrize("first, second", [
    ("[ipv4-addr:value = '198.51.100.7']", "[ipv4-addr:value = '198.51.100.8']"),
    ("[network-traffic:dst_ref.value = '198.51.100.7']", "[network-traffic:src_ref.value = '198.51.100.7']"),
    ("[url:value = 'https://evil.example/Path']", "[url:value = 'https://evil.example/path']"),
    ("[ipv4-addr:value = '198.51.100.7' AND ipv4-addr:value = '198.51.100.8']",
     "[ipv4-addr:value = '198.51.100.7' OR ipv4-addr:value = '198.51.100.8']"),
    ("[ipv4-addr:value = '198.51.100.7'] WITHIN 300 SECONDS", "[ipv4-addr:value = '198.51.100.7']"),
])
def test_different_assertions_get_different_keys(first, second):
    assert indicator_key(_ind(first)) != indicator_key(_ind(second))


def test_non_indicators_and_other_pattern_languages():
    assert indicator_key({"type": "malware", "pattern": "[x:y = 'z']"}) is None
    assert indicator_key(_ind("  ")) is None
    assert indicator_key(_ind("alert  tcp any any", "snort")) == indicator_key(_ind("alert tcp any  any", "snort"))
    assert indicator_key(_ind("alert tcp any any", "snort")).startswith("snort:")
    assert indicator_key(_ind("[a:b = 'x'] FOLLOWEDBY [a:b = 'y']")).startswith("stix:raw:")


def _s(member: str, hours: float, key: str = "k") -> Sighting:
    return Sighting(key=key, member=member, stix_id=f"indicator--{member}-{hours}", at=T0 + dt.timedelta(hours=hours))


def test_distinct_members_within_the_window():
    sightings = [_s("a", 0), _s("a", 1), _s("a", 2), _s("m", 0), _s("m", 0.5)]
    assert corroborating_members(sightings, DAY) == {"a", "m"}
    far = [_s("a", 0), _s("b", 24 * 40), _s("c", 24 * 41)]  # b and c agree; a is 40 days earlier
    assert corroborating_members(far, 30 * DAY) == {"b", "c"}
    assert corroborating_members(far, 50 * DAY) == {"a", "b", "c"}
    assert corroborating_members([], DAY) == frozenset()


def test_one_member_repeating_itself_is_one_member():
    flood = [_s("m", h / 10) for h in range(100)]
    decision = corroborate("k", flood, f=1, n=4, window=DAY)
    assert decision.k == 1 and not decision.trusted and decision.tag == 'legion:corroboration="1-of-4"'


@pytest.mark.parametrize("f, publishers, trusted", [(0, 1, True), (1, 1, False), (1, 2, True), (2, 2, False),
                                                     (2, 3, True)])
def test_f_plus_one_rule(f, publishers, trusted):
    decision = corroborate("k", [_s(m, 0) for m in "abc"[:publishers]], f=f, n=5, window=DAY)
    assert decision.trusted is trusted and decision.k == publishers


def test_only_current_members_and_the_right_key_count():
    sightings = [_s("a", 0), _s("gone", 0), _s("b", 0, key="other")]
    decision = corroborate("k", sightings, f=1, n=3, window=DAY, members=["a", "b"])
    assert decision.k == 1 and decision.members == ("a",)


def _event() -> dict:
    return {"uuid": "e1", "timestamp": "100", "Tag": [],
            "Attribute": [
                {"uuid": "u1", "type": "ip-dst", "value": "198.51.100.7", "to_ids": True, "timestamp": "100",
                 "Tag": [{"name": 'legion:corroboration="1-of-4"'}, {"name": "tlp:green"}]},
                {"uuid": "u2", "type": "ip-dst", "value": "198.51.100.8", "to_ids": True, "timestamp": "100"},
                {"uuid": "u3", "type": "text", "value": "note", "to_ids": True, "timestamp": "100"}],
            "Object": [{"uuid": "o1", "name": "domain-ip", "Attribute": [
                {"uuid": "u4", "type": "domain", "value": "c2.example", "to_ids": True, "timestamp": "100"}]}]}


def test_apply_corroboration_sets_to_ids_tags_and_fails_closed():
    refs = {"u1": "k1", "u2": "k2", "o1": "k1"}
    decisions = {"k1": corroborate("k1", [_s("a", 0, "k1"), _s("b", 1, "k1")], f=1, n=4, window=DAY),
                 "k2": corroborate("k2", [_s("m", 0, "k2")], f=1, n=4, window=DAY)}
    event = _event()
    out = apply_corroboration(event, refs, decisions)
    attrs = {a["uuid"]: a for a in out["Attribute"]} | {a["uuid"]: a for a in out["Object"][0]["Attribute"]}
    assert attrs["u1"]["to_ids"] is True
    assert [t["name"] for t in attrs["u1"]["Tag"]] == ["tlp:green", 'legion:corroboration="2-of-4"']
    assert attrs["u2"]["to_ids"] is False and attrs["u2"]["Tag"] == [{"name": 'legion:corroboration="1-of-4"'}]
    assert attrs["u3"]["to_ids"] is False and "Tag" not in attrs["u3"]  # not from an indicator: fail closed
    assert attrs["u4"]["to_ids"] is True  # inside the object made from indicator o1
    assert event == _event()  # the input is not changed
    assert out["timestamp"] == "100"

    bumped = apply_corroboration(out, refs, {**decisions, "k2": decisions["k1"]}, bump=True)
    changed = {a["uuid"]: a for a in bumped["Attribute"]}
    assert bumped["timestamp"] == "101" and changed["u2"]["timestamp"] == "101"
    assert changed["u1"]["timestamp"] == "100"  # unchanged decisions keep their timestamp
    assert apply_corroboration(bumped, refs, {**decisions, "k2": decisions["k1"]}, bump=True) == bumped
