"""`onset` console script: importing the command modules registers their commands."""

from app.cli.root import cli
from app.cli import data_cmds  # noqa: F401,E402,I001
from app.cli import serve_cmds  # noqa: F401,E402,I001
from app.cli import user_cmds  # noqa: F401,E402,I001
from app.cli import training_cmds  # noqa: F401,E402
from app.cli import demo_cmds  # noqa: F401,E402
from app.cli import crop_cmds  # noqa: F401,E402,I001
from app.cli import export_cmds  # noqa: F401,E402,I001
from app.cli import assist_cmds  # noqa: F401,E402,I001
from app.cli import experiment_cmds  # noqa: F401,E402,I001
from app.cli import job_cmds  # noqa: F401,E402,I001


def main() -> None:
    cli()
