"""`legion learn` commands through click's CliRunner (reduced presets; the full preset is the benchmark's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from legion_misp.cli.learn_cmd import learn
from legion_misp.learning.model_io import load_model

ROW_KEYS = {"setting", "members", "byzantine", "epsilon", "delta", "round", "accuracy_mean", "accuracy_std",
            "precision_mean", "recall_mean", "f1_mean", "macro_f1_mean", "mi_advantage_mean"}


@pytest.mark.parametrize("command", ["simulate", "experiment", "export", "flower"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(learn, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and f"legion learn {command}" in result.output


def test_experiment_quick_preset_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "exp"
    result = CliRunner().invoke(learn, ["experiment", "--preset", "quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert set(json.loads((out / "results.json").read_text())) == {"rows"}
    assert rows and all(ROW_KEYS <= set(r) for r in rows)
    for r in rows:
        assert 0.5 < r["accuracy_mean"] <= 1.0 and r["accuracy_std"] >= 0.0
        assert r["round"] in (1, 2, 3)
        if r["setting"] == "fl":
            assert r["epsilon"] is None and r["byzantine"] is None
        else:
            assert r["setting"] == "fl+dp" and 0 < r["epsilon"] <= r["target_epsilon"] + 1e-9
            assert r["delta"] == 1e-5
    dp = [r for r in rows if r["group"] == "main" and r["setting"] == "fl+dp"]
    assert [r["round"] for r in dp] == [1, 2, 3] and dp[0]["epsilon"] < dp[2]["epsilon"]
    byz = [r for r in rows if r["byzantine"]]
    assert byz and byz[0]["byzantine"] == {"behaviour": "sign-flip", "count": 1} and byz[0]["members"] == 5
    final_dp = dp[-1]["accuracy_mean"]
    final_fl = [r for r in rows if r["group"] == "main" and r["setting"] == "fl"][-1]["accuracy_mean"]
    assert final_dp > 0.85 and final_fl > 0.88
    report = (out / "results.md").read_text()
    assert "98.42" in report and "85.98" in report and "different" in report
    for png in ("accuracy_per_round.png", "accuracy_vs_epsilon.png", "byzantine.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_and_export(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(learn, ["simulate", "--members", "3", "--rounds", "2", "--local-epochs", "2",
                                   "--epsilon", "2", "--json", "--ledger-dir", str(tmp_path / "ledgers")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [r["round"] for r in report["rounds"]] == [1, 2]
    assert report["rounds"][-1]["epsilon"] <= 2.0 and len(report["plans"]) == 3
    assert sorted(p.name for p in (tmp_path / "ledgers").glob("*.sqlite")) == [
        "member-1.sqlite", "member-2.sqlite", "member-3.sqlite"]
    refused = runner.invoke(learn, ["simulate", "--members", "3", "--rounds", "2", "--epsilon", "2",
                                    "--ledger-dir", str(tmp_path / "ledgers"), "--budget-epsilon", "3"])
    assert refused.exit_code != 0 and "budget" in refused.output
    model_path = tmp_path / "model.json"
    result = runner.invoke(learn, ["export", "--out", str(model_path), "--rounds", "2", "--local-epochs", "2"])
    assert result.exit_code == 0, result.output
    model = load_model(model_path)
    assert model.epsilon is not None and model.epsilon <= 1.64 and model.delta == 1e-5
    assert "Spambase" in model.data and model.training["test_metrics"]["accuracy"] > 0.85
    again = runner.invoke(learn, ["export", "--out", str(model_path)])
    assert again.exit_code != 0 and "refusing to overwrite" in again.output


def test_flower_is_optional_and_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    monkeypatch.delitem(sys.modules, "legion_misp.learning.flower_app", raising=False)
    monkeypatch.setitem(sys.modules, "flwr.app", None)  # as if flwr were not installed
    with pytest.raises(ImportError, match=r"pip install 'legion-misp\[federated\]'"):
        importlib.import_module("legion_misp.learning.flower_app")
    from legion_misp.learning import flower_deploy

    monkeypatch.setattr(flower_deploy.shutil, "which", lambda name: None)
    monkeypatch.setattr(flower_deploy.sys, "executable", "/nonexistent/python")
    with pytest.raises(ImportError, match=r"legion-misp\[federated\]"):
        flower_deploy.flower_executable("flwr")


def test_export_never_uses_a_fixed_seed_unless_a_labelled_test_seed(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--rounds", "1", "--local-epochs", "1", "--members", "2"]
    paths = [tmp_path / f"m{i}.json" for i in range(3)]
    for path in paths[:2]:
        assert runner.invoke(learn, ["export", "--out", str(path), *args]).exit_code == 0
    first, second = (load_model(p) for p in paths[:2])
    assert list(first.coef) != list(second.coef)  # same options, fresh secure noise each time
    assert first.training["noise_private"] is True and "CSPRNG" in first.training["noise"]
    result = runner.invoke(learn, ["export", "--out", str(paths[2]), "--test-seed", "4", *args])
    assert result.exit_code == 0 and "NOT private" in result.output
    seeded = load_model(paths[2])
    assert seeded.training["noise_private"] is False and "NOT PRIVATE" in seeded.training["noise"]


def test_the_dp_sgd_schedule_depends_on_the_declared_bound_not_on_the_private_size() -> None:
    from legion_misp.learning.simulation import LEARNING_DELTA_BUDGET, TrainingConfig, check_budget, plan_member
    from legion_misp.privacy.ledger import BudgetExceeded, Ledger

    config = TrainingConfig(epsilon=2.0, rounds=2, local_epochs=2, size_bound=800)
    small, large = plan_member(517, config), plan_member(799, config)
    assert small == large and small.size_bound == 800
    assert 517 not in small.to_dict().values() and 799 not in large.to_dict().values()
    assert small.sampling_rate == pytest.approx(config.batch_size / 800)
    # learning ledgers bound δ too: a run asking for more δ than the window allows is refused before training
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger(Path(folder) / "m.sqlite", budget_epsilon=10.0, budget_delta=LEARNING_DELTA_BUDGET)
        with pytest.raises(BudgetExceeded, match="δ"):
            check_budget(ledger, plan_member(500, TrainingConfig(epsilon=2.0, delta=2e-4, size_bound=800)))
