"""`onset experiment`: variants of one selection, trained on the same folds, compared.

The options, their defaults and their help come from ExperimentSpec
(app/services/experiments/spec.py); this module only spells them as flags."""

from pathlib import Path

import typer
from rich.markup import escape

from app.cli.common import db_session, err_console, fail, print_json, progress_bar, settings
from app.cli.root import cli
from app.cli.spec_options import help_text, spec_from_cli, spec_options
from app.services.experiments.spec import FACTORS, ExperimentSpec
from app.specs import fields

FLAGS = {"base_snapshot": "--base", "base": "--base-option"}
_VARY_HELP = (help_text(ExperimentSpec, "vary") + " Factors: "
              + "; ".join(f"{name}: {what}" for name, what in FACTORS.items()) + ".")


@cli.command("experiment")
@spec_options(ExperimentSpec, skip=("vary", "base"), flags=FLAGS)
def experiment_command(
    vary: list[str] = typer.Option(None, "--vary", metavar="FACTOR=V1,V2", help=_VARY_HELP),
    base_options: list[str] = typer.Option([], "--base-option", metavar="KEY=VALUE",
                                           help=fields(ExperimentSpec)["base"].description
                                           + " Repeatable, e.g. --base-option face=none."),
    out: Path = typer.Option(None, "--out", help="The experiment's folder (default: "
                             "$ONSET_DATA_DIR/experiments/<id>, where the web app lists "
                             "experiments)."),
    scheduler: str = typer.Option(None, "--scheduler", metavar="tcp://HOST:PORT",
                                  help="Run the cells on this Dask distributed scheduler "
                                  "(workers need ONSET_DATA_DIR on a shared file system)."),
    as_json: bool = typer.Option(False, "--json", help="Print experiment.json on stdout."),
    *, options: dict, spec_file: Path | None = None,
) -> None:
    """Train variants of one selection on the same subject folds and compare them.

    Each variant is exported as a normal snapshot and trained as a normal run; a run with the same export, config, folds, seed and epochs is reused, so re-running trains only what is missing. Variants are scored on a common test set (the last frames of the sequences every variant has), and each pair gets the mean paired difference over folds x seeds and a paired test's p-value.
    """  # noqa: E501 (one line per paragraph: the help renderer keeps line breaks)
    options = {**options, "vary": vary, "base": base_options or None}
    spec = spec_from_cli(ExperimentSpec, options, spec_file, flags=FLAGS)
    run_experiment_spec(spec, out=out, scheduler=scheduler, as_json=as_json)


def run_experiment_spec(spec: ExperimentSpec, *, out: Path | None = None,
                        scheduler: str | None = None, as_json: bool = False) -> None:
    """What `onset experiment` does with a checked spec (a background job calls this too)."""
    from app.services.experiments import ExperimentError, run_experiment

    config = settings()
    try:
        with db_session(config) as session, _Bars(enabled=not as_json) as bars:
            result = run_experiment(session, config, spec, out=out, scheduler=scheduler,
                                    progress=bars.update, export_progress=bars.export)
    except ExperimentError as exc:
        fail(escape(str(exc)))
    except OSError as exc:  # a scheduler that does not answer, a full disk
        fail(escape(f"{type(exc).__name__}: {exc}"), code=1)
    if as_json:
        print_json(result)
        return
    typer.echo(result_table(result))


class _Bars:
    """A progress bar per cell (and one per export) on stderr."""

    def __init__(self, enabled: bool):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.enabled = enabled
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("{task.fields[doing]}"),
                            console=err_console, transient=False)
        self.tasks: dict[tuple[str, int], int] = {}

    def __enter__(self):
        # Under a background job this also writes progress lines for the job page.
        self.job_file = progress_bar("Training cells", enabled=False)
        self.to_job = self.job_file.__enter__()
        if self.enabled:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()
        self.job_file.__exit__(*exc)

    def update(self, cells: list[dict]) -> None:
        self.to_job(sum(c["done"] for c in cells), sum(c["total"] for c in cells))
        if not self.enabled:
            return
        for cell in cells:
            key = (cell["variant"], cell["seed"])
            if key not in self.tasks:
                self.tasks[key] = self.bar.add_task(f"{cell['variant']} seed {cell['seed']}",
                                                    total=None, doing="")
            self.bar.update(self.tasks[key], completed=cell["done"],
                            total=cell["total"] or None, doing=cell["doing"])

    def export(self, name: str):
        if not self.enabled:
            return None
        task = self.bar.add_task(f"export {name}", total=None, doing="")
        return lambda done, total: self.bar.update(task, completed=done, total=total)


def result_table(result: dict) -> str:
    """The variants (accuracy mean ± std over folds on the common test set, macro-F1) and
    every pair's paired difference, as plain text."""
    width = max(len(v["name"]) for v in result["variants"])
    lines = [f"experiment {result['id']}: {result['folds']['k']} folds, common test set "
             f"{result['common_test']['images']} images",
             f"{'variant':<{width}}  accuracy        macro-F1  run"]
    for v in result["variants"]:
        acc = v["accuracy"]
        shown = (f"{100 * acc['mean']:5.1f}% ± {100 * acc['std']:4.1f}" if acc
                 else "   (not trained)")
        f1 = f"{v['macro_f1']:.3f}" if v["macro_f1"] is not None else "-"
        lines.append(f"{v['name']:<{width}}  {shown:<14}  {f1:>8}  {v['run'] or '-'}")
    for c in result["comparisons"]:
        p = "n/a" if c["p_value"] is None else f"{c['p_value']:.3f}"
        lines.append(f"{c['a']} vs {c['b']}: {100 * c['mean_diff']:+.1f} points, p = {p} "
                     f"({c['test']}, n = {c['n']}): {c['verdict']}")
    return "\n".join(lines)
