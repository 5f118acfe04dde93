"""Every `onset ... --help` reads the same way (no `<bool>`/`{name}` placeholders, choices
named, no hard-wrapped ragged paragraphs), and every usage error is one line, `error: ...`,
exit 2."""

import re

import pytest
import typer
from typer.testing import CliRunner

from app.cli import cli
from app.services.export.params import COLORS, FACES, FALLBACKS, LABEL_SOURCES, POLICIES
from app.services.faces.cache import SOURCES
from training.config import PRESETS
from training.tune import ALGORITHMS

runner = CliRunner()
WIDTH = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}
TYPE_PLACEHOLDER = re.compile(r"<(bool|str|int|float|path|Path|file|directory|list\[[^]]*\]|"
                              r"int range|float range)>")


def _command_paths(command, path=()):
    yield list(path)
    for name, sub in getattr(command, "commands", {}).items():
        yield from _command_paths(sub, (*path, name))


PATHS = list(_command_paths(typer.main.get_command(cli)))


def _help(path: list[str]) -> str:
    result = runner.invoke(cli, [*path, "--help"], env=WIDTH)
    assert result.exit_code == 0, (path, result.output)
    return result.output


def test_every_command_is_walked():
    names = {" ".join(p) for p in PATHS}
    assert {"train", "export", "db backup", "user passwd", "suspects"} <= names
    assert len(PATHS) >= 25


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "onset")
def test_help_has_no_placeholders_and_no_ragged_paragraphs(path):
    text = _help(path)
    assert not TYPE_PLACEHOLDER.search(text), TYPE_PLACEHOLDER.search(text).group()
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage and "}" not in usage, usage
    # A paragraph line that stops well short of the box width while the next line goes on
    # with the same sentence is a hard-wrapped docstring the renderer did not reflow.
    lines = [line.rstrip() for line in text.splitlines()]
    for line, following in zip(lines, lines[1:], strict=False):
        if line.startswith(" ") and not line.startswith(("│", "╭", "╰")) and following:
            words = following.split()
            ragged = len(line) < 80 and words and words[0][:1].islower()
            assert not ragged, (path, line, following)


@pytest.mark.parametrize(("path", "option", "choices"), [
    (["train"], "--preset", PRESETS),
    (["tune"], "--algorithm", ALGORITHMS),
    (["crop"], "--source", SOURCES),
    (["crop"], "--color", COLORS),
    (["export"], "--policy", POLICIES),
    (["export"], "--fallback", FALLBACKS),
    (["export"], "--labels", LABEL_SOURCES),
    (["export"], "--face", FACES),
    (["user", "add"], "--role", ("reviewer", "admin")),
])
def test_choices_are_listed(path, option, choices):
    rows, entry = _help(path).splitlines(), []
    start = next(i for i, row in enumerate(rows) if re.match(rf"│\s+(\*\s+)?{option}\s", row))
    for row in rows[start:]:
        if entry and (re.match(r"│\s+(\*\s+)?--", row) or not row.startswith("│")):
            break
        entry.append(row.strip("│ "))
    entry = " ".join(entry)
    for choice in choices:
        assert choice in entry, (option, choice, entry)


@pytest.mark.parametrize("argv", [
    ["train", "--nope"],            # unknown option
    ["train"],                      # missing argument
    ["crop", "--size", "big"],      # not an integer
    ["no-such-command"],
    ["user", "role"],               # missing arguments of a sub-command
    ["demo", "--subjects", "0", "--out", "x"],  # out of range
])
def test_usage_errors_are_one_line_and_exit_2(argv):
    result = runner.invoke(cli, argv, env=WIDTH)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "--help" in lines[0]  # where to look next


def test_the_commands_own_errors_read_the_same(tmp_path):
    result = runner.invoke(cli, ["train", str(tmp_path / "missing.zip"), "--preset", "x",
                                 "--config", "y.json"], env=WIDTH)
    assert result.exit_code == 2
    assert result.output.strip() == "error: give either --preset or --config, not both"
