"""DP over time, tested like an attacker: repeated releases cannot be averaged, equal times of an event are noised
once, and empirical audits of the persistent-noise path and of the continual (binary-tree) counter stay below the
claimed ε. Fixed seeds throughout."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import uuid
from pathlib import Path

import numpy as np
import pytest

from legion_misp.privacy.ledger import Charge, Ledger
from legion_misp.privacy.mechanisms import ClampedNumericMechanism, SeededNoise, SightingCountMechanism
from legion_misp.privacy.noise_store import DryRunBook, NoiseRequest, PersistentBook, TransientBook
from legion_misp.privacy.policy import NumericBounds, Policy
from legion_misp.privacy.pseudonyms import Pseudonymizer
from legion_misp.privacy.sanitizer import Sanitizer

from .conftest import FEDERATION_KEY
from .test_mechanisms import empirical_epsilon_lower_bound

DAY = 86400
BLOCK_START = 20_480 * DAY  # 2026-01-29, the start of a 32-day (and of an 8-day) counter block
RELEASES = 100


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _sanitizer(policy: Policy, seed: int, **changes) -> Sanitizer:
    policy = dataclasses.replace(policy, numeric_attributes={"counter": NumericBounds(0, 10_000, 1)}, **changes)
    return Sanitizer(policy.validate(), pseudonymizer=Pseudonymizer(bytes.fromhex(FEDERATION_KEY)),
                     noise=SeededNoise(seed))


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


def _attacked_event(n: int, sighting_day: float) -> dict:
    """n attributes with a counter of 500, a first/last seen pair and 200 sightings on one day."""
    attributes = []
    for i in range(n):
        attributes.append({"uuid": str(uuid.uuid4()), "type": "counter", "value": "500", "timestamp": "1769000000"})
        attributes.append({"uuid": str(uuid.uuid4()), "type": "domain", "value": f"d{i}.example.net",
                           "timestamp": "1769000000", "first_seen": _iso(BLOCK_START - 5 * DAY + 3600 * (i % 24)),
                           "last_seen": _iso(BLOCK_START - 2 * DAY + 60 * i),
                           "Sighting": [{"type": "0", "date_sighting": str(int(sighting_day))}] * 200})
    return {"uuid": str(uuid.uuid4()), "info": "averaging target", "distribution": "3", "published": True,
            "date": _iso(BLOCK_START)[:10], "timestamp": "1769000000", "Attribute": attributes}


def _observe(shared: dict) -> dict[str, dict[str, int]]:
    """What a peer sees: per original attribute, the counter value, the two times and the noisy 'seen' count."""
    seen: dict[str, dict[str, int]] = {}
    for attribute in shared.get("Attribute", []):
        row = seen.setdefault(attribute["uuid"], {})
        if attribute["type"] == "counter":
            row["counter"] = int(attribute["value"])
        for key in ("first_seen", "last_seen"):
            if key in attribute:
                row[key] = int(dt.datetime.fromisoformat(attribute[key]).timestamp())
    for obj in shared.get("Object", []):
        if obj["name"] == "legion-sighting-summary":
            values = {a["object_relation"]: a["value"] for a in obj["Attribute"]}
            seen.setdefault(values["attribute-uuid"], {})["seen"] = int(values["seen"])
    return seen


def _truth(event: dict) -> dict[str, dict[str, int]]:
    truth = {}
    for attribute in event["Attribute"]:
        if attribute["type"] == "counter":
            truth[attribute["uuid"]] = {"counter": 500}
        else:
            truth[attribute["uuid"]] = {
                "first_seen": int(dt.datetime.fromisoformat(attribute["first_seen"]).timestamp()),
                "last_seen": int(dt.datetime.fromisoformat(attribute["last_seen"]).timestamp()), "seen": 200}
    return truth


def _attack(policy: Policy, tmp_path: Path, *, persistent: bool) -> tuple[dict, dict, int]:
    """100 releases over ~3 months; returns (error of one release, error of the attacker's average, releases)."""
    sanitizer = _sanitizer(policy, seed=21)
    clock = Clock(BLOCK_START + 3 * DAY)
    ledger = Ledger(tmp_path / f"ledger-{persistent}.sqlite", budget_epsilon=1e6, clock=clock)
    event = _attacked_event(60, BLOCK_START + 1 * DAY + 3600)
    truth = _truth(event)
    observations: list[dict] = []
    for release in range(RELEASES):
        clock.now = BLOCK_START + 3 * DAY + release * 0.6 * DAY  # every ~14 h for 60 days
        book = PersistentBook(ledger, what="attack", scope="test") if persistent else TransientBook(clock.now)
        observations.append(_observe(sanitizer.sanitize(event, book=book)[0]))
    single, averaged = {}, {}
    for field in ("counter", "first_seen", "last_seen", "seen"):
        one, many = [], []
        for uuid_, true in truth.items():
            if field not in true:
                continue
            values = [o[uuid_][field] for o in observations if field in o.get(uuid_, {})]
            if values:
                one.append(values[0] - true[field])
                many.append(float(np.mean(values)) - true[field])
        single[field] = math.sqrt(np.mean(np.square(one)))
        averaged[field] = math.sqrt(np.mean(np.square(many)))
    return single, averaged, len(observations)


def test_an_averaging_attacker_over_100_releases_learns_nothing_beyond_one_release(policy: Policy,
                                                                                  tmp_path: Path) -> None:
    single, averaged, releases = _attack(policy, tmp_path, persistent=True)
    assert releases == RELEASES
    for field in ("counter", "first_seen", "last_seen"):  # republished unchanged: the average is one release
        assert averaged[field] == pytest.approx(single[field]) and single[field] > 0
    # counts: every count of the tree's block is ε-DP together; averaging cannot beat a one-shot ε release much
    one_shot = SightingCountMechanism(epsilon=policy.sightings_epsilon)
    one_shot_std = math.sqrt(2 * math.exp(-1 / one_shot.scale_)) / (1 - math.exp(-1 / one_shot.scale_))
    assert averaged["seen"] >= 0.5 * one_shot_std


def test_the_attack_has_power_against_re_noising(policy: Policy, tmp_path: Path) -> None:
    """Control: the old behaviour (fresh noise every release) is averaged away by the same attacker."""
    single, averaged, _ = _attack(policy, tmp_path, persistent=False)
    for field in ("counter", "first_seen", "last_seen"):
        assert averaged[field] < single[field] / 4


def test_every_release_of_an_unchanged_datum_carries_the_same_value_and_only_fresh_noise_is_charged(
        policy: Policy, tmp_path: Path) -> None:
    sanitizer = _sanitizer(policy, seed=3)
    clock = Clock(BLOCK_START + 3 * DAY)
    ledger = Ledger(tmp_path / "l.sqlite", budget_epsilon=100.0, clock=clock)
    event = _attacked_event(3, BLOCK_START + DAY)
    first = sanitizer.sanitize(event, book=PersistentBook(ledger, what="r1", scope="t"))[0]
    spent = ledger.spent()[0]
    assert spent == pytest.approx(policy.sightings_epsilon + 0.25 + policy.time_epsilon)
    for _ in range(4):  # the same step: identical output, nothing charged
        clock.now += 3600
        assert sanitizer.sanitize(event, book=PersistentBook(ledger, what="again", scope="t"))[0] == first
    assert ledger.spent()[0] == spent
    changed = dict(event, Attribute=[dict(event["Attribute"][0], value="501"), *event["Attribute"][1:]])
    again = sanitizer.sanitize(changed, book=PersistentBook(ledger, what="edit", scope="t"))[0]
    assert ledger.spent()[0] == pytest.approx(spent + 0.25)  # only the changed counter is re-noised and charged
    assert again["Attribute"][1:] == first["Attribute"][1:]
    summary = ledger.noise_summary()["kinds"]
    assert summary["numeric:counter"]["max_draws"] == 2 and summary["time"]["max_draws"] == 1


def test_equal_times_in_one_event_are_noised_once(policy: Policy) -> None:
    sanitizer = _sanitizer(policy, seed=9, sightings="drop")
    moment = _iso(BLOCK_START - 3 * DAY)
    attributes = [{"uuid": str(uuid.uuid4()), "type": "domain", "value": f"x{i}.example.net", "first_seen": moment,
                   "last_seen": moment, "timestamp": "1769000000"} for i in range(50)]
    event = {"uuid": str(uuid.uuid4()), "info": "same time", "distribution": "3", "published": True,
             "date": "2026-01-20", "timestamp": "1769000000", "Attribute": attributes}
    shared, report = sanitizer.sanitize(event)
    released = {(a["first_seen"], a["last_seen"]) for a in shared["Attribute"]}
    assert len(released) == 1 and released != {(moment, moment)}
    assert report.fresh == 1  # one datum for the 100 equal times


def test_a_dry_run_draws_no_noise_and_names_the_cost(policy: Policy, tmp_path: Path) -> None:
    class NoNoise:
        secure, description = False, "fails if used"

        def discrete_laplace(self, scale: float, size: int) -> np.ndarray:
            raise AssertionError("a dry run drew noise")

    sanitizer = _sanitizer(policy, seed=1)
    sanitizer.noise = NoNoise()
    clock = Clock(BLOCK_START + 3 * DAY)
    ledger = Ledger(tmp_path / "l.sqlite", budget_epsilon=10.0, clock=clock)
    book = DryRunBook(ledger, now=clock.now)
    event = _attacked_event(2, BLOCK_START + DAY)
    shared, report = sanitizer.sanitize(event, book=book)
    assert not [o for o in shared.get("Object", []) if o["name"] == "legion-sighting-summary"]
    assert all(a["value"] != "500" for a in shared["Attribute"] if a["type"] == "counter")  # no true value out
    assert not any("first_seen" in a or "last_seen" in a for a in shared["Attribute"])
    assert report.fresh > 0 and report.cost.epsilon > 0
    assert book.would_spend.epsilon == pytest.approx(policy.sightings_epsilon + 0.25 + policy.time_epsilon)
    assert ledger.entries() == [] and ledger.noise_summary()["kinds"] == {}


# ---- empirical audits ----------------------------------------------------------------------------------------------

def test_empirical_audit_of_the_persistent_path_five_republications(tmp_path: Path) -> None:
    """Neighbouring values 10 and 11, each released 5 times through the noise store; the attacker's statistic is
    the mean of the 5. Persistent noise keeps it at the claimed ε; re-noising (the control) exceeds it."""
    mechanism = ClampedNumericMechanism(lower=0, upper=100, sensitivity=1, epsilon=0.5)
    datums = 40_000

    def means(value: int, book_factory, seed: int) -> np.ndarray:
        noise = SeededNoise(seed)
        requests = [NoiseRequest(kind="numeric:counter", identity=str(i), value=value,
                                 draw=lambda v: int(mechanism.release(np.array([v]), noise)[0]),
                                 charge=Charge("clamped-numeric", mechanism.epsilon), epsilon=mechanism.epsilon)
                    for i in range(datums)]
        return np.mean([book_factory().resolve(requests).values for _ in range(5)], axis=0)

    ledgers = {v: Ledger(tmp_path / f"{v}.sqlite", budget_epsilon=1e3) for v in (10, 11)}
    persistent = [means(v, lambda v=v: PersistentBook(ledgers[v], what="audit", scope="t"), 100 + v) for v in (10, 11)]
    assert np.array_equal(persistent[0], np.round(persistent[0]))  # five identical values per datum
    bound = empirical_epsilon_lower_bound(*persistent)
    assert bound <= mechanism.epsilon
    assert bound >= 0.5 * mechanism.epsilon
    renoised = [means(v, TransientBook, 200 + v) for v in (10, 11)]
    assert empirical_epsilon_lower_bound(*renoised) > mechanism.epsilon


def test_empirical_audit_of_the_continual_counter(policy: Policy, tmp_path: Path) -> None:
    """One sighting more or less, every count of an 8-step block released at every step through the sanitiser and
    the noise store: the attacker sums all 8 released counts (absent = 0). Measured ε stays below the claim."""
    sanitizer = _sanitizer(policy, seed=5, sightings_horizon=8, sightings_epsilon=1.0)
    tree = sanitizer.mechanisms_["sighting-counts"]
    assert tree.levels == 4 and tree.privacy_map().epsilon == pytest.approx(1.0)
    block = BLOCK_START  # 20480 days is a multiple of 8
    attributes = 6000

    def sums(count: int, seed: int) -> np.ndarray:
        sanitizer.noise = SeededNoise(seed)
        clock = Clock(block + DAY)
        ledger = Ledger(tmp_path / f"tree-{count}.sqlite", budget_epsilon=1e3, clock=clock)
        event = {"uuid": str(uuid.uuid4()), "info": "audit", "distribution": "3", "published": True,
                 "date": _iso(block)[:10], "timestamp": "1769000000",
                 "Attribute": [{"uuid": str(uuid.uuid4()), "type": "domain", "value": f"a{i}.example.net",
                                "timestamp": "1769000000",
                                "Sighting": [{"type": "0", "date_sighting": str(block + DAY + 60)}] * count}
                               for i in range(attributes)]}
        index = {a["uuid"]: i for i, a in enumerate(event["Attribute"])}
        total = np.zeros(attributes)
        for step in range(1, 9):
            clock.now = block + step * DAY + 1
            seen = _observe(sanitizer.sanitize(event, book=PersistentBook(ledger, what="a", scope="t"))[0])
            for attribute_uuid, row in seen.items():
                if "seen" in row:
                    total[index[attribute_uuid]] += row["seen"]
        assert ledger.spent()[0] == pytest.approx(1.0)  # one block, paid once, for all 8 releases
        return total

    bound = empirical_epsilon_lower_bound(sums(60, 1), sums(61, 2), alpha=1e-4)
    assert bound <= tree.epsilon


def test_the_sync_hook_records_noise_before_returning_and_its_dry_run_records_nothing(policy: Policy,
                                                                                      tmp_path: Path) -> None:
    from connectors.sanitize import SanitizerHook

    sanitizer = _sanitizer(policy, seed=8)
    ledger = Ledger(tmp_path / "l.sqlite", budget_epsilon=10.0)
    event = _attacked_event(2, BLOCK_START + DAY)
    dry = SanitizerHook(sanitizer, ledger).fresh("dry", dry_run=True)
    assert dry(event) is not None
    assert ledger.entries() == [] and ledger.noise_summary()["kinds"] == {}
    hook = SanitizerHook(sanitizer, ledger).fresh("push")
    first = hook(event)
    recorded = ledger.noise_summary()["kinds"]
    assert recorded["time"]["values"] > 0 and ledger.spent()[0] > 0  # recorded and paid when the hook returned
    again = SanitizerHook(sanitizer, ledger).fresh("push again")
    spent = ledger.spent()[0]
    assert again(event) == first and ledger.spent()[0] == spent and again.spent.epsilon == 0
