"""`onset` options that come from an operation's spec (app/specs.py).

Every such option defaults to None on the command line, so the spec alone decides the
default; --help shows the spec's description, choices, limits and default. `--spec FILE`
reads a whole spec from JSON (a job's stored spec, say); options given on the command line
win over the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel

from app.cli.common import fail
from app.specs import FieldView, Spec, SpecError, fields, parse_spec

SPEC_FILE_HELP = ("A JSON file with the options (e.g. a job's stored spec); options given "
                  "here override it.")


def spec_option(cls: type[BaseModel], name: str, *flags: str, **extra: Any) -> Any:
    """A typer option for one spec field; `help=` adds a CLI-only sentence before the
    spec's own (choices, limits, default)."""
    view = fields(cls)[name]
    lead = extra.pop("help", "")
    text = f"{lead} {help_text(cls, name, describe=not lead)}".strip()
    return typer.Option(None, *(flags or (view.flag,)), help=text, show_default=False,
                        **extra)


def help_text(cls: type[BaseModel], name: str, *, describe: bool = True) -> str:
    view = fields(cls)[name]
    parts = [view.description.rstrip(".") + "." if view.description and describe else ""]
    if view.choices:
        parts.append("One of: " + ", ".join(str(c) for c in view.choices) + ".")
    parts.append(limits_text(view))
    if view.default not in (None, (), []) and not isinstance(view.default, bool):
        default = view.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        parts.append(f"\\[default: {shown}]")  # escaped: rich would take it for markup
    return " ".join(p for p in parts if p)


def spec_from_cli(cls: type[Spec], options: dict[str, Any], spec_file: Path | None = None,
                  *, flags: dict[str, str] | None = None) -> Spec:
    """The spec from a --spec file (if any) overlaid with the options given; a bad value
    ends the command with `error: --FLAG: message` and exit 2."""
    data: dict[str, Any] = {}
    if spec_file is not None:
        try:
            data = json.loads(spec_file.read_text())
        except (OSError, ValueError) as exc:
            fail(f"--spec: cannot read {spec_file}: {exc}")
        if not isinstance(data, dict):
            fail(f"--spec: {spec_file} holds no JSON object")
    data.update({k: v for k, v in options.items() if v is not None and v != []})
    try:
        return parse_spec(cls, data)
    except SpecError as exc:
        fail(f"{cli_flag(exc.field, flags)}: {exc.message}")


def cli_flag(field: str, flags: dict[str, str] | None = None) -> str:
    """How the command line spells a spec field (`peak_frames` -> `--peak-frames`)."""
    top = field.split(".")[0]
    return (flags or {}).get(top) or "--" + top.replace("_", "-")


def limits_text(view: FieldView) -> str:
    low, high = _shown(view.minimum), _shown(view.maximum)
    if high is None:
        return f"At least {low}." if low is not None else ""
    top = f"below {high}" if view.below_maximum else f"at most {high}"
    if low is None:
        return f"{top.capitalize()}."
    return f"{low} or more, {top}." if view.below_maximum else f"{low}..{high}."


def _shown(limit: float | None) -> str | None:
    return None if limit is None else f"{limit:g}" if isinstance(limit, float) else str(limit)
