"""`onset crop`: locate faces and cut crops over the imported dataset, with a cache."""

from pathlib import Path

import typer

from app.cli.common import db_session, err_console, fail, print_json, progress_bar, settings
from app.cli.root import cli
from app.cli.spec_options import spec_from_cli, spec_options
from app.services.faces.spec import CropSpec


@cli.command("crop")
@spec_options(CropSpec, skip=("fast_path",))
def crop_command(
    no_fast_path: bool = typer.Option(False, "--no-fast-path", help="Run MTCNN on every frame "
                                      "instead of key frames plus interpolation (slower)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    options: dict | None = None, spec_file: Path | None = None,
) -> None:
    """Detect faces (cached per frame) and write crop PNGs (cached per crop setting).

    Re-running reuses everything cached: changing --size/--color/--margin only re-crops,
    changing the detector settings re-detects. Frames without a face are listed, never
    centre-cropped. Exit 1 when some frames could not be read, 2 on a bad option.
    """
    spec = spec_from_cli(CropSpec, {**options, "fast_path": False if no_fast_path else None},
                         spec_file, flags={"fast_path": "--no-fast-path"})
    run_crop(spec, as_json=as_json)


def run_crop(spec: CropSpec, *, as_json: bool) -> None:
    """What `onset crop` and a crop job do with a checked spec."""
    from app.services.faces.crops import CropError, crop_params, frame_ids_for, run_crops
    from training.faces import DetectionParams

    try:
        crop = crop_params(size=spec.size, color=spec.color, margin=spec.margin)
        detection = DetectionParams(min_face_size=spec.min_face_size)
    except (CropError, ValueError) as exc:
        fail(str(exc))
    config = settings()
    try:
        with db_session(config) as session, progress_bar(
                f"Cropping faces ({spec.source})", enabled=not as_json) as progress:
            frame_ids = frame_ids_for(session, subject=spec.subject, sequence=spec.sequence)
            summary, _ = run_crops(session, config, frame_ids=frame_ids, source=spec.source,
                                   detection=detection, fast_path=spec.fast_path,
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
