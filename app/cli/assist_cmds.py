"""`onset suspects`, `onset onsets`, `onset agreement`: the model and the reviewers' own
answers point at what needs a look (app/services/assist)."""

import typer

from app.cli.common import db_session, err_console, fail, print_json, progress_bar, settings
from app.cli.root import cli


@cli.command("suspects")
def suspects_command(
    run: str = typer.Option(None, "--run", help="A run folder or a run id (default: the "
                            "active model)."),
    top: int = typer.Option(None, "--top", min=1, help="Only the K most suspect sequences."),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """Labelled sequences ranked by how confidently the run's out-of-fold predictions
    disagree with their effective label (confident learning, cleanlab).

    Sequences the run cannot speak for (relabelled, excluded or re-imported since its
    export) are left out and named on stderr. Exit 1 when the run has no usable
    predictions, 2 on a bad option.
    """
    from app.services.assist import AssistError
    from app.services.assist.suspects import find_suspects

    config = settings()
    try:
        with db_session(config) as session:
            report = find_suspects(session, config, run=run, top=top)
    except AssistError as exc:
        fail(str(exc), code=1)
    for note in report.notes:
        err_console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    if as_json:
        print_json([s.as_dict() for s in report.items])
        return
    err_console.print(f"Run {report.run}: {report.flagged_total} of {report.scored_total} "
                      f"sequences flagged by confident learning; {len(report.items)} listed.",
                      highlight=False)
    for s in report.items:
        mark = "!" if s.flagged else " "
        top3 = ", ".join(f"{name} {p:.0%}" for name, p in s.top3)
        typer.echo(f"{s.rank:>4} {mark} {s.subject}/{s.sequence}  label {s.label:<9} "
                   f"predicted {s.predicted:<9} score {s.score:.3f}  ({top3})")


@cli.command("onsets")
def onsets_command(
    method: str = typer.Option("auto", "--method", help="Intensity signal: auto (per "
                               "sequence, the best measured that it has: landmarks, then "
                               "crops, then model), landmarks, crops or model (the run's "
                               "probability of not-neutral)."),
    run: str = typer.Option(None, "--run", help="The model signal's run: a run folder or a "
                            "run id with a neutral class (default: the active model)."),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """A suggested onset frame for every sequence, from an expression-intensity curve over
    its frames (landmark displacement from the first frame, the face crops' change, or the
    model's probability of not-neutral). Each row names the method it came from.

    Exit 2 on a bad option, or with --method model when the run has no neutral class.
    """
    from app.services.assist import AssistError
    from app.services.assist.onsets import METHODS, suggest_all

    if method not in ("auto", *METHODS):
        fail(f"--method must be auto or one of {', '.join(METHODS)}, not {method!r}")
    config = settings()
    if method == "model":  # the run is checked before any curve (and TensorFlow) is made
        from app.services.assist.model_signal import neutral_run

        try:
            with db_session(config) as session:
                neutral_run(session, config, run)
        except AssistError as exc:
            fail(str(exc))
    try:
        with db_session(config) as session, progress_bar(
                "Intensity curves", enabled=not as_json) as progress:
            suggestions = suggest_all(session, config, method=method, run=run,
                                      progress=progress)
    except AssistError as exc:
        fail(str(exc), code=1)
    if as_json:
        print_json([s.as_dict(curve=False) for s in suggestions])
        return
    for s in suggestions:
        onset = s.suggested_onset if s.suggested_onset is not None else "-"
        typer.echo(f"{s.subject}/{s.sequence}  frames {s.frames:>3}  suggested onset "
                   f"{onset:>3}  ({s.method})")


@cli.command("agreement")
def agreement_command(
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """How much reviewers agree: Cohen's kappa per pair and Fleiss' kappa on labels,
    Krippendorff's alpha (interval) and the mean absolute frame difference on onsets, each
    with the number of sequences it rests on ("not enough data" instead of a number where
    there is too little overlap)."""
    from app.services.assist.agreement import agreement

    with db_session(settings()) as session:
        report = agreement(session)
    if as_json:
        print_json(report)
        return
    for line in _agreement_lines(report):
        typer.echo(line)


def _agreement_lines(report: dict) -> list[str]:
    def show(value, note):
        return f"{value:.3f}" if value is not None else f"not enough data ({note})"

    labels, onsets = report["labels"], report["onsets"]
    lines = [f"Labels: Fleiss' kappa {show(labels['fleiss_kappa'], labels['note'])} "
             f"over {labels['n']} sequences"]
    lines += [f"  {p['a']} / {p['b']}: Cohen's kappa {show(p['kappa'], p['note'])} (n={p['n']})"
              for p in labels["pairs"]]
    lines.append(f"Onsets: Krippendorff's alpha {show(onsets['alpha'], onsets['note'])}, "
                 f"mean |difference| {show(onsets['mean_abs_diff'], onsets['note'])} frames "
                 f"over {onsets['n']} sequences")
    lines += [f"  {p['a']} / {p['b']}: alpha {show(p['alpha'], p['note'])}, mean |difference| "
              f"{show(p['mean_abs_diff'], p['note'])} (n={p['n']})" for p in onsets["pairs"]]
    return lines
