"""The ``[privacy]`` policy: what may leave the organisation, and how much noise the released numbers carry.

:data:`PRIVACY_KEYS` declares every key with its default and meaning (``legion config reference`` prints them);
:class:`Policy` is the validated, frozen value the sanitiser works from. ``Policy.from_config(config)`` builds it;
:meth:`Policy.validate` checks every field once and raises :class:`PolicyError` naming the field, what it allows and
what it got. Cross-field rules live in small pure checkers (:func:`check_stats_threshold`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from phonenumbers import SUPPORTED_REGIONS

from ..errors import ConfigError, ConfigProblem
from ..schema import Key, in_range, one_of
from ..timeutil import is_duration, parse_duration
from .detectors import DEFAULT_PHONE_REGIONS, DETECTORS, DetectorSet, compile_hostname_pattern
from .mechanisms import truncated_end_delta

if TYPE_CHECKING:
    from ..config import Config, Organisation

TARGET_TYPES = ("target-user", "target-email", "target-machine", "target-org", "target-location", "target-external")
PERSON_TYPES = ("email-dst-display-name", "first-name", "middle-name", "last-name", "full-name", "date-of-birth",
                "place-of-birth", "passport-number", "identity-card-number", "phone-number")
DEFAULT_BLOCK_TAGS = ("tlp:red", "tlp:amber+strict", "PAP:RED")
DEFAULT_DROP_CATEGORIES = ("Targeting data", "Internal reference")
DEFAULT_TEXT_TYPES = ("text", "comment", "other", "email-body", "email-subject", "email-header", "anonymised",
                      "email-src-display-name")
DEFAULT_STATS_TAG_NAMESPACES = ("tlp", "pap", "misp-galaxy", "mitre-attack", "kill-chain", "malware_classification",
                                "circl", "enisa", "ecsirt", "rsit", "veris", "estimative-language")
MAX_TIME_DELTA = 1e-9
# No numeric attribute is noised by default: `counter` and `size-in-bytes` have no unit of privacy whose
# sensitivity means something (one byte of a file size protects nothing), so they are shared as-is, and the docs
# say so. An admin who knows a meaningful unit (e.g. a counter of one organisation's incidents, sensitivity 1)
# declares it here and gets a real DP claim for it.
DEFAULT_NUMERIC: dict[str, dict[str, int]] = {}


class PolicyError(ConfigError):
    """The ``[privacy]`` policy is invalid. Names the field, what it allows and the value received."""


def _is_numeric_table(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be a table of {type = {lower, upper, sensitivity}}"
    for name, bounds in value.items():
        if not isinstance(bounds, dict) or set(bounds) != {"lower", "upper", "sensitivity"}:
            return f"{name!r}: must be {{lower = INT, upper = INT, sensitivity = INT}}"
        if not all(isinstance(bounds[k], int) and not isinstance(bounds[k], bool) for k in bounds):
            return f"{name!r}: lower, upper and sensitivity must be integers"
        if not bounds["lower"] < bounds["upper"]:
            return f"{name!r}: lower must be < upper"
        if not 0 < bounds["sensitivity"] <= bounds["upper"] - bounds["lower"]:
            return f"{name!r}: sensitivity must be in (0, upper - lower]"
    return None


def _is_sharing_group_table(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be a table mapping a sharing-group uuid or name to a list of federation names"
    for name, federations in value.items():
        if not isinstance(federations, list) or not all(isinstance(f, str) and f for f in federations):
            return f"{name!r}: must be a list of federation names"
    return None


def _is_str_list(value: Any) -> str | None:
    return None if all(isinstance(v, str) and v.strip() for v in value) else "every item must be a non-empty string"


def _is_detector_list(value: Any) -> str | None:
    unknown = [v for v in value if v not in DETECTORS]
    return f"unknown detector(s) {unknown}; known: {', '.join(DETECTORS)}" if unknown else None


def _is_region_list(value: Any) -> str | None:
    bad = [v for v in value if not isinstance(v, str) or v.upper() not in SUPPORTED_REGIONS]
    return f"not phonenumbers regions (ISO 3166 alpha-2): {bad}" if bad else None


def _is_regex_list(value: Any) -> str | None:
    for item in value:
        if not isinstance(item, str) or not item.strip():
            return "every item must be a non-empty regular expression"
        try:
            re.compile(item)
        except re.error as exc:
            return f"{item!r} is not a regular expression: {exc}"
    return None


_POSITIVE_EPSILON = in_range(0, None, low_open=True)

PRIVACY_KEYS: tuple[Key, ...] = (
    Key("out_path", str, "data/feed-shared",
        "Feed directory `legion sanitize` writes to when --out is not given (relative to the config file)."),
    Key("published_only", bool, True, "Only published events leave (MISP itself only synchronises published "
        "events)."),
    Key("min_distribution", int, 1, "Lowest MISP distribution that may leave (1 community, 2 connected, 3 all). "
        "Distribution 0 (your organisation only) never leaves; the most restrictive of event, object and "
        "attribute wins.", check=in_range(1, 3)),
    Key("sharing_groups", dict, {}, "Sharing-group uuid or name -> federations its data may go to, e.g. "
        "{\"energy-isac\" = [\"energy-federation\"]}. Sharing-group data not listed for [federation] name is dropped.",
        check=_is_sharing_group_table),
    Key("block_tags", list, list(DEFAULT_BLOCK_TAGS), "Tags (case-insensitive) that stop an event, or an attribute, "
        "from leaving.", check=_is_str_list),
    Key("drop_categories", list, list(DEFAULT_DROP_CATEGORIES), "Attribute categories that never leave.",
        check=_is_str_list),
    Key("drop_types", list, [*TARGET_TYPES, *PERSON_TYPES], "Attribute types that never leave (victim- or "
        "person-identifying).", check=_is_str_list),
    Key("drop_object_names", list, ["person", "victim"], "MISP object templates that never leave.",
        check=_is_str_list),
    Key("pseudonymise_types", list, ["email-dst"], "Attribute types replaced by HMAC-SHA256(federation key, "
        "normalised value); needs [federation] pseudonym_key.", check=_is_str_list),
    Key("text_types", list, list(DEFAULT_TEXT_TYPES), "Free-text attribute types that are scrubbed (protected "
        "content replaced by the placeholder) instead of dropped.", check=_is_str_list),
    Key("placeholder", str, "[REDACTED]", "What replaces protected content in free text."),
    Key("sightings", str, "noise", "'noise': sightings become DP-noised counts per attribute; 'drop': removed.",
        check=one_of("noise", "drop")),
    Key("sightings_epsilon", float, 1.0, "ε of the continual (binary-tree) sighting counter, charged once per "
        "calendar block of sightings_horizon steps and covering every count ever released from it (unit: one "
        "sighting).", check=_POSITIVE_EPSILON),
    Key("sightings_step", str, "1d", "Time step of the sighting counter: a sighting is counted once its step is "
        "complete.", check=is_duration),
    Key("sightings_horizon", int, 32, "Steps per block of the sighting counter (a power of two): each node is "
        "noised with scale (log2(horizon) + 1) / sightings_epsilon.", check=in_range(1, 4096)),
    Key("sightings_threshold", int, 5, "A sighting summary is released only if a noisy count reaches this "
        "(post-processing, free).", check=in_range(1, None)),
    Key("sighting_times", bool, False, "Also release noised first/last sighting times (guarantee only against a "
        "shift of one sighting's time by time_sensitivity, not against its presence)."),
    Key("numeric_attributes", dict, DEFAULT_NUMERIC, "Numeric attribute types noised after clamping: "
        "{type = {lower, upper, sensitivity}}; sensitivity is how much one unit of privacy may change the value. "
        "Empty by default: counter and size-in-bytes are shared as-is (no meaningful unit, so no DP claim).",
        check=_is_numeric_table),
    Key("numeric_epsilon", float, 0.25, "ε of the noise on each clamped numeric attribute (unit: one value "
        "changed by at most its sensitivity).", check=_POSITIVE_EPSILON),
    Key("noise_times", bool, True, "Noise first_seen/last_seen of attributes and objects (first_seen <= "
        "last_seen kept)."),
    Key("time_epsilon", float, 0.5, "ε of one noised first_seen/last_seen pair (each end gets half).",
        check=_POSITIVE_EPSILON),
    Key("time_sensitivity", str, "1h", "How far one unit of privacy may shift a timestamp (e.g. '1h').",
        check=is_duration),
    Key("time_window", str, "4d", "Timestamp noise never moves a value further than this (truncated noise; the "
        "truncation costs a tiny δ, reported; it must stay below 1e-9).", check=is_duration),
    Key("stats_epsilon", float, 1.0, "ε of one `legion sanitize stats` release (split evenly over totals, "
        "categories, types, tags and ATT&CK techniques; unit: one MISP event).", check=_POSITIVE_EPSILON),
    Key("stats_delta", float, 1e-6, "δ of one statistics release (tag and technique keys come from the data).",
        check=in_range(0, 0.01, low_open=True)),
    Key("stats_threshold", int, 10, "Noisy counts below this are suppressed (raised automatically for tag and "
        "technique keys so that δ <= stats_delta).", check=in_range(1, None)),
    Key("stats_max_keys", int, 4, "Per event and per dimension, at most this many keys are counted "
        "(contribution bound; sorted order).", check=in_range(1, 64)),
    Key("stats_tag_namespaces", list, list(DEFAULT_STATS_TAG_NAMESPACES), "Only tags of these taxonomies are "
        "counted in statistics.", check=_is_str_list),
    Key("stats_distribution", int, 1, "Distribution of the released statistics event.", check=in_range(0, 3)),
    # Built-in detectors (legion_misp.privacy.detectors): what admins never list. docs/privacy.md has one section each.
    Key("detectors", list, list(DETECTORS), "Built-in detectors that run on every shared string (remove a name to "
        "switch it off): " + ", ".join(DETECTORS) + ".", check=_is_detector_list),
    Key("phone_regions", list, list(DEFAULT_PHONE_REGIONS), "Regions (ISO 3166 alpha-2) whose national phone "
        "number formats the phone detector reads; numbers written with +country code are read for every region.",
        check=_is_region_list),
    Key("partner_domains", list, [], "Domains of partner organisations: e-mail addresses under them never leave "
        "(the organisation's own internal_domains are always protected).", check=_is_str_list),
    Key("internal_hostname_patterns", list, [], "Regular expressions of the organisation's host naming conventions "
        "(e.g. 'ws\\d{4}', 'srv-[a-z]+\\d{2}'), matched case-insensitively as whole words anywhere.",
        check=_is_regex_list),
    Key("internal_hostnames", list, [], "Short host names of the organisation, matched as whole words anywhere (in "
        "addition to those learned from its data).", check=_is_str_list),
    Key("learn_hostnames_from_store", bool, True, "Before a release, learn short host names from the whole "
        "configured store (first labels of internal FQDNs, names paired with internal addresses), not only from "
        "the events being released: a feed store is read whole, a MISP store searched incrementally."),
    Key("learned_hostnames_path", str, "data/learned-hostnames.sqlite", "With store.kind = 'misp': SQLite file "
        "(created 0600, relative to the config file) keeping the host names learned from the MISP store and the "
        "high-water marks of the last learn, so each release asks MISP only for what changed. Private: never "
        "shared."),
)

# The federation-wide pseudonym key sits in [federation] (every member holds the same one).
PSEUDONYM_KEY = Key("pseudonym_key", str, None, "Federation-wide HMAC key for keyed pseudonyms, as 'env:NAME' or "
                    "'file:PATH': hex of at least 32 random bytes (`legion keys pseudonym` creates it). Every member "
                    "holds it, so members can brute-force low-entropy values.", secret=True)
PSEUDONYM_EPOCH = Key("pseudonym_epoch", str, "1", "Label of the pseudonym key's epoch: mixed into every pseudonym "
                      "and tagged legion:pseudonym-epoch on pseudonymised attributes. Rotate the key and change the "
                      "label (e.g. each quarter) to bound how long pseudonyms stay linkable.")


@dataclass(frozen=True)
class NumericBounds:
    """Clamping bounds and sensitivity of one numeric attribute type (integers)."""

    lower: int
    upper: int
    sensitivity: int


@dataclass(frozen=True)
class Policy:
    """What may leave, and how the released numbers are noised. Values only; checked by :meth:`validate`.

    Parameters
    ----------
    organisation : the local organisation (what identifies it; never shared).
    federation : name of the federation the output goes to (for the sharing-group mapping).
    Other fields : as the ``[privacy]`` keys of the same name (seconds for ``time_*``).
    """

    organisation: Organisation
    federation: str = "legion-federation"
    published_only: bool = True
    min_distribution: int = 1
    sharing_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    block_tags: tuple[str, ...] = DEFAULT_BLOCK_TAGS
    drop_categories: tuple[str, ...] = DEFAULT_DROP_CATEGORIES
    drop_types: tuple[str, ...] = (*TARGET_TYPES, *PERSON_TYPES)
    drop_object_names: tuple[str, ...] = ("person", "victim")
    pseudonymise_types: tuple[str, ...] = ("email-dst",)
    text_types: tuple[str, ...] = DEFAULT_TEXT_TYPES
    placeholder: str = "[REDACTED]"
    sightings: str = "noise"
    sightings_epsilon: float = 1.0
    sightings_step: int = 86400
    sightings_horizon: int = 32
    sightings_threshold: int = 5
    sighting_times: bool = False
    numeric_attributes: dict[str, NumericBounds] = field(
        default_factory=lambda: {k: NumericBounds(**v) for k, v in DEFAULT_NUMERIC.items()})
    numeric_epsilon: float = 0.25
    noise_times: bool = True
    time_epsilon: float = 0.5
    time_sensitivity: int = 3600
    time_window: int = 4 * 86400
    stats_epsilon: float = 1.0
    stats_delta: float = 1e-6
    stats_threshold: int = 10
    stats_max_keys: int = 4
    stats_tag_namespaces: tuple[str, ...] = DEFAULT_STATS_TAG_NAMESPACES
    stats_distribution: int = 1
    detectors: tuple[str, ...] = DETECTORS
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS
    partner_domains: tuple[str, ...] = ()
    internal_hostname_patterns: tuple[str, ...] = ()
    internal_hostnames: tuple[str, ...] = ()
    learn_hostnames_from_store: bool = True

    @classmethod
    def from_config(cls, config: Config) -> Policy:
        """The policy of ``[privacy]`` for ``[organisation]`` and ``[federation] name``, validated."""
        values = config.section("privacy")
        policy = cls(
            organisation=config.organisation,
            federation=config.section("federation")["name"],
            published_only=values["published_only"],
            min_distribution=values["min_distribution"],
            sharing_groups={k: tuple(v) for k, v in values["sharing_groups"].items()},
            block_tags=tuple(values["block_tags"]),
            drop_categories=tuple(values["drop_categories"]),
            drop_types=tuple(values["drop_types"]),
            drop_object_names=tuple(values["drop_object_names"]),
            pseudonymise_types=tuple(values["pseudonymise_types"]),
            text_types=tuple(values["text_types"]),
            placeholder=values["placeholder"],
            sightings=values["sightings"],
            sightings_epsilon=float(values["sightings_epsilon"]),
            sightings_step=int(parse_duration(values["sightings_step"])),
            sightings_horizon=values["sightings_horizon"],
            sightings_threshold=values["sightings_threshold"],
            sighting_times=values["sighting_times"],
            numeric_attributes={k: NumericBounds(**v) for k, v in values["numeric_attributes"].items()},
            numeric_epsilon=float(values["numeric_epsilon"]),
            noise_times=values["noise_times"],
            time_epsilon=float(values["time_epsilon"]),
            time_sensitivity=int(parse_duration(values["time_sensitivity"])),
            time_window=int(parse_duration(values["time_window"])),
            stats_epsilon=float(values["stats_epsilon"]),
            stats_delta=float(values["stats_delta"]),
            stats_threshold=values["stats_threshold"],
            stats_max_keys=values["stats_max_keys"],
            stats_tag_namespaces=tuple(values["stats_tag_namespaces"]),
            stats_distribution=values["stats_distribution"],
            detectors=tuple(values["detectors"]),
            phone_regions=tuple(r.upper() for r in values["phone_regions"]),
            partner_domains=tuple(values["partner_domains"]),
            internal_hostname_patterns=tuple(values["internal_hostname_patterns"]),
            internal_hostnames=tuple(values["internal_hostnames"]),
            learn_hostnames_from_store=values["learn_hostnames_from_store"],
        )
        return policy.validate()

    def validate(self) -> Policy:
        """Check every field; raise :class:`PolicyError` listing each bad one. Returns ``self``."""
        problems = [ConfigProblem(f"privacy.{name}", message) for name, message in _field_problems(self)]
        problems += [ConfigProblem(f"privacy.{name}", message) for name, message in _cross_field_problems(self)]
        if problems:
            raise PolicyError(f"the privacy policy has {len(problems)} problem(s):", problems)
        return self

    def params(self) -> dict[str, Any]:
        """The policy as plain data (for reports; the organisation's identifying details are left out)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            if item.name == "organisation":
                continue
            value = getattr(self, item.name)
            if item.name == "numeric_attributes":
                value = {k: vars(v) for k, v in value.items()}
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dict):
                value = {k: list(v) for k, v in value.items()}
            out[item.name] = value
        return out

    def detector_set(self) -> DetectorSet:
        """The built-in detectors this policy enables, with their settings."""
        return DetectorSet(enabled=frozenset(self.detectors), phone_regions=self.phone_regions,
                           partner_domains=self.partner_domains,
                           hostname_patterns=tuple(compile_hostname_pattern(p)
                                                   for p in self.internal_hostname_patterns),
                           hostnames=tuple(h.strip().lower() for h in self.internal_hostnames))

    def is_blocked_tag(self, name: str) -> bool:
        return name.strip().lower() in {t.lower() for t in self.block_tags}


def _field_problems(policy: Policy) -> list[tuple[str, str]]:
    problems = []
    if not 1 <= policy.min_distribution <= 3:
        problems.append(("min_distribution", f"must be 1, 2 or 3; got {policy.min_distribution}"))
    for name in ("sightings_epsilon", "numeric_epsilon", "time_epsilon", "stats_epsilon"):
        value = getattr(policy, name)
        if not (value > 0 and math.isfinite(value)):
            problems.append((name, f"must be a finite number > 0; got {value}"))
    if not 0 < policy.stats_delta < 0.01:
        problems.append(("stats_delta", f"must be in (0, 0.01); got {policy.stats_delta}"))
    if policy.sightings not in ("noise", "drop"):
        problems.append(("sightings", f"must be 'noise' or 'drop'; got {policy.sightings!r}"))
    if policy.sightings_horizon < 1 or policy.sightings_horizon & (policy.sightings_horizon - 1):
        problems.append(("sightings_horizon", f"must be a power of two; got {policy.sightings_horizon}"))
    if policy.sightings_step < 1:
        problems.append(("sightings_step", f"must be at least 1 second; got {policy.sightings_step}"))
    if policy.time_sensitivity < 1:
        problems.append(("time_sensitivity", f"must be at least 1 second; got {policy.time_sensitivity}"))
    if not policy.placeholder or policy.placeholder.strip() != policy.placeholder:
        problems.append(("placeholder", "must be non-empty without surrounding spaces"))
    for type_name, bounds in policy.numeric_attributes.items():
        if not (bounds.lower < bounds.upper and 0 < bounds.sensitivity <= bounds.upper - bounds.lower):
            problems.append((f"numeric_attributes.{type_name}", "needs lower < upper and 0 < sensitivity <= "
                             f"upper - lower; got {vars(bounds)}"))
    return problems


def _cross_field_problems(policy: Policy) -> list[tuple[str, str]]:
    problems = []
    if policy.time_window <= policy.time_sensitivity:
        problems.append(("time_window", f"must be longer than time_sensitivity ({policy.time_sensitivity} s); "
                         f"got {policy.time_window} s"))
    if policy.noise_times and policy.time_window > policy.time_sensitivity >= 1:
        scale = 2 * policy.time_sensitivity / policy.time_epsilon
        delta = 2 * truncated_end_delta(scale, policy.time_sensitivity, policy.time_window)
        if delta > MAX_TIME_DELTA:
            problems.append(("time_window", f"too short for the timestamp noise (scale {scale:g} s): the truncation "
                             f"costs δ = {delta:.2g} > {MAX_TIME_DELTA:g}; use at least "
                             f"{math.ceil(30 * scale / 86400)}d or a larger time_epsilon"))
    both = set(policy.drop_types) & set(policy.pseudonymise_types)
    if both:
        problems.append(("pseudonymise_types", f"{sorted(both)} are also in drop_types (they would be dropped)"))
    return problems

