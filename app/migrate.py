"""Run Alembic migrations from code (`onset db upgrade`, `make run`, tests)."""

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from app.config import PROJECT_ROOT, Settings
from app.db import make_engine


def alembic_config(settings: Settings) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.resolved_database_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def current_revision(settings: Settings) -> str | None:
    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        engine.dispose()
