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


def _change(action, **kwargs) -> None:
    """Run an account change in one transaction; a refusal is one `error:` line."""
    from app.services.users import UserError

    try:
        with db_session() as session:
            user = action(session, **kwargs)
            typer.echo(f"{user.name}: {user.role}, {'active' if user.active else 'disabled'}")
    except UserError as exc:
        fail(str(exc))


@user_app.command("passwd")
def change_password(name: str = typer.Argument(..., help="The account to change.")) -> None:
    """Set a new password for NAME (prompted, or stdin when piped); ends NAME's sessions."""
    from app.services.users import set_password

    _change(set_password, name=name, password=_read_password())


@user_app.command("disable")
def disable_user(name: str = typer.Argument(..., help="The account to disable.")) -> None:
    """Lock NAME out at once: sessions end and API tokens stop working. Work stays stored.
    The last active admin cannot be disabled."""
    from app.services.users import set_active

    _change(set_active, name=name, active=False)


@user_app.command("enable")
def enable_user(name: str = typer.Argument(..., help="The account to enable.")) -> None:
    """Let a disabled account log in again (with its old password and tokens)."""
    from app.services.users import set_active

    _change(set_active, name=name, active=True)


@user_app.command("role")
def change_role(name: str = typer.Argument(..., help="The account to change."),
                role: str = typer.Argument(..., help="reviewer or admin.")) -> None:
    """Make NAME a reviewer or an admin. The last active admin cannot be demoted."""
    from app.services.users import set_role

    _change(set_role, name=name, role=role)


@user_app.command("tokens")
def list_api_tokens(
    name: str | None = typer.Argument(None, help="Only this user's tokens."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List API tokens: id, owner, last characters, created and last used (the tokens
    themselves are stored only as hashes and cannot be shown again)."""
    from app.services.users import UserError, list_tokens

    try:
        with db_session() as session:
            rows = [{"id": t.id, "user": t.user.name, "ends_with": t.hint,
                     "created": t.created_at.isoformat(),
                     "last_used": t.last_used_at.isoformat() if t.last_used_at else None}
                    for t in list_tokens(session, name=name)]
    except UserError as exc:
        fail(str(exc))
    if as_json:
        print_json(rows)
        return
    for row in rows:
        hint = f"…{row['ends_with']}" if row["ends_with"] else "(old token)"
        typer.echo(f"{row['id']:>5}  {row['user']:<20} {hint:<12} created {row['created'][:19]}"
                   f"  last used {row['last_used'][:19] if row['last_used'] else 'never'}")


@user_app.command("revoke")
def revoke_api_token(token_id: int = typer.Argument(..., help="Token id from `onset user "
                                                             "tokens`.")) -> None:
    """Revoke an API token: scripts that send it get 401 from then on."""
    from app.services.users import UserError, revoke_token

    try:
        with db_session() as session:
            row = revoke_token(session, token_id=token_id)
            typer.echo(f"revoked token {row.id} of {row.user.name}")
    except UserError as exc:
        fail(str(exc))
