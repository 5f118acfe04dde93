"""`onset demo`: write a synthetic CK+ look-alike dataset to try Onset without the real one."""

from pathlib import Path

import typer

from app.cli.common import err_console, fail, print_json, progress_bar
from app.cli.root import cli

_HELP = (
    "Write a synthetic dataset in the exact CK+ layout and file formats, to try Onset "
    "without CK+.\n\n"
    "OUT gets cohn-kanade-images/, Emotion/ (about 40% of sequences unlabeled, about 5% of "
    "labels deliberately wrong), FACS/ and Landmarks/, a ReadMe.txt and some .DS_Store / "
    "Thumbs.db clutter, like real copies. OUT/demo_truth.csv is the answer key: true label, "
    "true onset frame, and which labels are wrong.\n\n"
    "Then: onset import OUT"
)


@cli.command("demo", help=_HELP)
def demo_command(
    out: Path = typer.Option(..., "--out", help="Folder to write to: new, empty, or an earlier "
                                                "demo (which is replaced)."),
    subjects: int = typer.Option(20, "--subjects", min=1, max=995,
                                 help="How many subjects (CK+ has 123; each has ~4.8 "
                                      "sequences of ~18 frames)."),
    seed: int = typer.Option(0, "--seed", min=0, help="Same seed, byte-identical files."),
    workers: int = typer.Option(0, "--workers", min=0,
                                help="Processes drawing frames (0: one per CPU)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    from app.demo import DemoOutputError, generate_demo

    try:
        with progress_bar("Drawing subjects", enabled=not as_json) as progress:
            summary = generate_demo(out, subjects=subjects, seed=seed, progress=progress,
                                    workers=workers or None)
    except (DemoOutputError, ValueError) as exc:
        fail(str(exc))
    data = summary.as_dict()
    if as_json:
        print_json(data)
        return
    err_console.print(
        f"Wrote {data['subjects']} subjects, {data['sequences']} sequences, {data['frames']} "
        f"frames to {data['out']} in {data['seconds']:.1f} s: {data['labeled']} labeled "
        f"({data['wrong_labels']} deliberately wrong), "
        f"{data['sequences'] - data['labeled']} unlabeled. Answer key: "
        f"{Path(data['out']) / 'demo_truth.csv'}", highlight=False)
