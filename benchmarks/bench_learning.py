"""Benchmark the DP federated classifier against the issue's targets (issue 6).

Runs the whole ``paper`` preset (5 seeds: FL vs FL+DP, IID and label-skewed, ε sweep, 10 members, 1 of 5 Byzantine
members with DP on) once, timed, and reports:

* 4 members, ε ≤ 1.64 over all rounds, δ = 1e-5: accuracy ≥ 90 % and drop vs non-DP FedAvg ≤ 2 points;
* 10 members at ε = 1.64: accuracy ≥ 86 %;
* DP ε ≤ 3 with 1 of 5 members Byzantine (sign flip, ALIE): accuracy ≥ 85 % (Multi-Krum; FedAvg for reference);
* the whole preset in ≤ 60 s, and time per simulated round against a centralised non-private scikit-learn fit
  measured in the same run;
* informational: ε cross-check (dp-accounting PLD vs prv-accountant) and the membership-inference advantage.

    python -m benchmarks.bench_learning [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from typing import Any

from legion_misp.learning.accounting import prv_epsilon
from legion_misp.learning.experiment import PAPER_FL_ACCURACY, PAPER_FLDP_ACCURACY, PRESETS, run_experiment
from legion_misp.learning.simulation import plan_member

BENCH = "learning"


def _row(metric: str, value: float, unit: str, baseline: Any, ratio: Any, target: str, met: bool | None
         ) -> dict[str, Any]:
    return {"benchmark": BENCH, "metric": metric, "value": value, "unit": unit, "baseline": baseline,
            "ratio": ratio, "target": target, "met": met}


def _final(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    chosen = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    return max(chosen, key=lambda r: r["round"])


def _pct(row: dict[str, Any]) -> float:
    return round(100 * row["accuracy_mean"], 2)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Run the paper preset (``quick``: 2 seeds, Multi-Krum only) and return benchmark rows."""
    preset = PRESETS["paper"]
    if quick:
        preset = replace(preset, seeds=2, byzantine_aggregators=("multi-krum",))
    started = time.perf_counter()
    result = run_experiment(preset)
    seconds = time.perf_counter() - started
    rows, meta = result.rows, result.meta
    fl = _final(rows, group="main", setting="fl", partition="iid")
    dp = _final(rows, group="main", setting="fl+dp", partition="iid")
    dp_skew = _final(rows, group="main", setting="fl+dp", partition="label-skew")
    fl_skew = _final(rows, group="main", setting="fl", partition="label-skew")
    ten = _final(rows, group="members", setting="fl+dp", members=10)
    drop = round(_pct(fl) - _pct(dp), 2)
    paper_drop = round(PAPER_FL_ACCURACY - PAPER_FLDP_ACCURACY, 2)
    seeds = f"{preset.seeds} seeds"
    out = [
        _row(f"accuracy, 4 members, FL+DP IID, ε={dp['epsilon']:.3f} δ=1e-5 over all rounds ({seeds}, "
             f"± {100 * dp['accuracy_std']:.2f})", _pct(dp), "%", f"paper FL+DP {PAPER_FLDP_ACCURACY} (CAN data)",
             round(_pct(dp) / PAPER_FLDP_ACCURACY, 3), ">= 90", _pct(dp) >= 90 and dp["epsilon"] <= 1.64),
        _row(f"accuracy, 4 members, FL without DP, IID ({seeds}, ± {100 * fl['accuracy_std']:.2f})", _pct(fl),
             "%", f"paper FL {PAPER_FL_ACCURACY} (CAN data)", round(_pct(fl) / PAPER_FL_ACCURACY, 3), "info",
             None),
        _row("accuracy drop, FL -> FL+DP (4 members, ε=1.64)", drop, "points", f"paper drop {paper_drop}",
             round(drop / paper_drop, 3), "<= 2", drop <= 2),
        _row(f"accuracy, 4 members, label-skewed non-IID: FL {_pct(fl_skew)} vs FL+DP ε=1.64", _pct(dp_skew), "%",
             _pct(fl_skew), round(_pct(dp_skew) / _pct(fl_skew), 3), "info", None),
        _row(f"accuracy, 10 members, FL+DP IID, ε={ten['epsilon']:.3f}", _pct(ten), "%",
             _pct(_final(rows, group="members", setting="fl", members=10)), None, ">= 86", _pct(ten) >= 86),
    ]
    for behaviour in ("sign-flip", "alie"):
        for rule in preset.byzantine_aggregators:
            hit = [r for r in rows if r["group"] == "byzantine" and r["aggregator"] == rule and r["byzantine"]
                   and r["byzantine"]["behaviour"] == behaviour]
            if not hit:
                continue
            row = max(hit, key=lambda r: r["round"])
            clean = _final(rows, group="byzantine", aggregator=rule, byzantine=None)
            robust = rule == "multi-krum"
            out.append(_row(f"accuracy, 1 of 5 Byzantine ({behaviour}), {rule}, DP ε={row['epsilon']:.2f}",
                            _pct(row), "%", f"no attack {_pct(clean)}", round(_pct(row) / _pct(clean), 3),
                            ">= 85" if robust else "info", _pct(row) >= 85 if robust else None))
    for row in (r for r in rows if r["group"] == "byzantine" and r["aggregator"] == "multi-krum"
                and r["byzantine"] and r["byzantine"]["behaviour"] not in ("sign-flip", "alie")):
        if row["round"] == max(r["round"] for r in rows):
            out.append(_row(f"accuracy, 1 of 5 Byzantine ({row['byzantine']['behaviour']}), multi-krum, DP "
                            f"ε={row['epsilon']:.2f}", _pct(row), "%", None, None, "info", None))
    central_ms = 1000 * meta["central_sklearn_fit_seconds"]
    round_ms = 1000 * meta["seconds_per_round"]
    out += [
        _row(f"whole paper preset ({seeds}, {len(meta['scenarios'])} scenarios, "
             f"{meta['rounds_simulated']} rounds)", round(seconds, 1), "s", None, None,
             "<= 60" if not quick else "info (quick)", seconds <= 60 if not quick else None),
        _row("time per simulated round (all members, incl. evaluation and MI attack)", round(round_ms, 2), "ms",
             f"centralised non-private scikit-learn fit {central_ms:.1f} ms", round(round_ms / central_ms, 3),
             "info", None),
    ]
    plan = plan_member(len_train_member(meta), replace(preset.training, epsilon=1.64, delta=1e-5))
    total = plan.rounds * plan.steps_per_round
    _low, _estimate, high = prv_epsilon(plan.noise_multiplier, plan.sampling_rate, total, 1e-5)
    pld = plan.epsilon_after(plan.rounds)
    out.append(_row(f"ε cross-check for the 4-member plan (z={plan.noise_multiplier:.3f}, q={plan.sampling_rate:.3f}"
                    f", T={total}): dp-accounting PLD vs prv-accountant upper", round(pld, 4), "ε",
                    round(high, 4), round(pld / high, 4), "within 10 %", abs(pld - high) / high <= 0.10))
    out.append(_row("membership-inference advantage (loss threshold), FL+DP ε=1.64", round(dp["mi_advantage_mean"], 4),
                    "TPR-FPR", round(fl["mi_advantage_mean"], 4), None, "info (baseline: FL without DP)", None))
    return out


def len_train_member(meta: dict[str, Any]) -> int:
    """Training examples of one member of the 4-member split (what the preset's plans used)."""
    from legion_misp.learning.data import load_spambase
    from legion_misp.learning.experiment import prepare_seed

    return len(prepare_seed(load_spambase(), 0).train) // meta["preset"]["members"]


def main() -> None:
    """Print the rows as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(quick=args.quick), indent=1))


if __name__ == "__main__":
    main()
