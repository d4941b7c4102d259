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
from .sharing_stage import HONEST, MALICIOUS

DEMO_EPSILON = 1.64
LEARNERS = [*HONEST, MALICIOUS]  # the learning members are the federation's members
DEMO_MEMBERS = len(LEARNERS)
SAMPLE_EMAIL = {"name": "email", "Attribute": [
    {"object_relation": "subject", "type": "email-subject", "value": "URGENT: your account will be closed"},
    {"object_relation": "email-body", "type": "email-body",
     "value": "Dear customer, click here to receive your FREE credit report!!! Order now, only $9.99 "
              "- remove me from this mailing list: reply with REMOVE."},
]}


PAPER_ACCURACY = {"FL, LegionITS paper (another dataset: CAN bus)": PAPER_FL_ACCURACY,
                  "FL+DP, LegionITS paper (another dataset: CAN bus)": PAPER_FLDP_ACCURACY}


def majority_baseline(labels: Any) -> float:
    """Accuracy (%) of always answering the most frequent class: what a classifier must beat."""
    labels = np.asarray(labels)
    return 100.0 * max(float(np.mean(labels == 1)), float(np.mean(labels == 0)))


def accuracy_figure(results: dict[str, Any], baseline: float) -> Any:
    """Accuracy per round for each setting, the majority-class baseline on the same test set, and the paper's two
    reported numbers (another dataset) as grey lines."""
    figure = new_figure()
    axes = figure.subplots()
    for name, result in results.items():
        rounds = [r.round for r in result.rounds]
        axes.plot(rounds, [100 * r.metrics["accuracy"] for r in result.rounds], marker="o",
                  label=f"{name} (this demo, Spambase test set)")
    axes.axhline(baseline, color="#a11", linestyle="-.", label=f"majority class, same test set ({baseline:.1f} %)")
    for (label, value), style in zip(PAPER_ACCURACY.items(), (":", "--"), strict=True):
        axes.axhline(value, linestyle=style, color="grey", label=label)
    axes.set_xticks([r.round for r in next(iter(results.values())).rounds])
    axes.set_xlabel("round")
    axes.set_ylabel("test accuracy (%)")
    axes.set_ylim(50, 100)
    axes.legend(loc="lower right", fontsize=8)
    return figure


def _ledgers(out: Path) -> Callable[[str], Ledger]:
    """Each member's own ledger file under the demo's output (ε budget 10), named after its federation pseudonym
    (build_federation numbers members member-1, member-2, ... in the order of :data:`LEARNERS`)."""
    return lambda member: Ledger(out / f"ledger-{LEARNERS[int(member.rsplit('-', 1)[1]) - 1]}.sqlite",
                                 budget_epsilon=10.0,
                                 budget_delta=LEARNING_DELTA_BUDGET)


def learning_stage(ctx: Any) -> Any:
    """Train 4 members for 3 rounds at ε = 1.64 (δ = 1e-5), compare with non-DP, export and reload the model,
    and score a sample MISP email object with it. Writes ``learning/model.json`` under the demo's output."""
    splits = prepare_seed(load_spambase(), 0)
    out = ctx.out_dir / "learning"
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for stale in out.glob("ledger-*.sqlite*"):
        stale.unlink()  # demo only: every demo run starts each member with a full budget
    bound = default_size_bound(splits, DEMO_MEMBERS)  # the declared public share, never a member's exact size
    configs = {"fl": TrainingConfig(epsilon=None, size_bound=bound),
               "fl+dp": TrainingConfig(epsilon=DEMO_EPSILON, size_bound=bound)}
    for name, config in configs.items():
        federation = build_federation(splits, config, members=DEMO_MEMBERS, rng=np.random.default_rng(1),
                                      ledger_for=_ledgers(out) if config.private else None)
        for participant, pseudonym in zip(federation.participants, LEARNERS, strict=True):
            participant.name = pseudonym  # the learning members are the federation's members
        results[name] = federation.train(config, splits, rng=np.random.default_rng(2))
    private = results["fl+dp"]
    model_path = out / "model.json"
    model_path.unlink(missing_ok=True)
    save_model(ModelFile.from_result(private, configs["fl+dp"], data=SPAMBASE_DESCRIPTION, training={
        "members": DEMO_MEMBERS, "rounds": 3, "engine": "in-process simulation"}), model_path)
    score = float(load_model(model_path).predict_proba(spambase_features_from_misp(SAMPLE_EMAIL))[0])
    rows = [(f"accuracy, {name}", f"{100 * r.rounds[-1].metrics['accuracy']:.2f} % (test, deduplicated Spambase)")
            for name, r in results.items()]
    baseline = majority_baseline(splits.test.y)
    rows += [("majority-class baseline", f"{baseline:.2f} % (always the most frequent class of the test set)"),
             ("members who trained", f"{', '.join(LEARNERS)} ({MALICIOUS} trained too, with honest updates)"),
             ("ε spent per member", f"{private.rounds[-1].epsilon:.3f} over 3 rounds (δ = 1e-5, PLD)"),
             ("model file", str(model_path)), ("sample MISP email scored", f"P(spam) = {score:.3f}")]
    section = ctx.report.section("DP federated learning of the compromised-message classifier")
    ctx.report.paragraph(section, f"The federation's {DEMO_MEMBERS} members ({', '.join(LEARNERS)}) each trained "
                                  "logistic regression with DP-SGD on their own share of the data for 3 rounds; "
                                  f"{MALICIOUS}, the member that attacked the sharing above, trained too and sent "
                                  "honest updates (its attacks in this demo target sharing; `legion learn simulate "
                                  "--byzantine` shows robust aggregation against bad updates). Each member debited "
                                  "its own privacy ledger; the threshold was chosen on validation data. Privacy "
                                  "unit: one training message of one member.")
    ctx.report.table(section, ["what", "value"], [list(r) for r in rows])
    ctx.report.figure(section, accuracy_figure(results, baseline), "Test accuracy per round, with and without DP, "
                      "against the majority-class baseline of the same test set. The grey lines are the LegionITS "
                      "paper's reported accuracies on another dataset (CAN-bus frames, not Spambase; its ε covered "
                      "one round only): context, not a comparison.", png_path=out / "accuracy-per-round.png")
    ctx.data["model_path"] = model_path
    ctx.data["learning_results"] = results
    return StageResult("learning", rows, ok=True)
