"""The pattern reader: the fast path for the common shape agrees with the ANTLR parser wherever it answers, and
every construct that would change meaning in MISP is refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legion_misp.stix.reasons import ObjectRefused
from legion_misp.stix.validate import _parsed_comparisons, pattern_comparisons, simple_comparisons
from tests.helpers import FIXTURES

from .corpus import corpus


def _fixture_patterns() -> list[str]:
    patterns = []
    for path in sorted((FIXTURES / "stix").rglob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        objects = document.get("objects", []) if isinstance(document, dict) else []
        patterns += [o["pattern"] for o in objects if isinstance(o, dict) and isinstance(o.get("pattern"), str)]
    return patterns


def _corpus_patterns() -> list[str]:
    return [o["pattern"] for c in corpus() for o in c.objects if isinstance(o, dict)
            and isinstance(o.get("pattern"), str) and len(o["pattern"]) < 20_000]


def _parsed_or_none(pattern: str):
    try:
        return _parsed_comparisons(pattern)
    except ObjectRefused:
        return None


def test_the_fast_path_agrees_with_the_parser_on_every_known_pattern():
    patterns = _fixture_patterns() + _corpus_patterns()
    fast = 0
    for pattern in patterns:
        quick = simple_comparisons(pattern)
        if quick is not None:
            fast += 1
            assert quick == _parsed_or_none(pattern), pattern
    assert fast >= 30  # the common shape is read without ANTLR


STEP = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)
VALUE = st.text(alphabet=st.sampled_from("ab1.-_ '\\:[]()=ANDOR"), max_size=12)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(root=st.sampled_from(["file", "ipv4-addr", "x-custom", "network-traffic"]),
       comparisons=st.lists(st.tuples(st.lists(STEP, min_size=1, max_size=3), VALUE), min_size=1, max_size=3),
       parens=st.booleans())
def test_the_fast_path_agrees_with_the_parser_on_generated_patterns(root, comparisons, parens):
    def literal(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    body = " AND ".join(f"{root}:{'.'.join(path)} = {literal(value)}" for path, value in comparisons)
    pattern = f"[({body})]" if parens else f"[{body}]"
    quick = simple_comparisons(pattern)
    parsed = _parsed_or_none(pattern)
    assert quick is None or quick == parsed, pattern
    if parsed is not None:
        assert [c.value for c in parsed] == [v for _, v in comparisons]


@pytest.mark.parametrize("pattern", ["[ipv4-addr:value = '1.2.3.4'] OR [ipv4-addr:value != '']",
                                     "[ipv4-addr:value = '1.2.3.4' OR ipv4-addr:value = '1.2.3.5']",
                                     "[file:size > 10]", "[ipv4-addr:value NOT = '1.2.3.4']",
                                     "[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS"])
def test_meaning_changing_patterns_are_refused(pattern):
    with pytest.raises(ObjectRefused, match="unsupported-pattern"):
        pattern_comparisons(pattern)
