"""Flower 1.42 ServerApp and ClientApp over the same member update and aggregator code as the simulation.

Import this module only when ``flwr`` is installed (``pip install 'legion-misp[federated]'``); everything else in
:mod:`legion_misp.learning` works without it. The deployment helpers in :mod:`.flower_deploy` write a tiny Flower
app directory whose components point here.

Client (one per member, run by its SuperNode). Node config keys:

* ``data-path`` (required): the member's ``.npz`` with raw features ``X`` and labels ``y`` (loaded with
  ``allow_pickle=False``);
* ``member-id``: the name used in ledger entries;
* ``ledger-path`` / ``ledger-epsilon`` (optional): the member's SQLite privacy ledger and its ε budget; the whole
  run is checked against it before round 1 and every round is debited before its update leaves;
* ``seed`` (optional, tests only): seeds the sampling and noise; production draws from the operating system.

Server: the round loop, one :class:`~.aggregators.Aggregator` per run, evaluation of each round on server-held
validation/test data (threshold chosen on validation), and the exported model file.

Privacy: every member calibrates and applies its own DP-SGD noise before anything leaves its SuperNode, so the
guarantee (record-level, per member, ε and δ over all rounds) does not depend on the SuperLink or the ServerApp.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from .aggregators import make_aggregator
from .data import Dataset
from .dpsgd import augment
from .model_io import ModelFile, save_model
from .preprocessing import get_preprocessor
from .simulation import (
    LEARNING_DELTA_BUDGET,
    MemberPlan,
    TrainingConfig,
    check_budget,
    debit_round,
    evaluate,
    local_update,
    plan_member,
)

try:
    from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the Flower deployment needs flwr 1.42: pip install 'legion-misp[federated]'"
    ) from err

log = logging.getLogger("flwr")  # shown by `flwr run --stream`
PREPROCESSOR = "spambase-v1"

client_app = ClientApp()
server_app = ServerApp()


# ---------------------------------------------------------------------------------------------------- client side


def load_member_data(path: str | Path, preprocessor: str = PREPROCESSOR) -> Dataset:
    """Read a member's ``.npz`` (arrays ``X`` raw features, ``y`` labels), preprocess and append the bias."""
    with np.load(path, allow_pickle=False) as archive:
        X, y = archive["X"], archive["y"]
    return Dataset(augment(get_preprocessor(preprocessor).transform(X)), y.astype(int))


def _open_ledger(node_config: dict[str, Any]) -> Any:
    if not node_config.get("ledger-path"):
        return None
    from legion_misp.privacy.ledger import Ledger  # a process per round: only members with a ledger pay for it

    return Ledger(str(node_config["ledger-path"]), budget_epsilon=float(node_config.get("ledger-epsilon", 10.0)),
                  budget_delta=float(node_config.get("ledger-delta", LEARNING_DELTA_BUDGET)))


def _member_plan(context: Context, n_examples: int, config: TrainingConfig) -> MemberPlan:
    """Calibrate once (round 1) and keep the plan in the node's state: later rounds skip the accountant."""
    key = "legion-plan"
    stored = context.state.get(key)
    if stored is not None:
        plan = MemberPlan.from_dict(json.loads(str(stored["plan"])))
        if plan.size_bound == config.size_bound and plan.rounds == config.rounds:
            return plan
    plan = plan_member(n_examples, config)
    context.state[key] = ConfigRecord({"plan": json.dumps(plan.to_dict())})
    return plan


@client_app.train()
def train(msg: Message, context: Context) -> Message:
    """One round of local DP-SGD on this member's data; debit the ledger; reply with the update."""
    node = context.node_config
    settings = msg.content["config"]
    round_number = int(settings["server-round"])
    config = TrainingConfig.from_dict(json.loads(str(settings["training"])))
    data = load_member_data(str(node["data-path"]))
    plan = _member_plan(context, len(data), config)
    member = str(node.get("member-id", f"node-{context.node_id}"))
    ledger = _open_ledger(node)
    if ledger is not None and round_number == 1:
        check_budget(ledger, plan)
    seed = node.get("seed")
    rng = np.random.default_rng(None if seed is None else [int(seed), round_number])
    global_weights = msg.content["arrays"]["weights"].numpy()
    update = local_update(global_weights, data.X, data.y, plan, config, rng)
    if ledger is not None:
        debit_round(ledger, plan, member, round_number)
    spent = plan.epsilon_after(round_number)
    # the declared public bound, never the exact private size
    metrics = {"num-examples": plan.size_bound, "epsilon": -1.0 if spent is None else float(spent)}
    content = RecordDict({"arrays": ArrayRecord({"update": Array(update)}), "metrics": MetricRecord(metrics)})
    return Message(content=content, reply_to=msg)


# ---------------------------------------------------------------------------------------------------- server side


def training_config(run_config: dict[str, Any]) -> TrainingConfig:
    """TrainingConfig from the run config (``epsilon`` ≤ 0 means no DP)."""
    epsilon = float(run_config.get("epsilon", 1.64))
    return TrainingConfig(
        rounds=int(run_config.get("num-server-rounds", 3)),
        local_epochs=int(run_config.get("local-epochs", 10)),
        batch_size=int(run_config.get("batch-size", 128)),
        learning_rate=float(run_config.get("learning-rate", 2.0)),
        momentum=float(run_config.get("momentum", 0.9)),
        clip_norm=float(run_config.get("clip-norm", 0.5)),
        l2=float(run_config.get("l2", 1e-4)),
        epsilon=epsilon if epsilon > 0 else None,
        delta=float(run_config.get("delta", 1e-5)),
        accountant=str(run_config.get("accountant", "pld")),
    )


def _wait_for_nodes(grid: Grid, wanted: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= wanted or time.monotonic() > deadline:
            return nodes
        time.sleep(1.0)


def _valid_updates(replies: list[Message], n_params: int) -> tuple[np.ndarray, np.ndarray, list[float], list[str]]:
    updates, sizes, epsilons, rejected = [], [], [], []
    for reply in replies:
        node = reply.metadata.src_node_id
        if reply.has_error():
            rejected.append(f"node {node}: error {reply.error.reason}")
            continue
        update = np.asarray(reply.content["arrays"]["update"].numpy(), dtype=float)
        metrics = reply.content["metrics"]
        n = float(metrics["num-examples"])
        if update.shape != (n_params,) or not np.all(np.isfinite(update)) or n <= 0:
            rejected.append(f"node {node}: malformed update (shape {update.shape}, num-examples {n})")
            continue
        updates.append(update)
        sizes.append(n)
        epsilons.append(float(metrics["epsilon"]))
    return np.array(updates), np.array(sizes), epsilons, rejected


def _load_eval(path: str) -> tuple[Dataset, Dataset]:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in ("X_val", "y_val", "X_test", "y_test")}
    prep = get_preprocessor(PREPROCESSOR)
    return (
        Dataset(augment(prep.transform(arrays["X_val"])), arrays["y_val"].astype(int)),
        Dataset(augment(prep.transform(arrays["X_test"])), arrays["y_test"].astype(int)),
    )


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    """Round loop: send the global model, check replies, aggregate, evaluate, write summary and model file."""
    run = context.run_config
    config = training_config(run)
    validation, test = _load_eval(str(run["eval-path"]))
    n_params = validation.X.shape[1]
    aggregator = make_aggregator(str(run.get("aggregator", "fedavg")), byzantine=int(run.get("byzantine-f", 1)))
    nodes = _wait_for_nodes(grid, int(run.get("min-nodes", 2)), float(run.get("node-wait-seconds", 120)))
    weights = np.zeros(n_params)
    history: list[dict[str, Any]] = []
    epsilon_spent: float | None = None
    for round_number in range(1, config.rounds + 1):
        started = time.monotonic()
        content = RecordDict({
            "arrays": ArrayRecord({"weights": Array(weights)}),
            "config": ConfigRecord({"server-round": round_number, "training": json.dumps(config.to_dict())}),
        })
        messages = [Message(content=content, dst_node_id=node, message_type="train", group_id=str(round_number))
                    for node in nodes]
        replies = list(grid.send_and_receive(messages, timeout=float(run.get("round-timeout", 300))))
        updates, sizes, epsilons, rejected = _valid_updates(replies, n_params)
        for reason in rejected:
            log.warning("round %d: rejected %s", round_number, reason)
        if len(updates) < int(run.get("min-nodes", 2)):
            raise RuntimeError(f"round {round_number}: only {len(updates)} valid updates; no model produced")
        weights = weights + aggregator.aggregate(updates, sizes, global_weights=weights)
        threshold, metrics = evaluate(weights, validation, test)
        epsilon_spent = None if config.epsilon is None else max(epsilons)
        seconds = time.monotonic() - started
        history.append({"round": round_number, "members": len(updates), "rejected": rejected,
                        "epsilon": epsilon_spent, "threshold": threshold, "seconds": seconds, **metrics})
        log.info("round %d: accuracy %.4f, epsilon %s, %.1f s", round_number, metrics["accuracy"], epsilon_spent,
                 seconds)
    _write_outputs(run, config, weights, history, aggregator.describe(), len(nodes), epsilon_spent)


def _write_outputs(run: dict[str, Any], config: TrainingConfig, weights: np.ndarray,
                   history: list[dict[str, Any]], aggregator: dict[str, Any], members: int,
                   epsilon_spent: float | None) -> None:
    summary = {"rounds": history, "training": config.to_dict(), "aggregator": aggregator, "members": members,
               "weights": [float(w) for w in weights]}
    if run.get("summary-path"):
        Path(str(run["summary-path"])).write_text(json.dumps(summary, indent=1) + "\n")
    if run.get("model-out"):
        model = ModelFile.from_weights(
            weights, threshold=float(history[-1]["threshold"]), epsilon=epsilon_spent, config=config,
            data=str(run.get("data-description", "members' own messages")),
            training={**config.to_dict(), "members": members, "aggregator": aggregator, "engine": "flower-1.42"},
        )
        save_model(model, str(run["model-out"]))
