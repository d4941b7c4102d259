"""``legion learn``: the compromised-message classifier trained by DP federated learning.

Subcommands: ``simulate`` (in-process federation), ``experiment`` (the paper's experiment, honestly), ``export``
(train and write the model file the MISP classify module loads) and ``flower`` (a real run on Flower's deployment
engine: SuperLink + one SuperNode per member as processes on 127.0.0.1, TLS and SuperNode authentication on).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import numpy as np

from ..learning.aggregators import Aggregator
from ..learning.data import SPAMBASE_DESCRIPTION, load_spambase
from ..learning.experiment import PRESETS, prepare_seed, run_experiment, write_outputs
from ..learning.flower_deploy import FlowerDeploymentError, deployment_data, run_local_deployment
from ..learning.model_io import ModelFile, save_model
from ..learning.simulation import (
    SimulationResult,
    TrainingConfig,
    build_federation,
    default_size_bound,
    member_ledgers,
    noise_provenance,
    secure_training_rng,
)
from ..privacy.ledger import BudgetExceeded, Ledger
from .progress import progress_bar

_COMMON = {"context_settings": {"help_option_names": ["-h", "--help"], "max_content_width": 110}}


@click.group(**_COMMON)
def learn() -> None:
    """Train and evaluate the compromised-message classifier with differentially private federated learning.

    \b
    Privacy unit: one training message of one member; ε and δ cover all rounds × local DP-SGD steps.
    """
    from .extras import require_extra

    require_extra("learning", "legion learn")


def _training_options(func: Any) -> Any:
    options = [
        click.option("--members", default=4, show_default=True, type=click.IntRange(1), help="Federation size."),
        click.option("--rounds", default=3, show_default=True, type=click.IntRange(1), help="Federated rounds."),
        click.option("--epsilon", default=1.64, show_default=True, type=click.FloatRange(0, min_open=True),
                     help="Target ε per member over all rounds."),
        click.option("--no-dp", is_flag=True, help="Train without differential privacy (baseline)."),
        click.option("--delta", default=1e-5, show_default=True, type=click.FloatRange(0, 1, min_open=True,
                                                                                          max_open=True)),
        click.option("--local-epochs", default=10, show_default=True, type=click.IntRange(1)),
        click.option("--batch-size", default=128, show_default=True, type=click.IntRange(1)),
        click.option("--clip-norm", default=0.5, show_default=True, type=click.FloatRange(0, min_open=True)),
        click.option("--accountant", type=click.Choice(["pld", "rdp"]), default="pld", show_default=True),
        click.option("--partition", type=click.Choice(["iid", "label-skew"]), default="iid", show_default=True),
        click.option("--size-bound", default=None, type=click.IntRange(1),
                     help="Declared PUBLIC bound on each member's number of training records: the DP-SGD schedule "
                          "is built on it, never on the exact size, which is never sent [default: an even share of "
                          "the bundled public training split]."),
        click.option("--seed", default=0, show_default=True, type=int,
                     help="Seed of the data split (and, except for `export`, of sampling and noise)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


_CONFIG_KEYS = ("members", "rounds", "epsilon", "no_dp", "delta", "local_epochs", "batch_size", "clip_norm",
                "accountant", "size_bound")


def _config(members: int, rounds: int, epsilon: float, no_dp: bool, delta: float, local_epochs: int,
            batch_size: int, clip_norm: float, accountant: str, size_bound: int) -> TrainingConfig:
    return TrainingConfig(rounds=rounds, local_epochs=local_epochs, batch_size=batch_size, clip_norm=clip_norm,
                          epsilon=None if no_dp else epsilon, delta=delta, accountant=accountant,
                          size_bound=size_bound)


def _ledgers(ledger_dir: str | None, budget: float) -> Callable[[str], Ledger] | None:
    """One SQLite ledger per member in ``ledger_dir`` (ε budget ``budget``), or none."""
    if ledger_dir is None:
        return None
    return member_ledgers(ledger_dir, budget)


def _run_simulation(opts: dict[str, Any], *, aggregator: str, byzantine: str | None, byzantine_count: int,
                    ledger_dir: str | None, budget: float, training_rng: np.random.Generator | None = None
                    ) -> tuple[SimulationResult, TrainingConfig, Aggregator]:
    splits = prepare_seed(load_spambase(), opts["seed"])
    bound = opts["size_bound"] or default_size_bound(splits, opts["members"])
    config = _config(**{k: opts[k] for k in _CONFIG_KEYS if k != "size_bound"}, size_bound=bound)
    rng = np.random.default_rng([opts["seed"], 1])
    federation = build_federation(splits, config, members=opts["members"], rng=rng, partition=opts["partition"],
                                  aggregator=aggregator, behaviour=byzantine, byzantine=byzantine_count,
                                  ledger_for=_ledgers(ledger_dir, budget))
    with progress_bar("federated rounds", config.rounds, unit="round") as bar:
        result = federation.train(config, splits, rng=training_rng if training_rng is not None else rng,
                                  on_round=lambda _round: bar.advance())
    return result, config, federation.aggregator


def _budget_error(err: Exception) -> click.ClickException:
    return click.ClickException(f"privacy budget: {err}")


@learn.command(**_COMMON)
@_training_options
@click.option("--aggregator", type=click.Choice(["fedavg", "median", "trimmed-mean", "multi-krum",
                                                 "norm-bounded-mean", "fltrust"]), default="fedavg",
              show_default=True)
@click.option("--byzantine", type=click.Choice(["sign-flip", "scaling", "gaussian", "label-flip", "alie"]),
              default=None, help="Behaviour of the Byzantine members (experiments only).")
@click.option("--byzantine-count", default=1, show_default=True, type=click.IntRange(0))
@click.option("--ledger-dir", type=click.Path(file_okay=False), default=None,
              help="Debit one SQLite privacy ledger per member in this folder.")
@click.option("--budget-epsilon", default=10.0, show_default=True, type=float,
              help="ε budget of each member's ledger (30-day window).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def simulate(aggregator: str, byzantine: str | None, byzantine_count: int, ledger_dir: str | None,
             budget_epsilon: float, as_json: bool, **opts: Any) -> None:
    """Run an in-process federation on the bundled (deduplicated) Spambase data and print per-round metrics.

    \b
    Example:
      legion learn simulate --members 4 --rounds 3 --epsilon 1.64
      legion learn simulate --members 5 --epsilon 3 --byzantine alie --aggregator multi-krum --json
    """
    try:
        result, config, rule = _run_simulation(opts, aggregator=aggregator, byzantine=byzantine,
                                               byzantine_count=byzantine_count if byzantine else 0,
                                               ledger_dir=ledger_dir, budget=budget_epsilon)
    except BudgetExceeded as err:
        raise _budget_error(err) from err
    rows = [{"round": r.round, "epsilon": r.epsilon, "threshold": r.threshold, **r.metrics} for r in result.rounds]
    if as_json:
        click.echo(json.dumps({"training": config.to_dict(), "aggregator": rule.describe(), "rounds": rows,
                               "plans": [p.to_dict() for p in result.plans]}, indent=1))
        return
    click.echo(f"{opts['members']} members, {opts['partition']}, aggregator {rule.describe()['name']}, "
               + ("no DP" if config.epsilon is None else f"target ε={config.epsilon} δ={config.delta:g} "
                  f"({config.accountant.upper()}, z={result.plans[0].noise_multiplier:.3f})"))
    for row in rows:
        eps = "-" if row["epsilon"] is None else f"{row['epsilon']:.3f}"
        click.echo(f"round {row['round']}: accuracy {100 * row['accuracy']:.2f} %  precision "
                   f"{100 * row['precision']:.2f}  recall {100 * row['recall']:.2f}  macro-F1 "
                   f"{100 * row['macro_f1']:.2f}  ε {eps}  confusion {row['confusion']}")


@learn.command(**_COMMON)
@click.option("--preset", type=click.Choice(["paper", "quick"]), default="paper", show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for results.json, results.md, run.json and the PNG plots.")
@click.option("--seeds", type=click.IntRange(1), default=None, help="Override the preset's number of seeds.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
def experiment(preset: str, out_dir: str, seeds: int | None, no_plots: bool) -> None:
    """Run the paper's experiment (4 members, 3 rounds, FL vs FL+DP) with honest evaluation.

    Deduplicated Spambase, threshold on a validation split, ≥ 5 seeds, IID and label-skewed partitions, an ε sweep,
    10 members, Byzantine members with DP on, and a membership-inference advantage. Writes DIR/results.json as
    {"rows": [...]}, DIR/results.md (side by side with the paper's 98.42 % / 85.98 %), DIR/run.json and plots.

    \b
    Example:
      legion learn experiment --preset paper --out results/
    """
    chosen = PRESETS[preset] if seeds is None else replace(PRESETS[preset], seeds=seeds)
    with progress_bar("experiment seeds", chosen.seeds, unit="seed") as bar:
        result = run_experiment(chosen, progress=lambda _line: bar.advance() if bar.shown else None)
    for path in write_outputs(result, out_dir, plots=not no_plots):
        click.echo(f"wrote {path}")
    for row in result.rows:
        if row["group"] == "main" and row["round"] == max(r["round"] for r in result.rows):
            eps = "-" if row["epsilon"] is None else f"{row['epsilon']:.2f}"
            click.echo(f"{row['setting']:6s} {row['partition']:10s} ε {eps:>5s}: accuracy "
                       f"{100 * row['accuracy_mean']:.2f} ± {100 * row['accuracy_std']:.2f} %")


@learn.command(**_COMMON)
@_training_options
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Model file to write (JSON; refuses to overwrite).")
@click.option("--aggregator", default="fedavg", show_default=True,
              type=click.Choice(["fedavg", "median", "trimmed-mean", "multi-krum", "norm-bounded-mean"]))
@click.option("--ledger-dir", type=click.Path(file_okay=False), default=None,
              help="Debit one SQLite privacy ledger per member in this folder.")
@click.option("--budget-epsilon", default=10.0, show_default=True, type=float)
@click.option("--test-seed", type=int, default=None,
              help="TESTS ONLY, NOT PRIVATE: a fixed seed for DP-SGD sampling and noise (the model file says so). "
                   "Without it the noise generator is seeded from the OS CSPRNG.")
def export(out_path: str, aggregator: str, ledger_dir: str | None, budget_epsilon: float, test_seed: int | None,
           **opts: Any) -> None:
    """Train the federation in-process on the bundled Spambase data and write the model file.

    The file (JSON with schema, sha256, ε, δ, data description, feature-extractor version and the threshold chosen
    on validation data) is what the MISP classify module loads; loading never executes code.

    \b
    Example:
      legion learn export --out spam-model.json --members 4 --rounds 3 --epsilon 1.64
    """
    if Path(out_path).exists():
        raise click.ClickException(f"{out_path} exists; refusing to overwrite")
    try:
        result, config, rule = _run_simulation(opts, aggregator=aggregator, byzantine=None, byzantine_count=0,
                                               ledger_dir=ledger_dir, budget=budget_epsilon,
                                               training_rng=secure_training_rng(test_seed))
    except BudgetExceeded as err:
        raise _budget_error(err) from err
    if test_seed is not None:
        click.echo("Warning: --test-seed given: the model's noise is NOT private (tests only).", err=True)
    final = result.rounds[-1]
    model = ModelFile.from_result(result, config, data=SPAMBASE_DESCRIPTION, training={
        **config.to_dict(), "members": opts["members"], "partition": opts["partition"],
        "aggregator": rule.describe(), "engine": "in-process simulation", "split_seed": opts["seed"],
        **noise_provenance(test_seed),
        "test_metrics": {k: v for k, v in final.metrics.items() if k != "confusion"}})
    digest = save_model(model, out_path)
    click.echo(f"wrote {out_path} (sha256 {digest}); test accuracy {100 * final.metrics['accuracy']:.2f} %, "
               + ("no DP" if final.epsilon is None else f"ε={final.epsilon:.3f} δ={config.delta:g}"))


@learn.command(**_COMMON)
@_training_options
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Folder for certificates, keys, logs and data (default: a new temporary folder).")
@click.option("--model-out", type=click.Path(dir_okay=False), default=None, help="Write the trained model here.")
@click.option("--aggregator", default="fedavg", show_default=True,
              type=click.Choice(["fedavg", "median", "trimmed-mean", "multi-krum", "norm-bounded-mean"]))
@click.option("--ledger-dir", type=click.Path(file_okay=False), default=None,
              help="Each SuperNode debits its own SQLite ledger in this folder.")
@click.option("--budget-epsilon", default=10.0, show_default=True, type=float)
@click.option("--timeout", default=900.0, show_default=True, type=float, help="Seconds before giving up.")
def flower(workdir: str | None, model_out: str | None, aggregator: str, ledger_dir: str | None,
           budget_epsilon: float, timeout: float, **opts: Any) -> None:
    """Run the federation on Flower's deployment engine on 127.0.0.1: one SuperLink and one SuperNode per member
    as separate processes, TLS and SuperNode authentication on, the same member update and aggregator code.

    Needs the federated extra: pip install 'legion-misp[federated]'. Takes about 30-40 s per round on 2 cores.

    \b
    Example:
      legion learn flower --members 3 --rounds 3 --epsilon 1.64 --model-out flower-model.json
    """
    parts, splits = deployment_data(opts["members"], partition=opts["partition"], seed=opts["seed"])
    bound = opts["size_bound"] or default_size_bound(splits, opts["members"])
    config = _config(**{k: opts[k] for k in _CONFIG_KEYS if k != "size_bound"}, size_bound=bound)
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="legion-flower-"))
    try:
        result = run_local_deployment(parts, splits, config, workdir=work, aggregator=aggregator,
                                      model_out=model_out, ledger_dir=ledger_dir, ledger_epsilon=budget_epsilon,
                                      timeout=timeout)
    except ImportError as err:
        raise click.ClickException(str(err)) from err
    except FlowerDeploymentError as err:
        raise click.ClickException(str(err)) from err
    for row in result.summary["rounds"]:
        eps = "-" if row["epsilon"] is None else f"{row['epsilon']:.3f}"
        click.echo(f"round {row['round']}: {row['members']} members, accuracy {100 * row['accuracy']:.2f} %, "
                   f"ε {eps}, {row['seconds']:.1f} s")
    click.echo(f"logs, certificates and keys in {work}" + (f"; model in {model_out}" if model_out else ""))


if __name__ == "__main__":
    learn()
