"""The verifier as a pure function: each rejection code, key rotation overlap, revocation time, history."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from legion_misp.demo.attacks import SimMember, forged, ip_indicator
from legion_misp.errors import ConfigError
from legion_misp.trust import EXTENSION_ID, AcceptedVersion, Code, Roster, Verifier, verify_bundle
from legion_misp.trust.extension import TLP_MARKINGS, extension_definition

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
A, B, M, A_OLD, A_REVOKED = (SimMember(n) for n in ("member-a", "member-b", "member-m", "member-a", "member-a"))


def _roster(**overrides) -> Roster:
    a = {"pseudonym": "member-a", "public_key": A.public_key, "collections": ["c1", "c2"],
         "previous_keys": [{"public_key": A_OLD.public_key, "retired_at": "2026-11-01T09:00:00Z"}],
         "revoked_keys": [{"public_key": A_REVOKED.public_key, "revoked_at": "2026-11-02T12:00:00Z",
                           "reason": "laptop stolen"}]}
    a.update(overrides)
    return Roster.from_entries([a, {"pseudonym": "member-b", "public_key": B.public_key, "collections": ["*"]},
                                {"pseudonym": "member-m", "public_key": M.public_key, "collections": ["c1"]}])


def _indicator(**kw) -> dict:
    return ip_indicator("198.51.100.7", created=T0 - dt.timedelta(hours=1), **kw)


def _verify(obj, *, now=T0, collection="c1", previous=None, **kwargs) -> Code:
    return Verifier(_roster(), key_overlap=2 * 86400.0, **kwargs).verify(obj, now=now, collection=collection,
                                                                        previous=previous).code


def test_authentic_object_is_accepted_with_signer_and_key():
    signed = A.signer.sign(_indicator())
    verdict = Verifier(_roster()).verify(signed, now=T0, collection="c1")
    assert verdict.accepted and verdict.signer == "member-a" and verdict.key_id == A.signer.key_id
    assert verdict.version == signed["modified"]


@pytest.mark.parametrize("path, value", [
    (("pattern",), "[ipv4-addr:value = '198.51.100.8']"),   # content
    (("modified",), "2026-11-02T08:00:00.001Z"),             # version
    (("ext", "signer"), "member-b"),                          # who signed (member-b's key id is not named)
    (("ext", "key_id"), "0" * 32),                            # which key
    (("labels",), ["misp:to_ids=\"False\""]),
])
def test_any_change_after_signing_is_detected(path, value):
    signed = A.signer.sign(_indicator())
    changed = copy.deepcopy(signed)
    target = changed["extensions"][EXTENSION_ID] if path[0] == "ext" else changed
    target[path[-1]] = value
    assert _verify(changed) in (Code.BAD_SIGNATURE, Code.UNKNOWN_KEY)
    assert _verify(signed) is Code.ACCEPTED


def test_forged_signature_and_foreign_key():
    assert _verify(forged(_indicator(), claimed=A, actual=M)) is Code.BAD_SIGNATURE
    wrong_key = M.signer.sign(_indicator())
    wrong_key["extensions"][EXTENSION_ID]["signer"] = "member-a"
    verdict = Verifier(_roster()).verify(wrong_key, now=T0)
    assert verdict.code is Code.UNKNOWN_KEY and "belongs to member 'member-m'" in verdict.reason


@pytest.mark.parametrize("entry, fragment", [
    ("not a dict", "is not an object"),
    ({"extension_type": "toplevel-property-extension"}, "extension_type"),
    ({"algorithm": "RSA"}, "algorithm"),
    ({"signature": "AAAA"}, "64-byte"),
    ({"surprise": 1}, "unknown members"),
])
def test_malformed_signature_entries(entry, fragment):
    signed = A.signer.sign(_indicator())
    if isinstance(entry, dict):
        signed["extensions"][EXTENSION_ID].update(entry)
    else:
        signed["extensions"][EXTENSION_ID] = entry
    verdict = Verifier(_roster()).verify(signed, now=T0)
    assert verdict.code is Code.MALFORMED_SIGNATURE and fragment in verdict.reason


def test_unsigned_unknown_member_and_collection_rights():
    assert _verify(_indicator()) is Code.UNSIGNED
    assert _verify(_indicator(), require_signatures=False) is Code.ACCEPTED
    assert _verify(SimMember("member-x").signer.sign(_indicator())) is Code.UNKNOWN_MEMBER
    assert _verify(M.signer.sign(_indicator()), collection="c2") is Code.NOT_ALLOWED
    assert _verify(M.signer.sign(_indicator()), collection=None) is Code.ACCEPTED  # not checked
    assert _verify(B.signer.sign(_indicator()), collection="anything") is Code.ACCEPTED  # "*"
    assert _verify(A_OLD.signer.sign(_indicator(stix_id="indicator--2a0e1f3c-4b5d-4e6f-8a9b-0c1d2e3f4a5b")),
                   collection="c3", now=T0) is Code.NOT_ALLOWED


def test_rotated_key_is_valid_for_the_overlap_only():
    signed = A_OLD.signer.sign(_indicator())
    retired = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)  # overlap: 2 days
    assert _verify(signed, now=retired + dt.timedelta(days=2, seconds=-1)) is Code.ACCEPTED
    assert _verify(signed, now=retired + dt.timedelta(days=2, seconds=1)) is Code.EXPIRED_KEY
    assert _verify(A.signer.sign(_indicator()), now=retired + dt.timedelta(days=30)) is Code.ACCEPTED


def test_revoked_key_is_refused_from_its_revocation_time_on():
    signed = A_REVOKED.signer.sign(_indicator())
    revoked = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
    assert _verify(signed, now=revoked - dt.timedelta(seconds=1)) is Code.ACCEPTED  # received before revocation
    verdict = Verifier(_roster()).verify(signed, now=revoked, collection="c1")
    assert verdict.code is Code.REVOKED_KEY and "laptop stolen" in verdict.reason
    assert _verify(forged(_indicator(), claimed=A_REVOKED, actual=M), now=revoked) is Code.BAD_SIGNATURE


def test_history_replay_and_signer_change():
    v1 = A.signer.sign(_indicator())
    v2 = A.signer.sign(_indicator(modified=T0))
    seen_v2 = AcceptedVersion(version=v2["modified"], signer="member-a")
    assert _verify(v1, previous=seen_v2) is Code.REPLAY
    assert _verify(v2, previous=seen_v2) is Code.ACCEPTED  # the same version again is not a replay
    assert _verify(B.signer.sign(_indicator(modified=T0 + dt.timedelta(minutes=5))),
                   previous=seen_v2) is Code.SIGNER_CHANGED
    assert _verify(_indicator(modified=T0 + dt.timedelta(minutes=5)), previous=seen_v2,
                   require_signatures=False) is Code.SIGNER_CHANGED  # cannot be stripped of its signer either
    unsigned_before = AcceptedVersion(version=v1["modified"], signer=None)
    assert _verify(v2, previous=unsigned_before) is Code.ACCEPTED


def test_protocol_constants_must_match_exactly():
    assert _verify(extension_definition()) is Code.ACCEPTED
    assert _verify(dict(TLP_MARKINGS[1])) is Code.ACCEPTED
    red_as_green = dict(TLP_MARKINGS[1], definition={"tlp": "red"})
    assert _verify(red_as_green) is Code.CONSTANT_MISMATCH
    assert _verify(dict(extension_definition(), schema="{}")) is Code.CONSTANT_MISMATCH


def test_malformed_objects():
    assert _verify("not an object") is Code.MALFORMED
    assert _verify(A.signer.sign(dict(_indicator(), modified="yesterday"))) is Code.MALFORMED


def test_verify_bundle_judges_versions_oldest_first_and_returns_history():
    v1 = A.signer.sign(_indicator())
    v2 = A.signer.sign(_indicator(modified=T0))
    hijack = M.signer.sign(_indicator(modified=T0 + dt.timedelta(minutes=1)))
    stranger = SimMember("member-x").signer.sign(ip_indicator("192.0.2.1", created=T0))
    result = verify_bundle([v2, hijack, v1, stranger], _roster(), now=T0, collection="c1")
    assert [v.code for v in result.verdicts] == [Code.ACCEPTED, Code.SIGNER_CHANGED, Code.ACCEPTED,
                                                 Code.UNKNOWN_MEMBER]
    assert result.accepted == [v2, v1]
    assert result.reasons == {"signer-changed": 1, "unknown-member": 1}
    assert result.history == {v1["id"]: AcceptedVersion(version=v2["modified"], signer="member-a")}
    later = verify_bundle([v1], _roster(), now=T0, history=result.history)
    assert later.verdicts[0].code is Code.REPLAY and later.accepted == []


def test_roster_rejects_a_key_held_by_two_members():
    with pytest.raises(ConfigError, match=r"federation.members\[1\].*also listed for federation.members\[0\]"):
        Roster.from_entries([{"pseudonym": "member-a", "public_key": A.public_key},
                             {"pseudonym": "member-b", "public_key": A.public_key}])
    with pytest.raises(ConfigError, match="listed twice for this member"):
        _roster(revoked_keys=[{"public_key": A.public_key, "revoked_at": "2026-01-01T00:00:00Z"}])
    with pytest.raises(ConfigError, match=r"revoked_keys\[0\].revoked_at"):
        _roster(revoked_keys=[{"public_key": A_REVOKED.public_key, "revoked_at": "2026-01-01"}])
