"""The learning stage of ``legion demo``: a DP federated run in-process, its model file and the MISP scoring path.

To register it, the demo's ``STAGES`` list gets one entry:
``("Train the compromised-message classifier with DP federated learning", learning_stage)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..learning.aggregators import FedAvg
from ..learning.data import SPAMBASE_DESCRIPTION, load_spambase, partition_iid
from ..learning.experiment import prepare_seed
from ..learning.features import spambase_features_from_misp
from ..learning.model_io import ModelFile, load_model, save_model
from ..learning.simulation import LEARNING_DELTA_BUDGET, Member, TrainingConfig, plan_member, simulate

DEMO_MEMBERS, DEMO_EPSILON = 4, 1.64
SAMPLE_EMAIL = {"name": "email", "Attribute": [
    {"object_relation": "subject", "type": "email-subject", "value": "URGENT: your account will be closed"},
    {"object_relation": "email-body", "type": "email-body",
     "value": "Dear customer, click here to receive your FREE credit report!!! Order now, only $9.99 "
              "- remove me from this mailing list: reply with REMOVE."},
]}


PAPER_ACCURACY = {"FL (paper, CAN)": 98.42, "FL+DP (paper, CAN)": 85.98}


def accuracy_figure(results: dict[str, Any]) -> Any:
    """Accuracy per round for each setting, with the paper's two reported numbers as horizontal lines."""
    from legion_misp.demo.report import new_figure

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


def learning_stage(ctx: Any) -> Any:
    """Train 4 members for 3 rounds at ε = 1.64 (δ = 1e-5), compare with non-DP, export and reload the model,
    and score a sample MISP email object with it. Writes ``learning/model.json`` under the demo's output."""
    from legion_misp.demo import StageResult
    from legion_misp.privacy.ledger import Ledger

    splits = prepare_seed(load_spambase(), 0)
    out = ctx.out_dir / "learning"
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for stale in out.glob("ledger-member-*.sqlite*"):
        stale.unlink()  # demo only: every demo run starts each member with a full budget
    for name, epsilon in (("fl", None), ("fl+dp", DEMO_EPSILON)):
        config = TrainingConfig(epsilon=epsilon, size_bound=-(-len(splits.train.y) // DEMO_MEMBERS))  # public share
        parts = partition_iid(splits.train, DEMO_MEMBERS, np.random.default_rng(1))
        members = [
            Member(f"member-{k}", p.X, p.y, plan_member(len(p), config),
                   ledger=Ledger(out / f"ledger-member-{k}.sqlite", budget_epsilon=10.0,
                                 budget_delta=LEARNING_DELTA_BUDGET) if epsilon else None)
            for k, p in enumerate(parts, start=1)
        ]
        results[name] = simulate(members, config, FedAvg(), validation=splits.validation, test=splits.test,
                                 rng=np.random.default_rng(2))
    private = results["fl+dp"]
    model_path = out / "model.json"
    model_path.unlink(missing_ok=True)
    save_model(ModelFile(coef=private.weights[:-1], intercept=float(private.weights[-1]),
                         threshold=private.threshold, epsilon=private.rounds[-1].epsilon, delta=1e-5,
                         accountant="pld", data=SPAMBASE_DESCRIPTION,
                         training={"members": DEMO_MEMBERS, "rounds": 3, "engine": "in-process simulation"}),
               model_path)
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
