"""`onset user`: accounts and API tokens."""

import sys

import typer

from app.cli.common import db_session, fail, print_json
from app.cli.root import cli

user_app = typer.Typer(help="Accounts (reviewer or admin) and API tokens for scripts.",
                       no_args_is_help=True)
cli.add_typer(user_app, name="user")


def _read_password() -> str:
    """From a hidden prompt on a terminal, else the first line of stdin (for scripts)."""
    if sys.stdin.isatty():
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@user_app.command("add")
def add_user(
    name: str = typer.Argument(..., help="Login name (letters, digits, '_', '.', '-')."),
    role: str = typer.Option("reviewer", "--role", help="reviewer or admin."),
) -> None:
    """Create a user. The password is asked for (or read from stdin when piped)."""
    from app.services.users import UserError, create_user

    password = _read_password()
    try:
        with db_session() as session:
            user = create_user(session, name=name, password=password, role=role)
            typer.echo(f"created {user.role} {user.name!r}")
    except UserError as exc:
        fail(str(exc))


@user_app.command("token")
def new_token(name: str = typer.Argument(..., help="The user the token acts as.")) -> None:
    """Print a new API token for NAME (send it as `Authorization: Bearer <token>`)."""
    from app.services.users import UserError, find_user, new_api_token

    try:
        with db_session() as session:
            token = new_api_token(session, user=find_user(session, name))
    except UserError as exc:
        fail(str(exc))
    typer.echo(token)


@user_app.command("list")
def list_users(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List users and their roles."""
    from sqlalchemy import select

    from app.models import User

    with db_session() as session:
        rows = [{"name": u.name, "role": u.role, "active": u.active}
                for u in session.scalars(select(User).order_by(User.name))]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['name']:<24} {row['role']}{'' if row['active'] else ' (inactive)'}")
