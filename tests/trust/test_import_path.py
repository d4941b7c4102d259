"""The pure path the MISP import module uses: verify a bundle, derive sightings, decide to_ids on the event made
from it; and the demo's malicious-member stage."""

from __future__ import annotations

import datetime as dt

from legion_misp.demo.attacks import ATTACKS, SimMember, ip_indicator, report, run_scenario
from legion_misp.demo.stages import STAGES
from legion_misp.stix.codec import stix_to_misp
from legion_misp.trust import (
    Roster,
    TrustState,
    apply_corroboration,
    corroborate,
    indicator_refs,
    sighting_of,
    verify_bundle,
)

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def test_bundle_from_two_members_and_a_liar(tmp_path):
    a, b, m, x = (SimMember(n) for n in ("member-a", "member-b", "member-m", "member-x"))
    roster = Roster.from_entries([{"pseudonym": s.pseudonym, "public_key": s.public_key, "collections": ["*"]}
                                  for s in (a, b, m)])
    shared_ip, lie = "198.51.100.7", "203.0.113.66"
    from_a = a.signer.sign(ip_indicator(shared_ip, created=T0))
    from_b = b.signer.sign(ip_indicator(shared_ip, created=T0 + dt.timedelta(hours=3)))
    from_m = m.signer.sign(ip_indicator(lie, created=T0))
    from_x = x.signer.sign(ip_indicator(lie, created=T0 + dt.timedelta(minutes=1)))  # m's sock puppet
    container = a.signer.sign(report("a's report", [from_a["id"], from_m["id"]], created=T0))
    objects = [container, from_a, from_b, from_m, from_x]

    with TrustState.open(tmp_path / "trust.sqlite") as state:
        result = verify_bundle(objects, roster, now=T0 + dt.timedelta(hours=4), history=state)
        assert [v.code.value for v in result.verdicts] == ["accepted"] * 4 + ["unknown-member"]
        for stix_id, entry in result.history.items():
            state.record_accepted(stix_id, entry, collection=None, at=0.0)
        replayed = verify_bundle([from_a], roster, now=T0, history=state)
        assert replayed.accepted == [from_a]  # the same version again is fine; an older one would not be

    now = T0 + dt.timedelta(hours=4)
    sightings = [s for o, v in zip(objects, result.verdicts, strict=True) if v.accepted
                 and (s := sighting_of(o, signer=v.signer, key_id=v.key_id, received=now))]
    assert {(s.member, shared_ip in s.key) for s in sightings} == {("member-a", True), ("member-b", True),
                                                                           ("member-m", False)}
    group = [container, from_a, from_m]
    converted = stix_to_misp(group)
    refs = indicator_refs(group)
    decisions = {k: corroborate(k, sightings, f=1, n=len(roster), window=86400.0) for k in set(refs.values())}
    event = apply_corroboration(converted.event, refs, decisions)
    decided = {}
    for attribute in [*event.get("Attribute", []), *(x for o in event.get("Object", []) for x in o["Attribute"])]:
        decided[attribute["value"]] = (attribute["to_ids"], [t["name"] for t in attribute.get("Tag", [])
                                                             if t["name"].startswith("legion:")])
    assert decided[shared_ip] == (True, ['legion:corroboration="2-of-3"'])
    assert decided[lie] == (False, ['legion:corroboration="1-of-3"'])


def test_demo_stage_shows_every_attack_rejected_for_its_reason(tmp_path):
    assert "_federation" in [stage.__name__ for _, stage in STAGES]
    result = run_scenario(tmp_path / "trust-demo")
    codes = {attack: reason.split(":")[1].strip() for attack, reason in result.reasons}
    assert codes == ATTACKS
    assert result.flood == 25 and result.flood_trusted == 0
    assert result.trusted == ["198.51.100.10", "198.51.100.11"]
    assert result.corroborated_later == 1
    assert sum(result.rejected.values()) == len(ATTACKS)
