"""`onset serve`."""

import sys

import typer

from app.cli.common import settings
from app.cli.root import cli


@cli.command("serve")
def serve_command(
    host: str = typer.Option(None, help="Interface to bind (default: ONSET_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default: ONSET_PORT, 8000)."),
    setup: bool = typer.Option(False, "--setup", help="First migrate, load the demo dataset "
                               "when the database is empty and create a first admin if none."),
    reload: bool = typer.Option(False, help="Restart on code and template changes "
                                "(development)."),
) -> None:
    """Serve the web app (http://127.0.0.1:8000 by default)."""
    import uvicorn

    config = settings()
    if setup:
        from app.services.setup import ensure_ready

        # The first admin's password goes to a terminal only, never into a redirected log.
        ensure_ready(config, say=typer.echo, show_password=sys.stdout.isatty())
    host, port = host or config.host, port or config.port
    typer.echo(f"Onset is serving on http://{host}:{port}  (Ctrl+C stops it)")
    # Templates are compiled once per process (app/main.py), so a changed one restarts too.
    uvicorn.run("app.main:create_app", factory=True, host=host, port=port, reload=reload,
                reload_includes=["*.py", "*.html"] if reload else None, log_level="info")
