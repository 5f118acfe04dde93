"""One typed spec per operation, and what every surface reads from it.

Each operation (export, crop, train, tune, experiment) declares its options once, as a
pydantic model next to the operation. From that model come the JSON API body (so
/openapi.json is typed), the admin and export forms' choices, limits and defaults
(`fields`), the `onset` command's options and help (app/cli/spec_options.py), and the job a
page starts (the job stores `spec.model_dump()`; its process, `python -m app job run ID`,
validates the same spec again). One set of names, defaults and messages everywhere.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import annotated_types
from pydantic import BaseModel, ValidationError

from app.services.errors import BadInput

Spec = TypeVar("Spec", bound=BaseModel)


class SpecError(BadInput):
    """A bad option; `field` names it (the CLI prints --FIELD and exits 2, the API answers
    422 with `loc`, a page shows the message next to the form)."""


def parse_spec(cls: type[Spec], data: Mapping[str, Any], *, ignore: Iterable[str] = (),
               error: type[SpecError] = SpecError, location: str = "body") -> Spec:
    """A spec from loose input (form strings, query strings, JSON, CLI options): blank
    values take the spec's default; the first problem raises `error` naming its field."""
    skip = set(ignore)
    values = {k: v for k, v in data.items()
              if k not in skip and v is not None and v != "" and v != []}
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        problem = first_error(cls, exc, error)
        problem.location = location
        raise problem from None


def first_error(cls: type[BaseModel], exc: ValidationError,
                error: type[SpecError] = SpecError) -> SpecError:
    problem = exc.errors()[0]
    loc = [str(part) for part in problem["loc"]]
    field = ".".join(loc) if loc else cls.__name__
    if problem["type"] == "extra_forbidden":
        return error(field, f"unknown option; known: {', '.join(cls.model_fields)}")
    return error(field, reword(problem))


def reword(problem: dict[str, Any]) -> str:
    """pydantic's wording, said the way the rest of Onset says it (the value, then the
    rule), for specs and for request bodies alike (app/errors.py uses it for 422s)."""
    kind, ctx, value = problem["type"], problem.get("ctx") or {}, problem.get("input")
    if kind == "literal_error":
        known = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"{value!r} is not one of {known}"
    rules = {"greater_than_equal": "at least {ge}", "greater_than": "more than {gt}",
             "less_than_equal": "at most {le}", "less_than": "below {lt}"}
    if kind in rules:
        limits = {k: _number(v) for k, v in ctx.items()}
        return f"must be {rules[kind].format(**limits)}, got {_number(value)}"
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"{value!r} is not a whole number"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return f"{value!r} is not a number"
    return problem["msg"].removeprefix("Value error, ")


@dataclass(frozen=True)
class FieldView:
    """One option as a form or `--help` shows it."""

    name: str
    default: Any
    description: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    below_maximum: bool = False  # the maximum itself is not allowed (lt rather than le)
    required: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def fields(cls: type[BaseModel]) -> dict[str, FieldView]:
    """Every option of a spec with its default, choices and limits, in declaration order."""
    views = {}
    for name, info in cls.model_fields.items():
        low = high = None
        below = False
        for rule in info.metadata:
            if isinstance(rule, (annotated_types.Ge, annotated_types.Gt)):
                low = getattr(rule, "ge", getattr(rule, "gt", None))
            if isinstance(rule, (annotated_types.Le, annotated_types.Lt)):
                high = getattr(rule, "le", getattr(rule, "lt", None))
                below = isinstance(rule, annotated_types.Lt)
        views[name] = FieldView(name=name, default=None if info.is_required() else info.default,
                                description=info.description or "",
                                choices=_choices(info.annotation), minimum=low, maximum=high,
                                below_maximum=below, required=info.is_required())
    return views


def _choices(annotation: Any) -> tuple[Any, ...]:
    """The values of a Literal (also inside `X | None`), else none."""
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Literal:
            return typing.get_args(arg)
    return ()


def _number(value: Any) -> Any:
    """120.0 -> 120: limits and values read the way a person typed them."""
    return f"{value:g}" if isinstance(value, float) else value
