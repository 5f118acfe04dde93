"""`onset export`: the curated dataset (manifest.csv + dataset.json + images/), as a folder or
a zip, recorded as a snapshot the web app lists and can serve again."""

from pathlib import Path

import typer

from app.cli.common import db_session, err_console, fail, print_json, progress_bar, settings
from app.cli.root import cli
from app.services.export.params import (
    DEFAULT_FOLDS,
    DEFAULT_PEAK_FRAMES,
    DEFAULT_PERCENT,
    DEFAULT_SIZE,
)


@cli.command("export")
def export_command(
    out: Path = typer.Argument(..., help="Folder to write (created; an earlier export there is "
                               "replaced). With --zip: the .zip file to write."),
    as_zip: bool = typer.Option(False, "--zip", help="Write OUT as a .zip; the folder itself "
                                "goes to the exports folder (ONSET_DATA_DIR/exports/<id>/)."),
    policy: str = typer.Option("onset", "--policy", help="onset: marked onset to apex "
                               "(no onset: the percent rule); percent: drop the first "
                               "P% of frames; peak: the last K frames."),
    percent: float = typer.Option(DEFAULT_PERCENT, "--percent", help="P: keep frames whose "
                                  "number > floor(N * P / 100); 0 <= P < 100."),
    peak_frames: int = typer.Option(DEFAULT_PEAK_FRAMES, "--peak-frames", help="K for "
                                    "--policy peak."),
    fallback: str = typer.Option("percent", "--fallback", help="--policy onset, sequences "
                                 "nobody marked: 'percent' (the P% trim) or 'suggested' (the "
                                 "suggested onset of its intensity curve, `onset onsets`)."),
    neutral_frames: int = typer.Option(0, "--neutral-frames", help="Also take the first N "
                                       "frames of each sequence as 'neutral' (never frames "
                                       "that show the emotion)."),
    exclude: list[str] = typer.Option([], "--exclude", help="Leave out a class (repeat, or "
                                      "comma-separate), e.g. --exclude contempt."),
    merge: list[str] = typer.Option([], "--merge", help="Merge a class into another, "
                                    "e.g. --merge contempt=disgust (repeatable)."),
    labels: str = typer.Option("effective", "--labels", help="effective (reviews and admin "
                               "decisions) or original (CK+ Emotion files)."),
    face: str = typer.Option("landmarks", "--face", help="landmarks (CK+ landmark files), "
                             "mtcnn (detector), or none (the whole frame)."),
    size: int = typer.Option(DEFAULT_SIZE, "--size", help="Image side in px; 0 with --face "
                             "none copies the original frames byte for byte."),
    color: str = typer.Option("gray", "--color", help="gray or rgb."),
    margin: float = typer.Option(None, "--margin", help="Legacy framing: the face box plus "
                                 "this fraction of its side on each side (default: the "
                                 "eyes-and-mouth framing that reproduces CK+48's crops)."),
    folds: int = typer.Option(DEFAULT_FOLDS, "--folds", help="Subject-grouped folds."),
    split: str = typer.Option(None, "--split", help="Also a train/val/test split by subject, "
                              "e.g. 70/15/15."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold/split assignment."),
    as_json: bool = typer.Option(False, "--json", help="Print {id, path, counts, left_out} "
                                 "as JSON on stdout."),
) -> None:
    """Export the curated dataset: trimmed by the chosen policy, split by subject, recorded
    as a snapshot. The same options on the same reviews give the same id and manifest."""
    from app.services.export import ExportError, ExportParamsError, parse_params, run_export
    from app.services.export.writer import write_zip

    options = {"policy": policy, "percent": percent, "fallback": fallback,
               "peak_frames": peak_frames,
               "neutral_frames": neutral_frames, "exclude": exclude, "merge": merge,
               "labels": labels, "face": face, "size": size, "color": color,
               "margin": margin, "folds": folds, "split": split, "seed": seed}
    try:
        params = parse_params(options)
    except ExportParamsError as exc:
        fail(f"--{exc.field.replace('_', '-')}: {str(exc).split(': ', 1)[1]}")
    zip_path = None
    if as_zip:
        zip_path = out if out.suffix.lower() == ".zip" else out.with_name(out.name + ".zip")
        if zip_path.is_dir():
            fail(f"{zip_path} is a folder; give the .zip file to write")
    config = settings()
    try:
        with db_session(config) as session, progress_bar("Exporting images",
                                                         enabled=not as_json) as progress:
            result = run_export(session, config, params=params,
                                out=None if as_zip else out, progress=progress)
            if zip_path is not None:
                zip_path.parent.mkdir(parents=True, exist_ok=True)
                write_zip(result.path, zip_path)
    except ExportParamsError as exc:
        fail(f"--{exc.field.replace('_', '-')}: {str(exc).split(': ', 1)[1]}")
    except ExportError as exc:
        fail(str(exc), code=1)
    summary = {"id": result.id, "path": str(zip_path or result.path),
               "folder": str(result.path), "counts": result.counts,
               "left_out": result.left_out, "no_face": result.no_face}
    if as_json:
        print_json(summary)
        return
    _print_summary(summary, result.labels)


def _print_summary(summary: dict, labels: list[str]) -> None:
    counts = summary["counts"]
    err_console.print(f"Exported [bold]{counts['images']}[/] images of {counts['sequences']} "
                      f"sequences ({counts['subjects']} subjects) to {summary['path']}  "
                      f"id {summary['id']}", highlight=False)
    width = max(len(label) for label in labels)
    for label in labels:
        err_console.print(f"  {label:<{width}}  {counts['classes'][label]:>6}", highlight=False)
    if "splits" in counts:
        err_console.print("  split: " + ", ".join(f"{name} {group['images']}" for name, group
                                                  in counts["splits"].items()), highlight=False)
    left = {k: v for k, v in summary["left_out"].items() if v}
    if left:
        err_console.print("  left out (sequences): " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                                                 for k, v in left.items()),
                          highlight=False)
    if summary["no_face"]:
        err_console.print(f"  {len(summary['no_face'])} frame(s) without a face left out "
                          f"(listed in dataset.json)", highlight=False)
    if counts.get("onset_fallback"):
        err_console.print(f"  {counts['onset_fallback']} sequence(s) without an onset used "
                          "the percent rule", highlight=False)
