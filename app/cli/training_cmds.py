"""`onset train`, `onset tune`, `onset predict`, `onset evaluate`.

TensorFlow loads inside the commands only, so `onset --help` stays fast.
"""

from pathlib import Path

import typer
from rich.markup import escape

from app.cli.common import err_console, fail, print_json
from app.cli.root import cli
from app.cli.spec_options import help_text, spec_from_cli, spec_options
from app.services.training_specs import TrainSpec, TuneSpec

_DATASET_HELP = "An export folder or .zip (manifest.csv + dataset.json + images/)."
_RUN_HELP = "A run folder written by `onset train` or `onset tune` (holds model.keras)."
def _log(message: str) -> None:
    err_console.print(f"[bold]»[/] {escape(message)}", highlight=False)


@cli.command("train")
@spec_options(TrainSpec, skip=("dataset",))
def train_command(
    dataset: Path = typer.Argument(..., help=_DATASET_HELP),
    out: Path = typer.Option(None, "--out", help="Where run folders are created (default: "
                             "$ONSET_DATA_DIR/runs, where the web app lists runs)."),
    as_json: bool = typer.Option(False, "--json", help="Print metrics and the run folder as "
                                 "JSON on stdout (Keras's epoch lines are then silenced)."),
    options: dict | None = None, spec_file: Path | None = None,
) -> None:
    """Cross-validate a CNN over the export's subject-grouped folds, then fit a final model.

    Writes runs/<id>/: config.json, labels.json, model.keras, metrics.json, history.csv, progress.jsonl and out-of-fold predictions.csv.
    """  # noqa: E501 (one line per paragraph: the help renderer keeps line breaks)
    if options["preset"] and options["config"]:
        fail("give either --preset or --config, not both")
    spec = spec_from_cli(TrainSpec, {**options, "dataset": str(dataset)}, spec_file)
    run_train(spec, dataset=dataset, out=out, as_json=as_json)


def run_train(spec: TrainSpec, *, dataset: Path, out: Path | None, as_json: bool) -> None:
    """What `onset train` and a train job do with a checked spec."""
    from training.config import ConfigError, load
    from training.config import preset as get_preset
    from training.data import DatasetError
    from training.run_files import summary_table
    from training.train import train

    try:
        config = load(spec.config) if spec.config else get_preset(spec.preset)
        result = train(dataset, config, folds=spec.folds, epochs=spec.epochs,
                       out_dir=_runs_dir(out), seed=spec.seed, verbose=0 if as_json else 2,
                       log=_log)
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
@spec_options(TuneSpec, skip=("dataset", "search_only"), flags={"backbones": "--backbone"},
              lead={"backbones": "Limit the search to these backbones (repeatable)."})
def tune_command(
    dataset: Path = typer.Argument(..., help=_DATASET_HELP),
    no_budget: bool = typer.Option(False, "--no-budget", help="No time budget: run every "
                                   "trial."),
    out: Path = typer.Option(None, "--out", help="(default: $ONSET_DATA_DIR/runs) "
                             "Where the tuning folder (resumable) "
                             "and the best config's run folder go."),
    search_only: bool = typer.Option(False, "--search-only", help=help_text(
        TuneSpec, "search_only") + " Train it later with `onset train --config`."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    options: dict | None = None, spec_file: Path | None = None,
) -> None:
    """Tune the CNN with KerasTuner, then cross-validate the best config into a run folder.

    Searches the backbone (from scratch, or FER2013's pretrained mini-Xception), then per-layer activation, dropout and width, optimizer, learning rate and batch size for the scratch network, or the head and fine-tuning rates for the pretrained one. Re-running with the same DATASET and --out resumes an interrupted search. Set KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT to tune distributed (see training/README.md).
    """  # noqa: E501 (one line per paragraph: the help renderer keeps line breaks)
    if no_budget and options["max_minutes"]:
        fail("give either --max-minutes or --no-budget, not both")
    spec = spec_from_cli(TuneSpec, {**options, "dataset": str(dataset),
                                    "search_only": search_only or None},
                         spec_file, flags={"backbones": "--backbone"})
    if no_budget:
        spec = spec.model_copy(update={"max_minutes": None})
    run_tune(spec, dataset=dataset, out=out, as_json=as_json)


def run_tune(spec: TuneSpec, *, dataset: Path, out: Path | None, as_json: bool) -> None:
    """What `onset tune` and a tune job do with a checked spec."""
    from training.config import ConfigError
    from training.data import DatasetError
    from training.run_files import summary_table
    from training.tune import TuneError, tune

    try:
        result = tune(dataset, trials=spec.trials, max_minutes=spec.max_minutes,
                      algorithm=spec.algorithm, epochs=spec.epochs, folds=spec.folds,
                      out_dir=_runs_dir(out), seed=spec.seed, search_only=spec.search_only,
                      verbose=0 if as_json else 2, log=_log, backbones=spec.backbones)
    except (DatasetError, ConfigError, TuneError) as exc:
        fail(escape(str(exc)))
    if result.run is None:  # search only, or a distributed worker
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
