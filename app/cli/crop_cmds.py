"""`onset crop`: locate faces and cut crops over the imported dataset, with a cache."""

import typer

from app.cli.common import db_session, err_console, fail, print_json, progress_bar, settings
from app.cli.root import cli

_DEFAULT_MIN_FACE = 60  # training.faces.DetectionParams' default, repeated for --help only


@cli.command("crop")
def crop_command(
    source: str = typer.Option("mtcnn", "--source", help="Where face boxes come from: "
                               "'mtcnn' (the detector) or 'landmarks' (CK+'s landmark files)."),
    subject: str = typer.Option(None, "--subject", help="Only this subject, e.g. S005."),
    sequence: str = typer.Option(None, "--sequence", help="Only this sequence, e.g. S005/001."),
    size: int = typer.Option(96, "--size", help="Crop side in pixels (8..1024)."),
    color: str = typer.Option("gray", "--color", help="'gray' or 'rgb'."),
    margin: float = typer.Option(None, "--margin", help="Legacy framing: the face box plus "
                                 "this fraction of its side on each side (0..2). Default: "
                                 "the eyes-and-mouth framing that reproduces CK+48's crops."),
    min_face_size: int = typer.Option(_DEFAULT_MIN_FACE, "--min-face-size",
                                      help="Smallest face MTCNN looks for, in pixels (>= 20); "
                                      "changing it re-detects."),
    no_fast_path: bool = typer.Option(False, "--no-fast-path", help="Run MTCNN on every frame "
                                      "instead of key frames plus interpolation (slower)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Detect faces (cached per frame) and write crop PNGs (cached per crop setting).

    Re-running reuses everything cached: changing --size/--color/--margin only re-crops,
    changing the detector settings re-detects. Frames without a face are listed, never
    centre-cropped. Exit 1 when some frames could not be read, 2 on a bad option.
    """
    from app.services.crops import SOURCES, CropError, crop_params, frame_ids_for, run_crops
    from training.faces import DetectionParams

    if source not in SOURCES:
        fail(f"--source must be one of {', '.join(SOURCES)}, not {source!r}")
    try:
        crop = crop_params(size=size, color=color, margin=margin)
        detection = DetectionParams(min_face_size=min_face_size)
    except (CropError, ValueError) as exc:
        fail(str(exc))
    config = settings()
    try:
        with db_session(config) as session, progress_bar(
                f"Cropping faces ({source})", enabled=not as_json) as progress:
            frame_ids = frame_ids_for(session, subject=subject, sequence=sequence)
            summary, _ = run_crops(session, config, frame_ids=frame_ids, source=source,
                                   detection=detection, fast_path=not no_fast_path,
                                   crop=crop, progress=progress)
    except CropError as exc:
        fail(str(exc))
    if as_json:
        print_json(summary.as_dict())
    else:
        _print_summary(summary)
    if summary.errors:
        raise typer.Exit(1)


def _print_summary(summary) -> None:
    err_console.print(
        f"{summary.frames} frame(s): {summary.faces} with a face, {len(summary.no_face)} "
        f"without; {summary.cached} detection(s) reused, {summary.detected} new; "
        f"{summary.crops_written} crop(s) written, {summary.crops_cached} reused "
        f"in {summary.seconds:.1f} s.", highlight=False)
    if summary.crops_dir:
        err_console.print(f"Crops: {summary.crops_dir}", highlight=False)
    for frame_id in summary.no_face[:20]:
        err_console.print(f"  [yellow]no face[/] frame {frame_id}: "
                          f"{summary.no_face_reasons[frame_id]}", highlight=False)
    if len(summary.no_face) > 20:
        err_console.print(f"  ... and {len(summary.no_face) - 20} more (see --json)")
    for line in summary.errors:
        err_console.print(f"  [red]error[/] {line}", highlight=False)
