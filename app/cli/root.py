"""The one Typer application every `onset` sub-command registers on.

Command modules live beside this file (one per area) and do `from app.cli.root import cli`;
`app/cli/__init__.py` imports them so their `@cli.command()` decorators run.
"""

import typer

from app.cli.style import OnsetGroup

cli = typer.Typer(
    name="onset",
    cls=OnsetGroup,  # one help style and one error line for every command (app/cli/style.py)
    help="Onset: review CK+ sequences, export curated datasets, crop faces, train and tune CNNs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
