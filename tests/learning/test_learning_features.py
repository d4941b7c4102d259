"""Feature extractors on hand-made messages whose features are computed by hand."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from legion_misp.learning.features import (
    N_CAN_FEATURES,
    SPAMBASE_CHARS,
    SPAMBASE_FEATURE_NAMES,
    SPAMBASE_WORDS,
    can_features,
    email_text_from_misp,
    email_text_from_rfc5322,
    spambase_features,
    spambase_features_from_misp,
    spambase_features_from_rfc5322,
)

SUBJECT = "Free money"
BODY = "Make money FAST!!! Call 650 now; visit our site (free)."


def word(name: str) -> int:
    return SPAMBASE_WORDS.index(name)


def char(c: str) -> int:
    return 48 + SPAMBASE_CHARS.index(c)


def test_names_follow_the_spambase_documentation() -> None:
    assert len(SPAMBASE_FEATURE_NAMES) == 57
    assert SPAMBASE_FEATURE_NAMES[0] == "word_freq_make"
    assert SPAMBASE_FEATURE_NAMES[47] == "word_freq_conference"
    assert SPAMBASE_FEATURE_NAMES[48:54] == tuple(f"char_freq_{c}" for c in ";([!$#")
    assert SPAMBASE_FEATURE_NAMES[54:] == (
        "capital_run_length_average", "capital_run_length_longest", "capital_run_length_total")


def test_hand_computed_message() -> None:
    # text = "Free money\nMake money FAST!!! Call 650 now; visit our site (free)."
    # words (alphanumeric runs): Free money Make money FAST Call 650 now visit our site free -> 12
    # characters: 10 + 1 (newline) + 55 = 66
    # capital runs: F, M, FAST, C -> lengths 1, 1, 4, 1
    f = spambase_features(f"{SUBJECT}\n{BODY}")
    expected = np.zeros(57)
    expected[word("make")] = 100 * 1 / 12
    expected[word("money")] = 100 * 2 / 12
    expected[word("free")] = 100 * 2 / 12  # case-insensitive: "Free" and "free"
    expected[word("our")] = 100 * 1 / 12
    expected[word("650")] = 100 * 1 / 12
    expected[char(";")] = 100 * 1 / 66
    expected[char("(")] = 100 * 1 / 66
    expected[char("!")] = 100 * 3 / 66
    expected[54:] = [7 / 4, 4, 7]
    np.testing.assert_allclose(f, expected)


def test_words_are_whole_alphanumeric_runs() -> None:
    # "remove" inside "removed" or "re" inside "report" must not count; "re:" counts as the word "re".
    f = spambase_features("removed report re: edu.")
    assert f[word("remove")] == 0.0
    assert f[word("report")] == pytest.approx(100 / 4)
    assert f[word("re")] == pytest.approx(100 / 4)
    assert f[word("edu")] == pytest.approx(100 / 4)


def test_message_without_capitals_or_words() -> None:
    f = spambase_features("$$ ##")
    assert np.all(f[:48] == 0)
    assert f[char("$")] == pytest.approx(100 * 2 / 5)
    assert f[char("#")] == pytest.approx(100 * 2 / 5)
    assert list(f[54:]) == [1.0, 1.0, 1.0]  # the documented minimum, as in the data set


def test_misp_email_object_and_attributes_give_the_same_features() -> None:
    obj = {"name": "email", "Attribute": [
        {"object_relation": "subject", "type": "email-subject", "value": SUBJECT},
        {"object_relation": "email-body", "type": "email-body", "value": BODY},
        {"object_relation": "from", "type": "email-src", "value": "a@example.org"},
    ]}
    direct = spambase_features(f"{SUBJECT}\n{BODY}")
    np.testing.assert_allclose(spambase_features_from_misp(obj), direct)
    np.testing.assert_allclose(spambase_features_from_misp({"Object": obj}), direct)
    attributes = [{"type": "email-body", "value": BODY}, {"type": "email-subject", "value": SUBJECT}]
    np.testing.assert_allclose(spambase_features_from_misp(attributes), direct)
    assert email_text_from_misp({"type": "email-body", "value": BODY}) == f"\n{BODY}"
    with pytest.raises(ValueError, match="no email-subject or email-body"):
        email_text_from_misp([{"type": "ip-src", "value": "192.0.2.1"}])


def test_raw_rfc5322_message_decodes_base64_and_keeps_quoted_printable() -> None:
    plain = base64.b64encode(BODY.encode()).decode()
    raw = (
        "From: a@example.org\r\nTo: b@example.org\r\nSubject: Free money\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="XX"\r\n\r\n'
        "--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{plain}\r\n"
        "--XX\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        "<font color=3D\"red\">hi</font>\r\n"
        "--XX\r\nContent-Type: application/octet-stream; name=\"x.bin\"\r\n"
        "Content-Disposition: attachment; filename=\"x.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "AAAA\r\n--XX--\r\n"
    )
    text = email_text_from_rfc5322(raw)
    assert text.startswith("Free money\n")
    assert BODY in text                       # base64 text part decoded
    assert 'color=3D"red"' in text            # quoted-printable kept as transmitted (Spambase's "3d")
    assert "AAAA" not in text                 # attachment skipped
    f = spambase_features_from_rfc5322(raw.encode())
    assert f[word("3d")] > 0 and f[word("font")] > 0
    np.testing.assert_allclose(f, spambase_features(text))


def test_can_frame_features_without_the_dlc_quirk() -> None:
    f = can_features("0316", 8, "05 21 68 09 21 21 00 6f")
    assert f.shape == (N_CAN_FEATURES,)
    assert list(f[:12]) == [0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 1, 0]  # 0x316
    assert f[12] == 8  # the PoC's quirk would give 1000
    assert list(f[13:21]) == [0, 0, 0, 0, 0, 1, 0, 1]  # 0x05
    assert list(f[69:77]) == [0, 1, 1, 0, 1, 1, 1, 1]  # 0x6f


def test_can_frame_uses_only_dlc_bytes() -> None:
    f = can_features(0x7FF, 2, bytes([0xFF] * 8))
    assert f[:12].sum() == 11 and f[12] == 2
    assert f[13:29].sum() == 16 and f[29:].sum() == 0
    with pytest.raises(ValueError, match="12 bits"):
        can_features(0x1000, 0, b"")
    with pytest.raises(ValueError, match="DLC"):
        can_features(1, 9, bytes(9))
    with pytest.raises(ValueError, match="payload has 1 bytes"):
        can_features(1, 2, b"\x01")
