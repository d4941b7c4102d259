"""Gates, identity, keyed pseudonyms and noise placement of :class:`Sanitizer` on single events."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import secrets
import time

import pytest

from legion_misp.errors import ConfigError
from legion_misp.privacy import Policy, PolicyError, Sanitizer
from legion_misp.privacy.findings import publish_gate_findings
from legion_misp.privacy.mechanisms import SeededNoise
from legion_misp.privacy.policy import NumericBounds
from legion_misp.privacy.pseudonyms import Pseudonymizer, PseudonymKeyError, key_from_text

from .conftest import FEDERATION_KEY, attribute, dump, event, new_uuid


def values(shared: dict) -> set[str]:
    found = {a["value"] for a in shared.get("Attribute", [])}
    return found | {a["value"] for o in shared.get("Object", []) for a in o.get("Attribute", [])}


@pytest.mark.parametrize("distribution, shared", [("0", False), ("1", True), ("2", True), ("3", True)])
def test_event_distribution_gate(sanitizer: Sanitizer, distribution: str, shared: bool) -> None:
    out, report = sanitizer.sanitize(event(attribute("domain", "a.example.net"), distribution=distribution))
    assert (out is not None) is shared
    assert report.outcome == ("shared" if shared else "dropped")


def test_minimum_distribution_is_configurable(policy: Policy) -> None:
    strict = Sanitizer(dataclasses.replace(policy, min_distribution=2),
                       pseudonymizer=Pseudonymizer(bytes.fromhex(FEDERATION_KEY)), noise=SeededNoise(1))
    out, report = strict.sanitize(event(attribute("domain", "a.example.net"), distribution="1"))
    assert out is None and "below privacy.min_distribution" in report.actions[0].reason
    kept = event(attribute("domain", "keep.example.net"), attribute("domain", "drop.example.net", distribution="1"))
    assert values(strict.sanitize(kept)[0]) == {"keep.example.net"}


def test_sharing_groups_go_only_to_mapped_federations(sanitizer: Sanitizer) -> None:
    mapped = event(attribute("domain", "isac.example.net"), distribution="4",
                   SharingGroup={"name": "energy-isac", "uuid": new_uuid()}, sharing_group_id="3")
    out, _ = sanitizer.sanitize(mapped)
    assert out is not None and out["distribution"] == 1
    assert "SharingGroup" not in out and "sharing_group_id" not in out
    unmapped = dict(mapped, uuid=new_uuid(), SharingGroup={"name": "board-only", "uuid": new_uuid()})
    assert sanitizer.sanitize(unmapped)[0] is None
    anonymous = {k: v for k, v in mapped.items() if k != "SharingGroup"}
    assert sanitizer.sanitize(anonymous)[0] is None


@pytest.mark.parametrize("tag", ["tlp:red", "TLP:RED", "tlp:amber+strict", "PAP:RED"])
def test_blocked_tags_stop_events_and_attributes(sanitizer: Sanitizer, tag: str) -> None:
    assert sanitizer.sanitize(event(attribute("domain", "a.example.net"), Tag=[{"name": tag}]))[0] is None
    mixed = event(attribute("domain", "keep.example.net"),
                  attribute("domain", "red.example.net", Tag=[{"name": tag}]))
    assert values(sanitizer.sanitize(mixed)[0]) == {"keep.example.net"}


@pytest.mark.parametrize("attribute_type, value, category", [
    ("target-user", "jdoe", None), ("target-email", "ceo@partner.example", None),
    ("target-machine", "WS-01", None), ("full-name", "Jane Doe", None),
    ("text", "anything", "Internal reference"), ("domain", "x.example.net", "Targeting data"),
])
def test_victim_identifying_types_and_categories_are_dropped(sanitizer: Sanitizer, attribute_type: str,
                                                             value: str, category: str | None) -> None:
    extra = {"category": category} if category else {}
    out, report = sanitizer.sanitize(event(attribute("domain", "keep.example.net"),
                                           attribute(attribute_type, value, **extra)))
    assert values(out) == {"keep.example.net"}
    assert report.counts()["dropped"] == 1


@pytest.mark.parametrize("attribute_type, value", [
    ("ip-dst", "10.0.0.5"), ("ip-src", "192.0.2.231"), ("ip-dst", "10.0.0.0/8"), ("ip-dst", "192.0.2.0/24"),
    ("ip-dst|port", "10.0.0.5|443"), ("domain|ip", "good.example.net|172.16.0.1"),
    ("domain", "mail.corp.example"), ("hostname", "VPN.ExampleEnergy.Example."),
    ("url", "https://sso.corp.example/login"), ("url", "http://203.0.113.9/?back=http%3A%2F%2F10.0.0.9%2F"),
    ("email-src", "it-support@corp.example"), ("user-agent", "Example Energy Ltd updater"),
    ("filename", "Project Nightjar plan.docx"), ("hostname|port", "db1.corp.example|5432"),
])
def test_protected_indicator_values_are_dropped(sanitizer: Sanitizer, attribute_type: str, value: str) -> None:
    for holder in ("event", "object"):
        bad = attribute(attribute_type, value, object_relation="x")
        item = event(attribute("domain", "keep.example.net"))
        if holder == "event":
            item["Attribute"].append(bad)
        else:
            item["Object"] = [{"uuid": new_uuid(), "name": "network-connection", "Attribute": [bad]}]
        out, _ = sanitizer.sanitize(item)
        assert value not in dump(out), holder


def test_identity_is_pseudonymised_and_local_details_removed(sanitizer: Sanitizer) -> None:
    original = event(attribute("ip-dst", "203.0.113.7", Sighting=[
        {"type": "0", "source": "sensor-7", "Organisation": {"name": "Example Energy Ltd"}, "org_id": "1"}]),
        id="4711", orgc_id="1", org_id="1", event_creator_email="analyst@corp.example", user_id="9",
        RelatedEvent=[{"Event": {"info": "Other private case"}}], ShadowAttribute=[{"value": "proposal"}],
        sighting_timestamp="1700000500", locked=True, proposal_email_lock=False)
    out, report = sanitizer.sanitize(original)
    text = dump(out)
    assert out["Orgc"]["name"] == "member-7f3a" and out["Org"] == out["Orgc"]
    assert out["Orgc"]["uuid"] != original["Orgc"]["uuid"]
    for gone in ("analyst@corp.example", "sensor-7", "Other private case", "proposal", "4711", "1700000500",
                 "Example Energy"):
        assert gone not in text
    assert out["uuid"] == original["uuid"]
    assert out["Attribute"][0]["uuid"] == original["Attribute"][0]["uuid"]
    assert "Sighting" not in out["Attribute"][0]
    assert any(a.action == "pseudonymised" and a.target == "event identity" for a in report.actions)


def test_local_tags_and_tags_naming_the_organisation_are_dropped(sanitizer: Sanitizer) -> None:
    out, _ = sanitizer.sanitize(event(attribute("domain", "a.example.net"), Tag=[
        {"name": "tlp:green"}, {"name": "workflow:todo", "local": True}, {"name": "customer:example-energy"}]))
    assert [t["name"] for t in out["Tag"]] == ["tlp:green"]


def test_keyed_pseudonyms_are_deterministic_keyed_and_normalised(policy: Policy) -> None:
    def pseudonym(key: bytes, value: str) -> str:
        sanitizer = Sanitizer(policy, pseudonymizer=Pseudonymizer(key), noise=SeededNoise(1))
        return sanitizer.sanitize(event(attribute("email-dst", value)))[0]["Attribute"][0]["value"]

    key = FEDERATION_KEY.encode()
    first = pseudonym(key, "J.Doe@Partner-Utility.example")
    assert first == pseudonym(key, " j.doe@partner-utility.example ")
    assert first != pseudonym(bytes(range(32, 64)), "j.doe@partner-utility.example")
    assert first != pseudonym(key, "k.doe@partner-utility.example")
    assert first.endswith("@pseudonym.invalid") and "doe" not in first


def test_pseudonymizer_refuses_short_keys_and_hides_the_key() -> None:
    with pytest.raises(PseudonymKeyError):
        Pseudonymizer(b"short")
    assert FEDERATION_KEY not in repr(Pseudonymizer(bytes.fromhex(FEDERATION_KEY)))


@pytest.mark.parametrize("text", ["federation-test-key-0123456789abcdef-passphrase-long-enough",  # not hex
                                  "00" * 32,  # hex but not random
                                  "0123456789abcdef" * 4,  # 32 bytes of a visible pattern
                                  secrets.token_hex(31)])  # 31 bytes
def test_weak_pseudonym_keys_are_refused(text: str) -> None:
    with pytest.raises(PseudonymKeyError, match="legion keys pseudonym"):
        key_from_text(text)
    assert len(key_from_text(secrets.token_hex(32) + "\n")) == 32


def test_pseudonym_epoch_is_in_the_output_and_separates_pseudonyms(policy: Policy) -> None:
    key = bytes.fromhex(FEDERATION_KEY)
    item = attribute("email-dst", "victim@partner.example")
    outputs = {}
    for epoch in ("2026-Q1", "2026-Q2"):
        sanitizer = Sanitizer(policy, pseudonymizer=Pseudonymizer(key, epoch=epoch), noise=SeededNoise(1))
        shared = sanitizer.sanitize(event(item))[0]["Attribute"][0]
        assert {"name": f'legion:pseudonym-epoch="{epoch}"'} in shared["Tag"]
        outputs[epoch] = shared["value"]
    assert outputs["2026-Q1"] != outputs["2026-Q2"]


def test_a_member_with_the_key_can_brute_force_a_low_entropy_value(policy: Policy) -> None:
    """What the docs say plainly: the key is shared, so a member recovers guessable values from their pseudonyms."""
    key = bytes.fromhex(FEDERATION_KEY)
    shared = Sanitizer(policy, pseudonymizer=Pseudonymizer(key), noise=SeededNoise(1)).sanitize(
        event(attribute("email-dst", "j.smith@partner.example")))[0]["Attribute"][0]["value"]
    member = Pseudonymizer(key)
    guesses = [f"{first[0]}.{last}@partner.example" for first in ("anna", "john", "maria", "li")
               for last in ("jones", "smith", "garcia", "wang", "brown")]
    assert [g for g in guesses if member.pseudonym(g, "email-dst") == shared] == ["j.smith@partner.example"]


def test_pseudonymising_without_a_key_is_a_configuration_error(policy: Policy) -> None:
    with pytest.raises(ConfigError):
        Sanitizer(policy, pseudonymizer=None)


def test_sanitize_never_mutates_its_input(sanitizer: Sanitizer) -> None:
    original = event(attribute("counter", "12", first_seen="2024-01-01T00:00:00+00:00",
                               last_seen="2024-01-03T00:00:00+00:00", Sighting=[{"type": "0"}] * 6),
                     attribute("text", "from 10.0.0.1"), attribute("email-dst", "x@partner.example"))
    before = copy.deepcopy(original)
    sanitizer.sanitize(original)
    assert original == before


def test_noised_times_keep_order_and_stay_in_the_window(policy: Policy) -> None:
    sanitizer = Sanitizer(policy, pseudonymizer=Pseudonymizer(bytes.fromhex(FEDERATION_KEY)), noise=SeededNoise(3))
    first, last = dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 1, 1, 0, 30, tzinfo=dt.UTC)
    for _ in range(200):
        item = event(attribute("ip-dst", "203.0.113.7", first_seen=first.isoformat(), last_seen=last.isoformat()))
        shared = sanitizer.sanitize(item)[0]["Attribute"][0]
        noisy_first = dt.datetime.fromisoformat(shared["first_seen"])
        noisy_last = dt.datetime.fromisoformat(shared["last_seen"])
        assert noisy_first <= noisy_last
        assert abs((noisy_first - first).total_seconds()) <= policy.time_window + (last - first).total_seconds()
        assert abs((noisy_last - last).total_seconds()) <= policy.time_window + (last - first).total_seconds()


def recent_sightings(count: int, kind: str = "0") -> list[dict]:
    when = str(int(time.time()) - 3 * 86400)
    return [{"type": kind, "source": "s", "date_sighting": when}] * count


def test_numeric_attributes_are_shared_as_is_unless_a_meaningful_unit_is_declared(sanitizer: Sanitizer) -> None:
    out, report = sanitizer.sanitize(event(attribute("size-in-bytes", "123456"), attribute("counter", "17")))
    assert sorted(a["value"] for a in out["Attribute"]) == ["123456", "17"]
    assert "clamped-numeric" not in report.mechanisms


def test_numeric_attributes_are_clamped_and_noised(policy: Policy) -> None:
    tight = dataclasses.replace(policy, numeric_attributes={"counter": NumericBounds(lower=0, upper=100,
                                                                                     sensitivity=1)})
    sanitizer = Sanitizer(tight, pseudonymizer=Pseudonymizer(bytes.fromhex(FEDERATION_KEY)), noise=SeededNoise(5))
    released = [int(sanitizer.sanitize(event(attribute("counter", "5000")))[0]["Attribute"][0]["value"])
                for _ in range(300)]
    assert all(0 <= v <= 100 for v in released)
    assert len(set(released)) > 1
    assert 90 <= sum(released) / len(released) <= 100


def test_sighting_counts_are_released_only_as_noisy_summaries(policy: Policy) -> None:
    sanitizer = Sanitizer(policy, pseudonymizer=Pseudonymizer(bytes.fromhex(FEDERATION_KEY)), noise=SeededNoise(11))
    busy = attribute("ip-dst", "203.0.113.7", Sighting=recent_sightings(200))
    out, report = sanitizer.sanitize(event(busy, attribute("domain", "quiet.example.net")))
    summaries = [o for o in out["Object"] if o["name"] == "legion-sighting-summary"]
    assert any(a["object_relation"] == "attribute-uuid" and a["value"] == busy["uuid"]
               for s in summaries for a in s["Attribute"])
    assert len(summaries) == 1  # the quiet attribute's noisy zero stays below the threshold with this seed
    assert report.cost.epsilon == pytest.approx(policy.sightings_epsilon)
    assert "sighting-counts" in report.mechanisms


def test_sighting_summary_matches_its_object_template(policy: Policy) -> None:
    """The template admins install in MISP (legion_misp/data/objects/legion-sighting-summary/definition.json)."""
    from pymisp import MISPObject

    from legion_misp.privacy.sanitizer import SIGHTING_SUMMARY_TEMPLATE_UUID
    from tests.helpers import REPO

    folder = REPO / "legion_misp" / "data" / "objects"
    template = json.loads((folder / "legion-sighting-summary" / "definition.json").read_text())
    sanitizer = Sanitizer(policy, pseudonymizer=Pseudonymizer(bytes.fromhex(FEDERATION_KEY)), noise=SeededNoise(11))
    out, _ = sanitizer.sanitize(event(attribute("ip-dst", "203.0.113.7", Sighting=recent_sightings(200))))
    summary = next(o for o in out["Object"] if o["name"] == "legion-sighting-summary")
    assert summary["template_uuid"] == template["uuid"] == SIGHTING_SUMMARY_TEMPLATE_UUID
    assert summary["template_version"] == str(template["version"])
    kinds = {a["object_relation"]: a["type"] for a in summary["Attribute"]}
    assert set(template["required"]) <= set(kinds) <= set(template["attributes"])
    assert all(template["attributes"][r]["misp-attribute"] == kind for r, kind in kinds.items())
    rebuilt = MISPObject("legion-sighting-summary", misp_objects_path_custom=str(folder))
    for a in summary["Attribute"]:
        rebuilt.add_attribute(a["object_relation"], value=a["value"])
    assert rebuilt.to_dict(strict=True)["template_uuid"] == summary["template_uuid"]  # strict: required all there


def test_noisy_sighting_counts_vary_around_the_truth(policy: Policy) -> None:
    sanitizer = Sanitizer(policy, pseudonymizer=Pseudonymizer(bytes.fromhex(FEDERATION_KEY)), noise=SeededNoise(12))
    seen = []
    for _ in range(200):
        out, _ = sanitizer.sanitize(event(attribute("ip-dst", "203.0.113.7", Sighting=recent_sightings(200))))
        summary = next(o for o in out["Object"] if o["name"] == "legion-sighting-summary")
        seen.append(int(next(a["value"] for a in summary["Attribute"] if a["object_relation"] == "seen")))
    tree = sanitizer.mechanisms_["sighting-counts"]
    assert len(set(seen)) > 5
    assert abs(sum(seen) / len(seen) - 200) < 4 * tree.noise_std(tree.levels + 1) / len(seen) ** 0.5


def test_event_cost_composes_the_mechanisms_it_used(policy: Policy) -> None:
    policy = dataclasses.replace(policy, numeric_attributes={"counter": NumericBounds(0, 100, 1)})
    sanitizer = Sanitizer(policy, pseudonymizer=Pseudonymizer(bytes.fromhex(FEDERATION_KEY)), noise=SeededNoise(7))
    _, plain = sanitizer.sanitize(event(attribute("domain", "a.example.net")))
    _, all_three = sanitizer.sanitize(event(attribute("counter", "3", first_seen="2024-01-01T00:00:00+00:00")))
    assert plain.cost.epsilon == pytest.approx(policy.sightings_epsilon)
    assert all_three.cost.epsilon == pytest.approx(policy.sightings_epsilon + policy.numeric_epsilon
                                                   + policy.time_epsilon)
    assert all_three.cost.epsilon <= sanitizer.release_cost().epsilon + 1e-12
    assert 0 < all_three.cost.delta <= 1e-9


def test_policy_validation_names_the_field(policy: Policy) -> None:
    with pytest.raises(PolicyError, match=r"privacy\.time_window"):
        dataclasses.replace(policy, time_window=3600 * 3).validate()
    with pytest.raises(PolicyError, match=r"privacy\.sightings_epsilon"):
        dataclasses.replace(policy, sightings_epsilon=0.0).validate()
    with pytest.raises(PolicyError, match=r"privacy\.pseudonymise_types"):
        dataclasses.replace(policy, pseudonymise_types=("target-user",)).validate()


def test_publish_gate_reports_protected_values_without_revealing_them(config) -> None:
    item = event(attribute("ip-dst", "10.0.0.5"), attribute("target-user", "jdoe", category="Targeting data"),
                 attribute("domain", "ok.example.net", comment="seen on ws1.corp.example"),
                 attribute("domain", "red.example.net", Tag=[{"name": "tlp:red"}]),
                 attribute("ip-dst", "10.0.0.6", distribution="0"),
                 info="Project Nightjar follow-up")
    findings = publish_gate_findings({"Event": item}, config.organisation)
    kinds = {(f.kind, f.path) for f in findings}
    assert ("protected-ip", "Attribute[0].value") in kinds
    assert ("targeting-data", "Attribute[1]") in kinds
    assert ("internal-host", "Attribute[2].comment") in kinds
    assert ("blocked-tag", "Attribute[3].Tag") in kinds
    assert ("sensitive-term", "info") in kinds
    assert not any(f.path.startswith("Attribute[4]") for f in findings)
    assert "10.0.0.5" not in dump([f.as_dict() for f in findings])
    assert publish_gate_findings(dict(item, distribution="0"), config.organisation) == []
