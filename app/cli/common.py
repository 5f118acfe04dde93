"""Helpers every command module shares: settings, a database session, progress, errors."""

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.orm import Session

from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory, session_scope

err_console = Console(stderr=True)


def settings() -> Settings:
    return get_settings()


@contextmanager
def db_session(config: Settings | None = None) -> Iterator[Session]:
    config = config or settings()
    _require_migrated(config)
    engine = make_engine(config.resolved_database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def _require_migrated(config: Settings) -> None:
    from app.migrate import current_revision

    if current_revision(config) is None:
        fail(f"the database at {config.resolved_database_url} has no schema yet; "
             "run `onset db upgrade` first")


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[Any]:
    """Yields a `callback(done, total)` that drives a progress bar on stderr (so `--json`
    output on stdout stays clean). Under a background job (ONSET_PROGRESS_FILE set) it also
    appends JSON lines to that file, which the admin page reads."""
    to_file = _progress_file_writer(description)
    if not enabled:
        yield to_file
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            to_file(done, total)

        yield update


def _progress_file_writer(stage: str):
    """`progress` events in the one progress schema (`training.contract.ProgressWriter`)."""
    from training.contract import ProgressWriter

    path = os.environ.get("ONSET_PROGRESS_FILE")
    if not path:
        return lambda done, total: None
    writer = ProgressWriter(path)
    return lambda done, total: writer.step(stage, done, total)
