"""RFC 8785 canonicalisation (the RFC's own vectors) and the exact bytes a signature covers."""

from __future__ import annotations

import json
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from legion_misp.trust import EXTENSION_ID, CanonicalizationError, Signer, SigningError, canonicalize, signing_payload
from legion_misp.trust.canonical import without_signature

# RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical JSON form.
NUMBERS = [
    ("0000000000000000", "0"), ("8000000000000000", "0"), ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"), ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"), ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"), ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"), ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"), ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"), ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"), ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"), ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"), ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"), ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), NUMBERS)
def test_rfc8785_number_vectors(bits, expected):
    (value,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonicalize(value) == expected.encode()


def test_rfc8785_example_with_numbers_strings_and_literals():
    # RFC 8785 section 3.2.4 (the JSON text below is parsed, as a verifier would)
    text = ('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
            '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}')
    expected = ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
                '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
    assert canonicalize(json.loads(text)) == expected.encode("utf-8")


def test_rfc8785_property_sorting_by_utf16_code_units():
    # RFC 8785 section 3.2.3: "\ud83d\ude00" (U+1F600) sorts before "\ufb33" in UTF-16, after it in code points
    value = json.loads('{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With '
                       'Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", '
                       '"\\u00f6": "Latin Small Letter O With Diaeresis"}')
    order = [v for v in json.loads(canonicalize(value)).values()]
    assert order == ["Carriage Return", "One", "Control", "Latin Small Letter O With Diaeresis", "Euro Sign",
                     "Emoji: Grinning Face", "Hebrew Letter Dalet With Dagesh"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2**60, {"a": [1, {"b": -(2**53) - 1}]}])
def test_values_outside_i_json_are_refused(bad):
    with pytest.raises(CanonicalizationError):
        canonicalize(bad)
    with pytest.raises(SigningError, match="indicator--"):
        Signer("member-a", Ed25519PrivateKey.generate()).sign(
            {"type": "indicator", "id": "indicator--9a3892c9-7a8e-5ce4-9da0-cd23cdeba7ba", "x_value": bad})


OBJECT = {"type": "indicator", "spec_version": "2.1", "id": "indicator--9a3892c9-7a8e-5ce4-9da0-cd23cdeba7ba",
          "created": "2026-11-02T09:00:00.000Z", "modified": "2026-11-02T09:00:00.000Z", "pattern_type": "stix",
          "pattern": "[ipv4-addr:value = '198.51.100.7']", "valid_from": "2026-11-02T09:00:00Z",
          "extensions": {"x-other-extension": {"extension_type": "property-extension", "rank": 2}}}


def test_payload_covers_signer_metadata_but_not_the_signature():
    signed = Signer("member-a", Ed25519PrivateKey.generate()).sign(OBJECT)
    entry = signed["extensions"][EXTENSION_ID]
    payload = signing_payload(signed)
    assert b'"signer":"member-a"' in payload and entry["key_id"].encode() in payload
    assert entry["signature"].encode() not in payload and b'"signature"' not in payload
    assert b'"x-other-extension"' in payload  # other extensions are signed too
    reordered = json.loads(json.dumps(signed, indent=3, sort_keys=True))  # whitespace and key order do not matter
    assert signing_payload(reordered) == payload
    assert without_signature(signed) == OBJECT  # the extension entry is all a signature adds


def test_signing_is_deterministic_and_leaves_the_input_alone():
    signer = Signer("member-a", Ed25519PrivateKey.generate())
    before = json.dumps(OBJECT, sort_keys=True)
    assert signer.sign(OBJECT) == signer.sign(json.loads(before))
    assert json.dumps(OBJECT, sort_keys=True) == before
    assert signer.sign_json(json.dumps(signer.sign(OBJECT)).encode()) == signer.sign_json(json.dumps(OBJECT))
