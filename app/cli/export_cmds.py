"""`onset export`: the curated dataset (manifest.csv + dataset.json + images/), as a folder or
a zip, recorded as a snapshot the web app lists and can serve again."""

from pathlib import Path

import typer

from app.cli.common import db_session, err_console, fail, print_json, progress_bar, settings
from app.cli.root import cli
from app.cli.spec_options import cli_flag, spec_from_cli, spec_options
from app.services.export.params import ExportSpec


@cli.command("export")
@spec_options(ExportSpec, lead={
    "exclude": "Leave out a class (repeat, or comma-separate), e.g. --exclude contempt.",
    "merge": "Merge a class into another, e.g. --merge contempt=disgust (repeatable)."})
def export_command(
    out: Path = typer.Argument(..., help="Folder to write (created; an earlier export there is "
                               "replaced). With --zip: the .zip file to write."),
    as_zip: bool = typer.Option(False, "--zip", help="Write OUT as a .zip; the folder itself "
                                "goes to the exports folder (ONSET_DATA_DIR/exports/<id>/)."),
    as_json: bool = typer.Option(False, "--json", help="Print {id, path, counts, left_out} "
                                 "as JSON on stdout."),
    options: dict | None = None, spec_file: Path | None = None,
) -> None:
    """Export the curated dataset: trimmed by the chosen policy, split by subject, recorded
    as a snapshot. The same options on the same reviews give the same id and manifest."""
    params = spec_from_cli(ExportSpec, options, spec_file)
    run_export_spec(params, out=out, as_zip=as_zip, as_json=as_json)


def run_export_spec(params: ExportSpec, *, out: Path, as_zip: bool, as_json: bool) -> None:
    """What `onset export` and an export job do with a checked spec."""
    from app.services.export import ExportError, ExportParamsError, run_export
    from app.services.export.writer import write_zip

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
        fail(f"{cli_flag(exc.field)}: {exc.message}")
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
