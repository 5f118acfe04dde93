"""How every `onset` command's help and errors look, set once for the whole command tree.

- Help: flags show no type placeholder (typer would print `<bool>`), arguments read DATASET
  rather than `{dataset}`, values are named INTEGER, FLOAT, TEXT or PATH, choices as
  `a|b|c`, and a docstring's hard-wrapped lines are joined so rich can wrap them evenly.
- Errors: click's usage errors (unknown option, missing argument, a value that is not an
  integer, ...) print one line, `error: ...`, and exit 2, like the commands' own `fail()`.
"""

import re
import sys
from functools import cache
from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperArgument, TyperGroup, TyperOption

from app.cli.common import err_console

try:  # typer >= 0.2x carries its own click
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException, UsageError

TYPE_NAMES = {"int": "INTEGER", "float": "FLOAT", "str": "TEXT", "bool": "BOOLEAN",
              "path": "PATH", "file": "PATH", "directory": "PATH"}


def _type_label(param: Any, ctx: Any) -> str:
    label = param.display_type(ctx).strip("<>")
    repeated = label.startswith("list[")
    label = label.removeprefix("list[").removesuffix("]").removesuffix(" range")
    return TYPE_NAMES.get(label.lower(), label) + ("..." if repeated else "")


class OnsetArgument(TyperArgument):
    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return _type_label(self, ctx)


class OnsetOption(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        return self.metavar if self.metavar is not None else _type_label(self, ctx)


@cache
def _styled(kind: type) -> type:
    """A subclass of a command's class whose --help option is restyled too."""

    def get_help_option(self: Any, ctx: Any) -> Any:
        option = kind.get_help_option(self, ctx)
        if isinstance(option, TyperOption):
            option.__class__ = OnsetOption
        return option

    return type(f"Styled{kind.__name__}", (kind,), {"get_help_option": get_help_option,
                                                     "styled": True})


def tidy(command: Any) -> None:
    """Restyle one command and, for a group, every command under it."""
    command.help = reflow(command.help)
    if not getattr(command, "styled", False):
        command.__class__ = _styled(type(command))
    for param in command.params:
        if isinstance(param, TyperArgument):
            param.__class__ = OnsetArgument
            param.metavar = param.metavar or param.name.upper()
        elif isinstance(param, TyperOption):
            param.__class__ = OnsetOption
        if getattr(param, "help", None):
            param.help = reflow(param.help)
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)


def reflow(text: str | None) -> str | None:
    """Join the lines inside each paragraph (rich wraps them to the terminal again)."""
    if not text:
        return text
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(re.sub(r"\s*\n\s*", " ", p) for p in paragraphs)


class OnsetGroup(TyperGroup):
    """The root group: restyles the tree when built, and prints usage errors on one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tidy(self)

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False,
                                  **extra)
        except typer.Abort:
            _error("aborted", 1)
        except ClickException as exc:
            if not exc.format_message().strip():  # `onset user` alone: its help was printed
                sys.exit(exc.exit_code)
            _error(_one_line(exc), exc.exit_code)
        sys.exit(result if isinstance(result, int) else 0)


def _error(message: str, code: int) -> None:
    """The same line `common.fail` prints, for errors raised before any command runs."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def _one_line(exc: ClickException) -> str:
    message = " ".join(exc.format_message().split()).rstrip(".")
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and isinstance(exc, UsageError):
        message += f" (see `{ctx.command_path} --help`)"
    return message
