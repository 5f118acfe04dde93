"""First-run set-up for `make run` (`onset serve --setup`): migrate, load the built-in demo
dataset when the database is empty, and create a first admin when there is none."""

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from app.config import Settings
from app.db import make_engine, make_session_factory, session_scope
from app.models import Sequence
from app.services.users import ensure_first_admin

DEMO_SEED = 0


def ensure_ready(settings: Settings, *, load_demo: bool = True,
                 say: Callable[[str], None] = print, show_password: bool = True) -> None:
    """`show_password=False` where the output may be kept (a log file, a service journal):
    the first admin's password is then never printed, and the admin sets one with
    `onset user passwd admin`."""
    from app.migrate import upgrade

    upgrade(settings)
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    try:
        with session_scope(factory) as session:
            empty = not session.scalar(select(func.count(Sequence.id)))
        if empty and load_demo:
            _load_demo(settings, factory, say)
        with session_scope(factory) as session:
            password = ensure_first_admin(session)
        if password and not show_password:
            say("Created the first admin, `admin`. Its password is not printed here, as this "
                "output is not a terminal and may be kept in a log: set one with "
                "`onset user passwd admin`.")
        elif password:
            say("\n" + "=" * 64 + "\nCreated the first admin. Log in at "
                f"http://{settings.host}:{settings.port}/login with\n"
                f"    user: admin\n    password: {password}\n"
                "This password is shown only once: keep it, or set a new one with "
                "`onset user passwd admin`.\n" + "=" * 64)
    finally:
        engine.dispose()


def _load_demo(settings: Settings, factory, say: Callable[[str], None]) -> None:
    from app.demo import generate_demo
    from app.services.importer import import_ckplus

    out = Path(settings.data_dir) / "demo"
    if not (out / "demo_truth.csv").is_file():
        say(f"The database is empty: generating the demo dataset in {out} ...")
        generate_demo(out, seed=DEMO_SEED)
    with session_scope(factory) as session:
        summary = import_ckplus(session, root=out)
    say(f"Imported the demo dataset: {summary.imported} sequences, "
        f"{summary.frames_added} frames.")
