"""The ablation table of training/README.md: presets x seeds on one export, same folds.

    .venv/bin/python bench/ablation.py [--dataset ../shared/data/ckplus-dev/ck48]
        [--folds 5] [--seeds 3] [--presets baseline,scratch,pretrained] [--out bench/out/abl]

Every cell is a normal `training.train.train` run (reused from --out when one with the same
config, seed and folds is already there, so an interrupted table resumes). The ensemble rows
average the member runs' out-of-fold probabilities of the same seed, image by image: what
the `default` preset (scratch + pretrained + zero-shot) computes in one run (pass `default`
in --presets to train it as one run too). `zero-shot` is FER2013's own mini-Xception
unchanged, its classes renamed to CK+'s (it has no contempt). Figures are mean ± std over
folds x seeds.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import training  # noqa: E402,F401  (sets TensorFlow's environment before it loads)

DEFAULT_DATASET = Path(__file__).resolve().parent.parent.parent / "shared/data/ckplus-dev/ck48"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--presets", default="baseline,scratch,pretrained,zero-shot")
    parser.add_argument("--config", action="append", default=[], metavar="NAME=FILE",
                        help="An extra row from a config file (e.g. a tuned best_config.json)")
    parser.add_argument("--out", type=Path, default=Path("bench/out/ablation"))
    args = parser.parse_args()
    if not (args.dataset / "manifest.csv").is_file():
        sys.exit(f"skipped: no export at {args.dataset} (the real CK+ slice lives in "
                 "../shared/data/ckplus-dev; see its README)")
    from training import config as config_module
    from training import data

    export = data.load_export(args.dataset)
    rows = {}
    configs = {name: config_module.preset(name) for name in args.presets.split(",")}
    for item in args.config:
        name, _, path = item.partition("=")
        configs[name] = config_module.load(path)
    for name, config in configs.items():
        rows[name] = [_run(export, args, config, seed) for seed in range(args.seeds)]
        _print_row(name, rows[name])
    combos = [("scratch", "pretrained"), ("scratch", "pretrained", "zero-shot"),
              ("scratch", "tuned"), ("scratch", "tuned", "zero-shot")]
    for members in combos:
        if all(m in rows for m in members):
            name = "ensemble: " + " + ".join(members)
            rows[name] = [_average(runs) for runs in zip(*(rows[m] for m in members),
                                                         strict=True)]
            _print_row(name, rows[name])
    print()
    print(_table(rows))


def _run(export, args, config, seed: int) -> dict:
    """A finished run folder for (config, seed, folds): reused if present, else trained."""
    from training import config as config_module
    from training.train import train

    key = f"{config.name}-s{seed}-f{args.folds}"
    marker = args.out / f"{key}.json"
    if marker.is_file():
        run_dir = Path(json.loads(marker.read_text())["run_dir"])
        if (run_dir / "metrics.json").is_file() and config_module.from_dict(json.loads(
                (run_dir / "config.json").read_text())["config"]) == config:
            return _load_run(run_dir)
    result = train(args.dataset, config, folds=args.folds, out_dir=args.out / "runs",
                   seed=seed, verbose=0, log=lambda msg: print("  " + msg, flush=True),
                   export=export)
    args.out.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"run_dir": str(result.run_dir)}))
    return _load_run(result.run_dir)


def _load_run(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    events = [json.loads(line) for line in (run_dir / "progress.jsonl").open()]
    with open(run_dir / "predictions.csv", newline="") as fh:
        preds = list(csv.DictReader(fh))
    labels = json.loads((run_dir / "labels.json").read_text())
    head = json.loads((run_dir / "config.json").read_text())["config"].get("head", "new")
    probs = np.array([[float(r[f"prob_{label}"]) for label in labels] for r in preds])
    return {"run_dir": run_dir, "metrics": metrics, "minutes": events[-1]["elapsed_s"] / 60,
            "probs": probs, "folds": np.array([int(r["fold"]) for r in preds]),
            "true": np.array([labels.index(r["true_label"]) for r in preds]),
            "sequences": np.array([r["sequence"] for r in preds]), "labels": labels,
            "head": head}


def _average(runs: tuple[dict, ...]) -> dict:
    from training import metrics
    from training.backbones import average_members, known_labels

    a = runs[0]
    probs = average_members([r["probs"] for r in runs],
                            [known_labels(r["head"], r["labels"]) for r in runs])
    summary = metrics.summarize(a["true"], probs.argmax(1), a["folds"], a["labels"])
    summary["sequence_accuracy"] = metrics.sequence_accuracy(a["true"], probs, a["sequences"],
                                                             a["folds"])
    return {**a, "metrics": summary, "minutes": sum(r["minutes"] for r in runs),
            "probs": probs}


def _stats(runs: list[dict]) -> dict:
    image = [f for r in runs for f in r["metrics"]["accuracy"]["per_fold"]]
    sequence = [f for r in runs for f in r["metrics"]["sequence_accuracy"]["per_fold"]]
    recall = {label: float(np.mean([r["metrics"]["per_class"][label]["recall"] for r in runs]))
              for label in runs[0]["labels"]}
    return {"image": (np.mean(image), np.std(image)), "seq": (np.mean(sequence),
                                                             np.std(sequence)),
            "f1": np.mean([r["metrics"]["macro_f1"] for r in runs]),
            "minutes": np.mean([r["minutes"] for r in runs]), "recall": recall, "n": len(image)}


def _print_row(name: str, runs: list[dict]) -> None:
    s = _stats(runs)
    print(f"{name}: per image {s['image'][0]:.1%} ± {s['image'][1]:.1%}, per sequence "
          f"{s['seq'][0]:.1%} ± {s['seq'][1]:.1%}, macro-F1 {s['f1']:.3f}, "
          f"{s['minutes']:.1f} min/run; recall "
          + ", ".join(f"{k} {v:.2f}" for k, v in s["recall"].items()), flush=True)


def _table(rows: dict) -> str:
    lines = ["| model | per image | per sequence | macro-F1 | minutes / run (2 cores) |",
             "|---|---|---|---|---|"]
    for name, runs in rows.items():
        s = _stats(runs)
        lines.append(f"| {name} | {s['image'][0]:.1%} ± {s['image'][1]:.1%} | "
                     f"{s['seq'][0]:.1%} ± {s['seq'][1]:.1%} | {s['f1']:.3f} | "
                     f"{s['minutes']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
