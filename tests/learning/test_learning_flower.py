"""One real deployment on Flower 1.42: SuperLink + 3 SuperNodes as separate processes on 127.0.0.1, TLS and
SuperNode authentication on, the same member update and aggregator code as the simulation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from legion_misp.learning.data import load_spambase, partition_iid, stratified_split
from legion_misp.learning.model_io import load_model
from legion_misp.learning.simulation import LEDGER_SCOPE

pytest.importorskip("flwr")
flower_deploy = pytest.importorskip("legion_misp.learning.flower_deploy")

MEMBERS, ROUNDS, EPSILON = 3, 2, 1.64  # 2 rounds: each Flower round costs ~15-20 s of process start-up


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_three_members_train_over_tls(tmp_path: Path) -> None:
    from legion_misp.privacy.ledger import Ledger

    rng = np.random.default_rng(11)
    splits = stratified_split(load_spambase(), rng=rng)
    parts = partition_iid(splits.train, MEMBERS, rng)
    work = tmp_path / "flower"
    data = flower_deploy.write_member_data(work / "data", parts)
    eval_path = flower_deploy.write_eval_data(work / "data" / "eval.npz", splits)
    app = flower_deploy.write_flower_app(work / "app")
    model_path, summary_path = work / "model.json", work / "summary.json"
    run_config = {
        "num-server-rounds": ROUNDS, "epsilon": EPSILON, "min-nodes": MEMBERS, "eval-path": str(eval_path),
        "summary-path": str(summary_path), "model-out": str(model_path),
    }
    deployment = flower_deploy.LocalDeployment(work, data, ledger_dir=tmp_path / "ledgers", seed=3)
    pids: list[int] = []
    try:
        deployment.start()
        pids = [p.popen.pid for p in deployment.processes]
        assert len(pids) == MEMBERS + 1
        deployment.run_app(app, run_config, timeout=600)
    finally:
        deployment.stop()
    assert pids and not any(alive(pid) for pid in pids)  # every process we started is gone

    tls = (work / "logs" / "superlink.log").read_text()
    assert "https://127.0.0.1" in tls  # the SuperLink served TLS only
    summary = json.loads(summary_path.read_text())
    rounds = summary["rounds"]
    assert [r["round"] for r in rounds] == list(range(1, ROUNDS + 1)) and all(r["members"] == MEMBERS for r in rounds)
    assert all(not r["rejected"] for r in rounds)
    assert rounds[0]["epsilon"] < rounds[-1]["epsilon"] <= EPSILON
    assert rounds[-1]["accuracy"] > 0.87

    model = load_model(model_path)
    assert model.epsilon == pytest.approx(rounds[-1]["epsilon"]) and model.training["engine"] == "flower-1.42"
    test_accuracy = np.mean(model.predict(splits.test.X) == splits.test.y)
    assert test_accuracy == pytest.approx(rounds[-1]["accuracy"])

    for k in range(1, MEMBERS + 1):  # each SuperNode debited its own ledger, once per round
        ledger = Ledger(tmp_path / "ledgers" / f"member-{k}.sqlite", budget_epsilon=10.0)
        spent, _ = ledger.spent(scope=LEDGER_SCOPE)
        assert len(ledger.entries()) == ROUNDS
        assert spent == pytest.approx(rounds[-1]["epsilon"], rel=1e-6)
