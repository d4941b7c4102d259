"""legion_federation_import under hostile input: the corpus through the real misp-modules server (same verdicts as
the pull, the server alive), the size limit on the decoded bundle tested at its edges, rejections counted per
object and tagged with codes."""

from __future__ import annotations

import base64
import json

import pytest

from legion_misp.demo.attacks import SimMember
from legion_misp.mispmod import federation_import
from legion_misp.mispmod.federation_import import MAX_BUNDLE_BYTES, MAX_DATA_CHARS
from tests.hostile.accounting import expected_refusals, import_answer_outcome
from tests.hostile.corpus import corpus, indicator, raw_json, sid


@pytest.fixture(scope="module")
def member():
    return SimMember("member-a")


@pytest.fixture
def config_path(tmp_path, member):
    path = tmp_path / "legion.toml"
    path.write_text('[organisation]\nname = "Example Energy Ltd"\npseudonym = "member-c"\n'
                    f'[sync]\nstate_path = "{tmp_path / "sync-state.sqlite"}"\n'
                    '[federation]\nname = "energy-federation"\n'
                    f'[[federation.members]]\npseudonym = "{member.pseudonym}"\npublic_key = "{member.public_key}"\n'
                    'collections = ["*"]\n', encoding="utf-8")
    return path


def signed(member, objects):
    """Each object signed by the member where it can be (hostile values that cannot be canonicalised stay as
    they are: they are refused before any signature is looked at)."""
    out = []
    for obj in objects:
        try:
            out.append(member.signer.sign(obj) if isinstance(obj, dict) else obj)
        except Exception:  # NaN markers, surrogates...: left unsigned
            out.append(obj)
    return out


def request_for(text: str, config_path) -> dict:
    return {"module": "legion_federation_import", "event_id": "625", "filename": "bundle.json",
            "data": base64.b64encode(text.encode("utf-8", errors="surrogatepass")).decode(),
            "config": {"config_path": str(config_path)}}


def _check_answer(case, answer) -> list[str]:
    if "error" in answer:
        return [f"{case.name}: error {answer['error']}"]
    codes, converted, count = import_answer_outcome(answer)
    wanted = expected_refusals(case)
    problems = []
    if set(codes) != set(wanted):
        problems.append(f"{case.name}: codes {sorted(codes)} != {sorted(wanted)}")
    if count != sum(wanted.values()):
        problems.append(f"{case.name}: legion:rejected-objects {count} != {sum(wanted.values())}")
    for where, outcome in case.expected.items():
        if outcome[0] == "converted" and (outcome[1], outcome[2]) not in converted:
            problems.append(f"{case.name}: {where} not imported as {outcome[1]} {outcome[2][:60]!r}")
    return problems


@pytest.mark.slow
def test_hostile_corpus_through_the_real_server(module_server, config_path, member):
    """Every bundle of the corpus, signed by a roster member, posted to the real misp-modules server: the same
    verdicts as the pull (codes and counts per bundle), the neighbours imported, the server alive after each."""
    problems = []
    for case in corpus():
        text = case.text(signed(member, case.objects))
        answer = module_server.query(request_for(text, config_path), timeout=120)
        problems += _check_answer(case, answer)
        assert module_server.process.poll() is None, f"the server died on {case.name}"
    assert not problems, "\n".join(problems)
    assert {m["name"] for m in module_server.get("/modules")} >= {"legion_federation_import"}


def test_conflicting_copies_get_the_pull_s_verdict(config_path, member):
    """Two copies of one (id, version), the second with other content and revoked: the first is kept and the
    second refused as conflicting-content, exactly as the pull does (the import used to keep the revoked one)."""
    case = next(c for c in corpus() if c.name == "conflicting-copies")
    answer = federation_import.dict_handler(request_for(case.text(signed(member, case.objects)), config_path))
    codes, converted, count = import_answer_outcome(answer)
    assert ("ip-dst", "203.0.113.3") in converted and ("ip-dst", "203.0.113.4") not in converted
    assert set(codes) == {"conflicting-content"} and count == 1


def test_rejected_objects_counts_objects_and_tags_carry_codes(config_path, member):
    """Three refused objects, two of them versions of one id: legion:rejected-objects says 3 (it counted ids); every
    legion:rejected tag is a code (no spaces, no sentence)."""
    twin_a = indicator("twins", "[ipv4-addr:value != '203.0.113.40']")
    twin_b = dict(twin_a, modified="2026-11-21T12:00:00.000Z", pattern="[ipv4-addr:value LIKE '203.0.113.%']")
    other = indicator("twins", "[ipv4-addr:value = '999.0.0.1']", n=1)
    good = indicator("twins", "[ipv4-addr:value = '203.0.113.41']", n=2)
    text = raw_json({"type": "bundle", "id": sid("bundle", "twins"),
                     "objects": signed(member, [twin_a, twin_b, other, good])})
    answer = federation_import.dict_handler(request_for(text, config_path))
    tags = [t["name"] for t in answer["results"]["Tag"]]
    assert 'legion:rejected-objects="3"' in tags  # two versions of one id refused: two objects, counted as two
    assert {t for t in tags if t.startswith("legion:rejected=")} == {'legion:rejected="unsupported-pattern"',
                                                                      'legion:rejected="invalid-value"'}
    assert all(" " not in t.split('"')[1] for t in tags if t.startswith("legion:rejected="))
    assert ("ip-dst", "203.0.113.41") in import_answer_outcome(answer)[1]


def _padded_bundle(member, size: int) -> str:
    """A valid bundle of exactly ``size`` bytes of JSON (whitespace padding inside the document)."""
    text = raw_json({"type": "bundle", "id": sid("bundle", "edge"),
                     "objects": signed(member, [indicator("edge", "[ipv4-addr:value = '203.0.113.50']")])})
    assert len(text) < size
    return text[:-1] + " " * (size - len(text)) + "}"


@pytest.mark.parametrize("size, accepted", [(MAX_BUNDLE_BYTES, True), (MAX_BUNDLE_BYTES + 1, False)])
def test_the_size_limit_applies_to_the_decoded_bundle(config_path, member, size, accepted):
    """20 MB of decoded JSON is accepted (its base64 is ~26.7 MB: the old 1,000,000-character cap on any request
    string refused everything over ~750 KB); one byte more is refused with the limit named."""
    text = _padded_bundle(member, size)
    assert len(text.encode()) == size
    request = request_for(text, config_path)
    assert len(request["data"]) > 1_000_000
    answer = federation_import.dict_handler(request)
    if accepted:
        assert "error" not in answer, answer.get("error")
        assert ("ip-dst", "203.0.113.50") in import_answer_outcome(answer)[1]
    else:
        assert "larger than 20 MB" in answer["error"] and str(MAX_BUNDLE_BYTES) in answer["error"]


def test_base64_longer_than_the_decoded_limit_allows_is_refused_before_decoding(config_path):
    answer = federation_import.dict_handler({"data": "A" * (MAX_DATA_CHARS + 4),
                                             "config": {"config_path": str(config_path)}})
    assert "longer than" in answer["error"] or "larger than" in answer["error"]


@pytest.mark.slow
def test_a_bundle_at_the_limit_through_the_real_server(module_server, config_path, member):
    answer = module_server.query(request_for(_padded_bundle(member, MAX_BUNDLE_BYTES), config_path), timeout=120)
    assert "error" not in answer, answer.get("error")
    answer = module_server.query(request_for(_padded_bundle(member, MAX_BUNDLE_BYTES + 1), config_path), timeout=120)
    assert "larger than 20 MB" in answer["error"]
    assert module_server.process.poll() is None


def test_json_the_parser_refuses_is_refused_per_object(config_path, member):
    """NaN, 1e400 and a 5,000-digit integer in one object: that object is refused (invalid-json), not the bundle."""
    case = next(c for c in corpus() if c.name == "json-int-5000-digits")
    answer = federation_import.dict_handler(request_for(case.text(signed(member, case.objects)), config_path))
    codes, converted, count = import_answer_outcome(answer)
    assert set(codes) == {"invalid-json"} and count == 1 and converted
    assert json.loads(json.dumps(answer))  # the answer itself is plain JSON
