"""The hostile corpus: STIX 2.1 bundles a compromised member could send, each with what must become of every object.

Run ``python -m tests.hostile.corpus OUT_DIR`` to write the bundles (``<name>.json``, raw JSON text: some are not
representable as Python objects, e.g. ``NaN``) and ``expected.json``. The tests build the same corpus in memory.

Every bundle holds its hostile object(s) and a good neighbour (an IPv4 indicator of its own), which must still be
converted: one bad object never stops the rest. Expected outcomes per object id:

- ``["converted", <MISP type>, <value>]``: the value must arrive with that MISP attribute type (top level or in an
  object);
- ``["context"]``: a type that by design becomes no attribute (identity, relationship, marking, report...);
- ``[<code>]``: refused with that reason code (:class:`legion_misp.stix.reasons.Reason`, or a trust code).

Families: the issue's findings (NUL/CRLF in patterns, match-all OR, pattern_type "python", 120,000-character
domains, conflicting duplicates with ``revoked``, misp:tool/misp:type label tricks), every pattern construct MISP
cannot hold (!=, LIKE, MATCHES, IN, >, NOT, OR, AND/FOLLOWEDBY across observations, WITHIN/REPEATS/START),
malformed values, timestamps and properties, and JSON that Python's parser mishandles (NaN, Infinity, 1e400,
5,000-digit integers, lone surrogates), deep nesting and oversized objects.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NS = uuid.UUID("5d6f1c7e-2b1a-4e0c-9a53-7d1c0f3e2a10")
STAMP = "2026-11-20T12:00:00.000Z"
# markers replaced in the JSON text by what Python's json cannot produce or parses lossily
RAW = {'"__NAN__"': "NaN", '"__INF__"': "Infinity", '"__BIGFLOAT__"': "1e400", '"__BIGINT__"': "9" * 5000}


def sid(stix_type: str, case: str, n: int = 0) -> str:
    return f"{stix_type}--{uuid.uuid5(NS, f'{case}/{n}')}"


def indicator(case: str, pattern: str, n: int = 0, **extra: Any) -> dict[str, Any]:
    obj = {"type": "indicator", "spec_version": "2.1", "id": sid("indicator", case, n), "created": STAMP,
           "modified": STAMP, "name": f"{case} {n}", "pattern": pattern, "pattern_type": "stix",
           "valid_from": STAMP}
    obj.update(extra)
    return obj


@dataclass
class Case:
    name: str
    objects: list[Any]
    expected: dict[str, list[str]]  # id (or "objects[i]") -> outcome
    family: str = "hostile"
    extra: dict[str, Any] = field(default_factory=dict)

    def text(self, objects: list[Any] | None = None) -> str:
        """The bundle as JSON text, with the raw markers substituted."""
        return raw_json({"type": "bundle", "id": sid("bundle", self.name),
                         "objects": self.objects if objects is None else objects})

    def envelope(self, objects: list[Any] | None = None) -> bytes:
        """A TAXII envelope of (some of) its objects, as the bytes a peer POSTs."""
        return raw_json({"objects": self.objects if objects is None else objects}).encode("utf-8")


def raw_json(value: Any) -> str:
    text = json.dumps(value)
    for marker, raw in RAW.items():
        text = text.replace(marker, raw)
    return text


def _neighbour(case: str, k: int) -> tuple[dict[str, Any], str, list[str]]:
    ip = f"198.51.{100 + k // 250}.{k % 250 + 1}"
    obj = indicator(case, f"[ipv4-addr:value = '{ip}']", n=99)
    return obj, obj["id"], ["converted", "ip-dst", ip]


def _refused(name: str, code: str, *objects: dict[str, Any], family: str = "hostile") -> tuple:
    return name, family, list(objects), {o["id"]: [code] for o in objects}


def _cases() -> list[tuple[str, str, list[Any], dict[str, list[str]]]]:
    c: list[tuple[str, str, list[Any], dict[str, list[str]]]] = []
    # -- the findings
    c.append(_refused("nul-in-pattern", "control-character",
                      indicator("nul-in-pattern", "[ipv4-addr:value = '203.0.113.1\x00']"), family="finding"))
    c.append(_refused("crlf-in-pattern-value", "control-character",
                      indicator("crlf-in-pattern-value", "[domain-name:value = 'evil.example\r\n']"), family="finding"))
    c.append(_refused("match-all-or", "unsupported-pattern",
                      indicator("match-all-or", "[ipv4-addr:value = '203.0.113.2'] OR [ipv4-addr:value != '']"),
                      family="finding"))
    c.append(_refused("pattern-type-python", "unsupported-pattern-type",
                      indicator("pattern-type-python", "import os; os.system('id')", pattern_type="python"),
                      family="finding"))
    c.append(_refused("domain-120000", "value-too-long",
                      indicator("domain-120000", f"[domain-name:value = '{'a' * 120_000}.example']"),
                      family="finding"))
    first = indicator("conflicting-copies", "[ipv4-addr:value = '203.0.113.3']")
    second = dict(first, pattern="[ipv4-addr:value = '203.0.113.4']", revoked=True)
    c.append(("conflicting-copies", "finding", [first, second], {first["id"]: ["converted", "ip-dst", "203.0.113.3"]}))
    tool = indicator("label-trick", "[ipv4-addr:value = '203.0.113.5']",
                     labels=['misp:type="domain"', 'misp:category="Network activity"', 'misp:to_ids="True"'])
    container = {"type": "report", "spec_version": "2.1", "id": sid("report", "label-trick"), "created": STAMP,
                 "modified": STAMP, "name": "label trick", "published": STAMP, "report_types": ["misc"],
                 "labels": ['misp:tool="MISP-STIX-Converter"'], "object_refs": [tool["id"]]}
    c.append(("label-trick", "finding", [container, tool],
              {container["id"]: ["context"], tool["id"]: ["converted", "ip-dst", "203.0.113.5"]}))
    # -- pattern constructs MISP cannot hold without changing their meaning
    for name, pattern in [
        ("not-equal", "[ipv4-addr:value != '203.0.113.6']"),
        ("not-operator", "[ipv4-addr:value NOT = '203.0.113.7']"),
        ("like", "[domain-name:value LIKE '%.evil.example']"),
        ("matches", "[url:value MATCHES '^https?://evil']"),
        ("in-list", "[ipv4-addr:value IN ('203.0.113.8', '203.0.113.9')]"),
        ("greater-than", "[file:size > 1000]"),
        ("issubset", "[ipv4-addr:value ISSUBSET '203.0.113.0/24']"),
        ("or-inside", "[ipv4-addr:value = '203.0.113.10' OR ipv4-addr:value = '203.0.113.11']"),
        ("and-observations", "[ipv4-addr:value = '203.0.113.12'] AND [domain-name:value = 'a.example']"),
        ("followedby", "[ipv4-addr:value = '203.0.113.13'] FOLLOWEDBY [domain-name:value = 'b.example']"),
        ("within", "[ipv4-addr:value = '203.0.113.14'] WITHIN 60 SECONDS"),
        ("repeats", "[ipv4-addr:value = '203.0.113.15'] REPEATS 3 TIMES"),
        ("start-stop", "[ipv4-addr:value = '203.0.113.16'] START t'2026-01-01T00:00:00Z' "
                       "STOP t'2026-02-01T00:00:00Z'"),
        ("or-mixed-types", "[domain-name:value = 'c.example' OR ipv4-addr:value = '203.0.113.17']"),
    ]:
        c.append(_refused(f"pattern-{name}", "unsupported-pattern", indicator(f"pattern-{name}", pattern),
                          family="pattern"))
    c.append(_refused("pattern-type-pcre", "unsupported-pattern-type",
                      indicator("pattern-type-pcre", "/evil/", pattern_type="pcre"), family="pattern"))
    c.append(_refused("pattern-grammar", "invalid-pattern",
                      indicator("pattern-grammar", "[ipv4-addr:value = '203.0.113.18'"), family="pattern"))
    c.append(_refused("pattern-and-two-types", "invalid-pattern",
                      indicator("pattern-and-two-types", "[domain-name:value = 'd.example' AND "
                                "ipv4-addr:value = '203.0.113.19']"), family="pattern"))
    c.append(_refused("pattern-huge", "value-too-long",
                      indicator("pattern-huge", "[ipv4-addr:value = '203.0.113.20']" + " " * 20_000),
                      family="pattern"))
    # -- values
    for name, pattern, code in [
        ("domain-254", f"[domain-name:value = '{'a' * 63}.{'b' * 63}.{'c' * 63}.{'d' * 59}.ex']", "value-too-long"),
        ("domain-label-64", f"[domain-name:value = '{'a' * 64}.example']", "invalid-value"),
        ("domain-with-space", "[domain-name:value = 'evil example.com']", "invalid-value"),
        ("ipv4-not-an-ip", "[ipv4-addr:value = '999.1.1.1']", "invalid-value"),
        ("ipv4-holding-ipv6", "[ipv4-addr:value = '2001:db8::1']", "invalid-value"),
        ("hash-wrong-length", "[file:hashes.MD5 = 'abc']", "invalid-value"),
        ("bidi-override", "[domain-name:value = 'evil\u202eelpmaxe.com']", "control-character"),
        ("zero-width", "[domain-name:value = 'ev\u200bil.example']", "control-character"),
        ("email-without-at", "[email-addr:value = 'not-an-address']", "invalid-value"),
        ("url-with-space", "[url:value = 'http://evil.example/a b']", "invalid-value"),
    ]:
        c.append(_refused(f"value-{name}", code, indicator(f"value-{name}", pattern), family="value"))
    edge = f"{'a' * 63}.{'b' * 63}.{'c' * 63}.{'d' * 57}.ex"  # exactly 253 characters: accepted
    ok = indicator("value-domain-253", f"[domain-name:value = '{edge}']")
    c.append(("value-domain-253", "value", [ok], {ok["id"]: ["converted", "domain", edge]}))
    # -- timestamps and properties
    c.append(_refused("time-month-13", "bad-timestamp",
                      indicator("time-month-13", "[ipv4-addr:value = '203.0.113.21']",
                                created="2026-13-01T00:00:00.000Z", modified="2026-13-01T00:00:00.000Z"),
                      family="property"))
    c.append(_refused("time-offset", "bad-timestamp",
                      indicator("time-offset", "[ipv4-addr:value = '203.0.113.22']",
                                valid_from="2026-11-20T12:00:00+02:00"), family="property"))
    c.append(_refused("time-modified-before-created", "bad-timestamp",
                      indicator("time-modified-before-created", "[ipv4-addr:value = '203.0.113.23']",
                                modified="2020-01-01T00:00:00.000Z"), family="property"))
    c.append(_refused("time-valid-until-first", "bad-timestamp",
                      indicator("time-valid-until-first", "[ipv4-addr:value = '203.0.113.24']",
                                valid_until="2020-01-01T00:00:00Z"), family="property"))
    c.append(_refused("spec-version-2.0", "spec-version",
                      indicator("spec-version-2.0", "[ipv4-addr:value = '203.0.113.25']", spec_version="2.0"),
                      family="property"))
    wrong = indicator("id-prefix", "[ipv4-addr:value = '203.0.113.26']")
    wrong["id"] = sid("malware", "id-prefix")
    c.append(_refused("id-prefix", "malformed-id", wrong, family="property"))
    c.append(_refused("labels-not-strings", "bad-property",
                      indicator("labels-not-strings", "[ipv4-addr:value = '203.0.113.27']", labels=[{"x": 1}]),
                      family="property"))
    c.append(_refused("pattern-not-a-string", "bad-property",
                      {**indicator("pattern-not-a-string", "x"), "pattern": ["[ipv4-addr:value = '203.0.113.28']"]},
                      family="property"))
    c.append(_refused("refs-not-ids", "bad-property",
                      indicator("refs-not-ids", "[ipv4-addr:value = '203.0.113.29']",
                                object_marking_refs="marking-definition--x"), family="property"))
    c.append(_refused("missing-valid-from", "invalid-stix",
                      {k: v for k, v in indicator("missing-valid-from", "[ipv4-addr:value = '203.0.113.30']").items()
                       if k != "valid_from"}, family="property"))
    c.append(_refused("c1-control-in-description", "control-character",
                      indicator("c1-control-in-description", "[ipv4-addr:value = '203.0.113.31']",
                                description="hidden \x9b31m escape"), family="property"))
    c.append(_refused("name-too-long", "value-too-long",
                      indicator("name-too-long", "[ipv4-addr:value = '203.0.113.32']", name="n" * 2000),
                      family="property"))
    deep: Any = {"leaf": 1}
    for _ in range(60):
        deep = {"x": deep}
    c.append(_refused("deep-nesting", "too-deep",
                      indicator("deep-nesting", "[ipv4-addr:value = '203.0.113.33']", x_deep=deep), family="size"))
    c.append(_refused("oversized", "too-large",
                      indicator("oversized", "[ipv4-addr:value = '203.0.113.34']", description="A" * 1_200_000),
                      family="size"))
    # -- JSON Python mishandles
    for name, marker in [("nan", "__NAN__"), ("infinity", "__INF__"), ("float-overflow", "__BIGFLOAT__"),
                         ("int-5000-digits", "__BIGINT__")]:
        c.append(_refused(f"json-{name}", "invalid-json",
                          indicator(f"json-{name}", "[ipv4-addr:value = '203.0.113.35']", x_number=marker),
                          family="json"))
    c.append(_refused("json-lone-surrogate", "bad-unicode",
                      indicator("json-lone-surrogate", "[ipv4-addr:value = '203.0.113.36']", name="x\ud800y"),
                      family="json"))
    c.append(("json-not-objects", "json", ["a string", 42, None, [1, 2]],
              {f"objects[{i}]": ["not-an-object"] for i in range(4)}))
    # -- observables
    sco = {"type": "ipv4-addr", "spec_version": "2.1", "id": sid("ipv4-addr", "observed"), "value": "203.0.113.37"}
    observed = {"type": "observed-data", "spec_version": "2.1", "id": sid("observed-data", "observed"),
                "created": STAMP, "modified": STAMP, "first_observed": STAMP, "last_observed": STAMP,
                "number_observed": 1, "object_refs": [sco["id"]]}
    c.append(("observed-ok", "observable", [observed, sco],
              {observed["id"]: ["converted", "ip-dst", "203.0.113.37"], sco["id"]: ["converted", "ip-dst",
                                                                                      "203.0.113.37"]}))
    dangling = {**observed, "id": sid("observed-data", "dangling"), "object_refs": [sid("ipv4-addr", "missing")]}
    c.append(_refused("observed-dangling", "not-converted", dangling, family="observable"))
    bad_sco = {**sco, "id": sid("ipv4-addr", "bad-sco"), "value": "300.1.2.3"}
    c.append(_refused("sco-bad-value", "invalid-value", bad_sco, family="observable"))
    c.append(_refused("email-attachment-dropped", "meaning-changed",
                      indicator("email-attachment-dropped", "[email-message:from_ref.value = 'billing@evil.example' "
                                "AND email-message:body_multipart[*].body_raw_ref.name = 'invoice.iso']"),
                      family="converter"))
    malware = {"type": "malware", "spec_version": "2.1", "id": sid("malware", "context"), "created": STAMP,
               "modified": STAMP, "name": "EvilRAT", "is_family": True}
    dangling_rel = {"type": "relationship", "spec_version": "2.1", "id": sid("relationship", "context"),
                    "created": STAMP, "modified": STAMP, "relationship_type": "indicates",
                    "source_ref": sid("indicator", "nowhere"), "target_ref": malware["id"]}
    c.append(("context-objects", "converter", [malware, dangling_rel],
              {malware["id"]: ["context"], dangling_rel["id"]: ["context"]}))
    yara = indicator("yara-rule", "rule evil { strings: $a = \"x\" condition: $a }", pattern_type="yara")
    c.append(("yara-rule", "rule", [yara], {yara["id"]: ["converted", "yara", yara["pattern"]]}))
    return c


def corpus() -> list[Case]:
    """Every case, each with its good neighbour appended."""
    out = []
    for k, (name, family, objects, expected) in enumerate(_cases()):
        neighbour, nid, outcome = _neighbour(name, k)
        extra = {"also_refused": ["conflicting-content"]} if name == "conflicting-copies" else {}
        out.append(Case(name=name, family=family, objects=[*objects, neighbour], expected={**expected, nid: outcome},
                        extra=extra))
    return out


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "hostile-corpus")
    out.mkdir(parents=True, exist_ok=True)
    cases = corpus()
    for case in cases:
        (out / f"{case.name}.json").write_text(case.text(), encoding="utf-8")
    (out / "expected.json").write_text(json.dumps({c.name: c.expected for c in cases}, indent=1), encoding="utf-8")
    print(f"{len(cases)} bundles written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
