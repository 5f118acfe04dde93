"""`onset import`, `onset stats` and `onset db`."""

from pathlib import Path

import typer

from app.cli.common import db_session, err_console, fail, print_json, progress_bar, settings
from app.cli.root import cli

db_app = typer.Typer(help="Database schema (upgrade, current revision), backups and restore.",
                     no_args_is_help=True)
cli.add_typer(db_app, name="db")


@cli.command("import")
def import_command(
    path: Path = typer.Argument(..., help="Root of a CK+ copy (holding cohn-kanade-images/, "
                                          "Emotion/, FACS/, Landmarks/; renamed roots are fine)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Import (or re-import) a CK+ copy. Safe to repeat: reviewers' work is never touched."""
    from app.services.importer import ImportRefused, ScanError, import_ckplus

    try:
        with db_session() as session, progress_bar("Scanning sequences",
                                                   enabled=not as_json) as progress:
            summary = import_ckplus(session, root=path, progress=progress,
                                    crops_dir=settings().crops_dir)
    except (ScanError, ImportRefused) as exc:
        fail(str(exc))
    data = summary.as_dict()
    if as_json:
        print_json(data)
    else:
        _print_import_summary(data)
    if summary.imported == 0:
        raise typer.Exit(1)


def _print_import_summary(data: dict) -> None:
    err_console.print(
        f"Imported {data['imported']} sequence(s) from {data['root']}: {data['added']} new, "
        f"{data['updated']} updated, {data['unchanged']} unchanged, {data['skipped']} skipped; "
        f"{data['frames_added']} new frame(s), {data['frames_changed']} changed in place "
        f"(their face detections and crops dropped), {data['ignored_files']} stray file(s) "
        "ignored "
        f"in {data['seconds']:.1f} s.", highlight=False)
    for line in data["errors"]:
        err_console.print(f"  [red]skipped[/] {line}", highlight=False)
    for line in data["warnings"][:20]:
        err_console.print(f"  [yellow]note[/] {line}", highlight=False)
    if len(data["warnings"]) > 20:
        err_console.print(f"  ... and {len(data['warnings']) - 20} more notes (see --json)")


@cli.command("stats")
def stats_command(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Counts of imported subjects, sequences, frames and original CK+ labels."""
    from app.services.stats import dataset_stats

    with db_session() as session:
        data = dataset_stats(session)
    if as_json:
        print_json(data)
        return
    typer.echo(f"{data['subjects']} subjects, {data['sequences']} sequences, "
               f"{data['frames']} frames, {data['labeled_sequences']} labeled sequences")
    for name, count in data["labels"].items():
        typer.echo(f"  {name:<9} {count}")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from app.migrate import current_revision, upgrade

    config = settings()
    upgrade(config, revision)
    typer.echo(f"database at {config.resolved_database_url} is at revision "
               f"{current_revision(config)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's current migration revision."""
    from app.migrate import current_revision

    revision = current_revision(settings())
    if revision is None:
        fail("no schema yet; run `onset db upgrade`", code=1)
    typer.echo(revision)


@db_app.command("backup")
def db_backup(
    file: Path = typer.Argument(..., help="Where to write the backup (one SQLite file)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Copy the database to FILE with SQLite's online backup API: safe while the server
    runs and reviewers save (the copy is one consistent instant), checked before it is
    renamed into place. For PostgreSQL, use pg_dump."""
    from app.services.backup import BackupError, backup

    try:
        with progress_bar("Backing up", enabled=not as_json) as progress:
            progress(0, 1)
            summary = backup(settings().resolved_database_url, file)
            progress(1, 1)
    except BackupError as exc:
        fail(str(exc))
    _report(summary.as_dict(), as_json, "backed up to")


@db_app.command("restore")
def db_restore(
    file: Path = typer.Argument(..., help="A file written by `onset db backup`."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Replace the database with FILE. Refuses while `onset serve` uses the database; the
    database it replaces is kept beside it as <name>.before-restore-<time>."""
    from app.services.backup import BackupError, restore

    config = settings()
    try:
        summary = restore(config.resolved_database_url, file,
                          known_revisions=_known_revisions(config))
    except BackupError as exc:
        fail(str(exc))
    _report(summary.as_dict(), as_json, "restored")
    head = _head_revision(config)
    if summary.revision != head and not as_json:
        err_console.print(f"The backup is at schema revision {summary.revision}; run "
                          f"`onset db upgrade` to bring it to {head}.", highlight=False)


def _scripts(config):
    from alembic.script import ScriptDirectory

    from app.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config(config))


def _known_revisions(config) -> set[str]:
    return {script.revision for script in _scripts(config).walk_revisions()}


def _head_revision(config) -> str | None:
    return _scripts(config).get_current_head()


def _report(data: dict, as_json: bool, verb: str) -> None:
    if as_json:
        print_json(data)
        return
    counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in data["counts"].items())
    typer.echo(f"{verb} {data['path']}: {data['bytes'] / 1e6:.1f} MB in {data['seconds']:.1f} s, "
               f"revision {data['revision']}, integrity {data['integrity']}; {counts}")
    if data.get("kept_previous"):
        typer.echo(f"the database it replaced is kept as {data['kept_previous']}")
