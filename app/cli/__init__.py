"""`onset` console script: importing the command modules registers their commands."""

from app.cli.root import cli


def main() -> None:
    cli()
