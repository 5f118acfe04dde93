"""`onset` options that come from an operation's spec (app/specs.py).

Every such option defaults to None on the command line, so the spec alone decides the
default; --help shows the spec's description, choices, limits and default. `--spec FILE`
reads a whole spec from JSON (a job's stored spec, say); options given on the command line
win over the file."""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel

from app.cli.common import fail
from app.specs import FieldView, Spec, SpecError, fields, parse_spec

SPEC_FILE_HELP = ("A JSON file with the options (e.g. a job's stored spec); options given "
                  "here override it.")


def spec_options(cls: type[BaseModel], *, only: tuple[str, ...] | None = None,
                 skip: tuple[str, ...] = (), flags: dict[str, str] | None = None,
                 lead: dict[str, str] | None = None) -> Callable:
    """Give a command one option per spec field (all, `only` these, or all but `skip`),
    each spelt --field-name unless `flags` renames it, `lead` adding a CLI-only sentence to
    its help, plus --spec FILE. The command receives them as `options: dict` (None where
    not given) and `spec_file`, so the spec alone holds types, choices, limits, defaults."""
    names = [n for n in (only or fields(cls)) if n not in skip]
    flags, lead = flags or {}, lead or {}

    def decorate(command: Callable) -> Callable:
        own = inspect.signature(command)
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=_cli_type(
            cls.model_fields[name].annotation), default=spec_option(
            cls, name, *((flags[name],) if name in flags else ()), help=lead.get(name, "")))
            for name in names]
        added.append(inspect.Parameter("spec_file", inspect.Parameter.KEYWORD_ONLY,
                                       annotation=Path, default=typer.Option(
                                           None, "--spec", help=SPEC_FILE_HELP)))

        @functools.wraps(command)
        def run(**given: Any) -> Any:
            options = {name: given.pop(name) for name in names}
            return command(**given, options=options)

        kept = [p for p in own.parameters.values() if p.name not in ("options", "spec_file")]
        run.__signature__ = own.replace(parameters=_ordered(kept, added))
        return run

    return decorate


def _ordered(kept: list[inspect.Parameter], added: list[inspect.Parameter]):
    """Arguments first, then the spec's options, then the command's own (--spec, --json)."""
    arguments = [p for p in kept if p.default is inspect.Parameter.empty
                 or type(p.default).__name__ == "ArgumentInfo"]
    rest = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in kept if p not in arguments]
    return [*arguments, *added, *rest]


def _cli_type(annotation: Any) -> Any:
    """How typer reads a spec field: text for choices and composite values (the spec parses
    them), a list for repeatable ones, numbers as numbers."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    base = args[0] if typing.get_origin(annotation) in (typing.Union, type(int | None)) \
        and len(args) == 1 else annotation
    if typing.get_origin(base) is tuple and typing.get_args(base)[-1] is Ellipsis:
        return list[str]
    return base if base in (int, float) else str


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
