"""The learning stage of ``legion demo``: a DP federated run in-process, its model file and the MISP scoring path.

To register it, the demo's ``STAGES`` list gets one entry:
``("Train the compromised-message classifier with DP federated learning", learning_stage)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..learning.data import SPAMBASE_DESCRIPTION, load_spambase
from ..learning.experiment import PAPER_FL_ACCURACY, PAPER_FLDP_ACCURACY, prepare_seed
from ..learning.features import spambase_features_from_misp
from ..learning.model_io import ModelFile, load_model, save_model
from ..learning.simulation import LEARNING_DELTA_BUDGET, TrainingConfig, build_federation, default_size_bound
from ..privacy.ledger import Ledger
from . import StageResult
from .report import new_figure

DEMO_MEMBERS, DEMO_EPSILON = 4, 1.64
SAMPLE_EMAIL = {"name": "email", "Attribute": [
    {"object_relation": "subject", "type": "email-subject", "value": "URGENT: your account will be closed"},
    {"object_relation": "email-body", "type": "email-body",
     "value": "Dear customer, click here to receive your FREE credit report!!! Order now, only $9.99 "
              "- remove me from this mailing list: reply with REMOVE."},
]}


PAPER_ACCURACY = {"FL (paper, CAN)": PAPER_FL_ACCURACY, "FL+DP (paper, CAN)": PAPER_FLDP_ACCURACY}


def accuracy_figure(results: dict[str, Any]) -> Any:
    """Accuracy per round for each setting, with the paper's two reported numbers as horizontal lines."""
    figure = new_figure()
    axes = figure.subplots()
    for name, result in results.items():
        rounds = [r.round for r in result.rounds]
        axes.plot(rounds, [100 * r.metrics["accuracy"] for r in result.rounds], marker="o",
                  label=f"{name} (this demo, Spambase)")
    for (label, value), style in zip(PAPER_ACCURACY.items(), (":", "--"), strict=True):
        axes.axhline(value, linestyle=style, color="grey", label=label)
    axes.set_xticks([r.round for r in next(iter(results.values())).rounds])
    axes.set_xlabel("round")
    axes.set_ylabel("test accuracy (%)")
    axes.set_ylim(50, 100)
    axes.legend(loc="lower right", fontsize=8)
    return figure


def _ledgers(out: Path) -> Callable[[str], Ledger]:
    """Each member's own ledger file under the demo's output (ε budget 10)."""
    return lambda member: Ledger(out / f"ledger-{member}.sqlite", budget_epsilon=10.0,
                                 budget_delta=LEARNING_DELTA_BUDGET)


def learning_stage(ctx: Any) -> Any:
    """Train 4 members for 3 rounds at ε = 1.64 (δ = 1e-5), compare with non-DP, export and reload the model,
    and score a sample MISP email object with it. Writes ``learning/model.json`` under the demo's output."""
    splits = prepare_seed(load_spambase(), 0)
    out = ctx.out_dir / "learning"
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for stale in out.glob("ledger-member-*.sqlite*"):
        stale.unlink()  # demo only: every demo run starts each member with a full budget
    bound = default_size_bound(splits, DEMO_MEMBERS)  # the declared public share, never a member's exact size
    configs = {"fl": TrainingConfig(epsilon=None, size_bound=bound),
               "fl+dp": TrainingConfig(epsilon=DEMO_EPSILON, size_bound=bound)}
    for name, config in configs.items():
        federation = build_federation(splits, config, members=DEMO_MEMBERS, rng=np.random.default_rng(1),
                                      ledger_for=_ledgers(out) if config.private else None)
        results[name] = federation.train(config, splits, rng=np.random.default_rng(2))
    private = results["fl+dp"]
    model_path = out / "model.json"
    model_path.unlink(missing_ok=True)
    save_model(ModelFile.from_result(private, configs["fl+dp"], data=SPAMBASE_DESCRIPTION, training={
        "members": DEMO_MEMBERS, "rounds": 3, "engine": "in-process simulation"}), model_path)
    score = float(load_model(model_path).predict_proba(spambase_features_from_misp(SAMPLE_EMAIL))[0])
    rows = [(f"accuracy, {name}", f"{100 * r.rounds[-1].metrics['accuracy']:.2f} % (test, deduplicated Spambase)")
            for name, r in results.items()]
    rows += [("ε spent per member", f"{private.rounds[-1].epsilon:.3f} over 3 rounds (δ = 1e-5, PLD)"),
             ("model file", str(model_path)), ("sample MISP email scored", f"P(spam) = {score:.3f}")]
    section = ctx.report.section("DP federated learning of the compromised-message classifier")
    ctx.report.paragraph(section, f"{DEMO_MEMBERS} members trained logistic regression with DP-SGD for 3 rounds; "
                                  "each debited its own privacy ledger; the threshold was chosen on validation "
                                  "data. Privacy unit: one training message of one member.")
    ctx.report.table(section, ["what", "value"], [list(r) for r in rows])
    ctx.report.figure(section, accuracy_figure(results), "Test accuracy per round, with and without DP, beside "
                      "the LegionITS paper's reported accuracies (different data: CAN frames there, Spambase here; "
                      "the paper's ε covered one round only).", png_path=out / "accuracy-per-round.png")
    ctx.data["model_path"] = model_path
    ctx.data["learning_results"] = results
    return StageResult("learning", rows, ok=True)
