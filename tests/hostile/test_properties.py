"""Property tests (hypothesis, derandomized): arbitrary JSON values in every field of an object, through the pull and
through the import module. Properties: no uncaught exception, ever; every object pulled is either staged or
quarantined with a code; the good neighbour is still converted; the import module answers results or a clear
error, never its "internal error"."""

from __future__ import annotations

import base64
import copy
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors.pull import Puller
from connectors.settings import SyncSettings
from connectors.state import SyncState
from legion_misp.mispmod import federation_import
from legion_misp.stix.validate import loads_untrusted
from legion_misp.stores import MemoryEventStore

from .accounting import pairs
from .corpus import RAW, STAMP, indicator, raw_json, sid
from .test_findings import RawCollection

ODD_TEXT = st.sampled_from(["\x00", "\r\n", "\u202e", "\ud800", "\udfff", "\u200b", "\x9b", "'", "\\", "]", "' OR '",
                            "a" * 300, "NaN", "--", "indicator--", "2026-13-45T99:99:99Z"])
TEXT = st.one_of(st.text(max_size=40), ODD_TEXT, st.lists(ODD_TEXT, max_size=4).map("".join))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                    st.sampled_from([m.strip('"') for m in RAW]),  # NaN, Infinity, 1e400, 5,000 digits in the text
                    st.floats(allow_nan=True, allow_infinity=True), TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def _bases() -> list[list[dict]]:
    sco = {"type": "ipv4-addr", "spec_version": "2.1", "id": sid("ipv4-addr", "prop"), "value": "203.0.113.70"}
    observed = {"type": "observed-data", "spec_version": "2.1", "id": sid("observed-data", "prop"),
                "created": STAMP, "modified": STAMP, "first_observed": STAMP, "last_observed": STAMP,
                "number_observed": 1, "object_refs": [sco["id"]]}
    ind = indicator("prop", "[domain-name:value = 'prop.example']", labels=["malicious-activity"],
                    description="d", indicator_types=["malicious-activity"])
    container = {"type": "report", "spec_version": "2.1", "id": sid("report", "prop"), "created": STAMP,
                 "modified": STAMP, "name": "r", "published": STAMP, "report_types": ["misc"],
                 "object_refs": [ind["id"]]}
    identity = {"type": "identity", "spec_version": "2.1", "id": sid("identity", "prop"), "created": STAMP,
                "modified": STAMP, "name": "member", "identity_class": "organization"}
    relationship = {"type": "relationship", "spec_version": "2.1", "id": sid("relationship", "prop"),
                    "created": STAMP, "modified": STAMP, "relationship_type": "indicates",
                    "source_ref": ind["id"], "target_ref": identity["id"], "created_by_ref": identity["id"]}
    marking = {"type": "marking-definition", "spec_version": "2.1", "id": sid("marking-definition", "prop"),
               "created": STAMP, "name": "TLP:AMBER+STRICT", "extensions": {}}
    return [[ind], [observed, sco], [container, ind], [sco], [identity, relationship, ind], [marking, ind]]


def _as_received(objects: list) -> list:
    """The objects as a TAXII client receives them: JSON text (with the raw numbers) parsed again."""
    return loads_untrusted(raw_json(objects))


NEIGHBOUR = indicator("prop-neighbour", "[ipv4-addr:value = '198.51.100.250']")


@st.composite
def mutated(draw):
    """One of the base groups with one field of one object (an existing key or a new one) set to any JSON value."""
    group = copy.deepcopy(draw(st.sampled_from(_bases())))
    target = draw(st.sampled_from(range(len(group))))
    key = draw(st.one_of(st.sampled_from(sorted(group[target])), TEXT))
    group[target][key] = draw(JSON)
    return group


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(group=mutated())
@example(group=[{**_bases()[2][0], "id": []}, _bases()[2][1]])  # found by this test: a list as a container's id
@example(group=[{**_bases()[0][0], "type": ["indicator"]}])  # found by this test: a list as a type
def test_any_value_in_any_field_through_the_pull(group):
    with tempfile.TemporaryDirectory() as folder:
        sync = SyncSettings(state_path=Path(folder) / "state.sqlite", lock_path=Path(folder) / "lock")
        source = RawCollection()
        source.put(_as_received([*group, NEIGHBOUR]))
        store = MemoryEventStore()
        with SyncState(sync.state_path) as state:
            stats = Puller(source, state, "k", sync, store).pull()  # must not raise
            entries = state.quarantined()
            staged = state.staged_objects("k", [o["id"] for o in group if isinstance(o.get("id"), str)])
        group = _as_received(group)
        assert stats.pulled == len(group) + 1
        for obj in group:  # every object has a record: staged (and converted or context) or quarantined
            stix_id = obj.get("id")
            assert (isinstance(stix_id, str) and stix_id in staged) or any(
                e.stix_id == (stix_id if isinstance(stix_id, str) else None) for e in entries), obj
        assert ("ip-dst", "198.51.100.250") in pairs(list(store.query()))  # the neighbour went on
        assert all(e.code and " " not in e.code for e in entries)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(group=mutated())
def test_any_value_in_any_field_through_the_import_module(group, tmp_path_factory):
    folder = tmp_path_factory.mktemp("import")
    config = folder / "legion.toml"
    config.write_text('[organisation]\nname = "Example Energy Ltd"\npseudonym = "member-c"\n'
                      f'[sync]\nstate_path = "{folder / "sync-state.sqlite"}"\n'
                      '[federation]\nname = "f"\nrequire_signatures = false\n', encoding="utf-8")
    text = raw_json({"type": "bundle", "id": sid("bundle", "prop"), "objects": [*group, NEIGHBOUR]})
    data = base64.b64encode(text.encode("utf-8", errors="surrogatepass")).decode()
    answer = federation_import.dict_handler({"data": data, "config": {"config_path": str(config)}})
    assert "internal error" not in answer.get("error", ""), answer
    if "error" not in answer:
        results = answer["results"]
        assert ("ip-dst", "198.51.100.250") in pairs([results])
        assert all(" " not in t["name"].split('"')[1] for t in results["Tag"]
                   if t["name"].startswith("legion:rejected="))
