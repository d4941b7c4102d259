"""The hostile corpus through the shared validation and conversion path, in process (fast, object by object):
the verdicts the pull and the import module both reach."""

from __future__ import annotations

from collections import Counter

from legion_misp.mispmod.federation_import import checked_objects
from legion_misp.stix.codec import stix_to_misp
from legion_misp.stix.ingest import convert_accepted, first_copies
from legion_misp.stix.validate import loads_untrusted

from .accounting import check_case, pairs, uuids
from .corpus import corpus


def shared_path(case):
    """What the import module does without trust: checks, the dedup rule, conversion with its checks."""
    objects = loads_untrusted(case.text())["objects"]
    good, refused = checked_objects(objects)
    kept, conflicting, _ = first_copies(good)
    refused += conflicting
    current = [o for o in kept if not o.get("revoked")]
    outcome = convert_accepted(current, stix_to_misp) if current else None
    if outcome:
        refused += outcome.refused
    events = [outcome.event] if outcome and outcome.event else []
    return refused, events


def test_the_corpus_is_large_and_covers_every_family():
    cases = corpus()
    assert len(cases) >= 40
    assert {c.family for c in cases} >= {"finding", "pattern", "value", "property", "size", "json", "observable",
                                               "converter"}
    assert len({c.name for c in cases}) == len(cases)


def test_every_object_of_the_corpus_gets_its_verdict():
    problems = []
    for case in corpus():
        refused, events = shared_path(case)
        codes = Counter(r.code for r in refused)
        by_id = {r.stix_id: r.code for r in refused if r.stix_id}
        problems += check_case(case, refused=codes, refused_ids=by_id, converted=pairs(events), made=uuids(events))
        for refusal in refused:  # a stable code and a sentence for the admin
            assert refusal.code == refusal.code.strip().lower() and " " not in refusal.code, refusal
            assert refusal.message and refusal.reason.startswith(f"{refusal.code}: ")
    assert not problems, "\n".join(problems)
