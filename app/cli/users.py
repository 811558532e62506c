"""`certprep user create|revoke`: accounts from the command line."""

from __future__ import annotations

import click

from app.cli.common import app_context

# The values of `app.models.user.Role` (a unit test keeps them equal), listed here so that
# `--help` does not import SQLAlchemy.
ROLES = ("learner", "trainer", "admin")


@click.group("user")
def user_group() -> None:
    """Accounts and their API tokens."""


@user_group.command("create")
@click.option("--email", required=True, help="Login email (stored lower-cased).")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="learner",
    show_default=True,
)
@click.option(
    "--password",
    default=None,
    help="Password for `certprep login` and POST /api/v1/auth/token (prompted for on a "
    "terminal when omitted; without one the account can use only the printed token).",
)
@click.option(
    "--no-password",
    is_flag=True,
    help="A token-only account: no password, no prompt (it cannot `certprep login`).",
)
@click.option(
    "--accommodation",
    type=float,
    default=1.0,
    show_default=True,
    help="Time multiplier for timed quizzes.",
)
@click.option(
    "--ttl",
    "ttl_seconds",
    type=click.IntRange(min=1),
    default=None,
    help="Token lifetime in seconds (default CERTPREP_TOKEN_TTL_SECONDS).",
)
def create(
    email: str,
    role: str,
    password: str | None,
    no_password: bool,
    accommodation: float,
    ttl_seconds: int | None,
) -> None:
    """Create an account and print a bearer token for it (on stdout, alone)."""
    import sys

    if no_password:
        password = None
    elif password is None and sys.stdin.isatty():
        password = (
            click.prompt(
                "Password (empty: a token-only account that cannot `certprep login`)",
                hide_input=True,
                confirmation_prompt=True,
                default="",
                show_default=False,
                err=True,
            )
            or None
        )
    from app.extensions import db
    from app.services.auth import issue_token
    from app.services.errors import ServiceError
    from app.services.users import create_user

    with app_context():
        try:
            user = create_user(email, role, password, accommodation, commit=False)
            issued = issue_token(user, ttl_seconds=ttl_seconds, label="cli", commit=False)
            db.session.commit()
        except ServiceError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from None
        click.echo(
            f"created {user.role.value} {user.email} (id {user.id}); token expires "
            f"{issued.expires_at.isoformat()}",
            err=True,
        )
        if password is None:
            click.echo(
                "no password set: `certprep login` cannot use this account; use the token "
                "below (--token or CERTPREP_TOKEN), or create it with --password",
                err=True,
            )
        click.echo(issued.token)


@user_group.command("revoke")
@click.option("--email", required=True)
def revoke(email: str) -> None:
    """Revoke every live token of an account."""
    from app.services.auth import revoke_user_tokens
    from app.services.users import find_user_by_email

    with app_context():
        user = find_user_by_email(email)
        if user is None:
            raise click.ClickException(f"no user with email {email}")
        address = user.email
        count = revoke_user_tokens(user.id)
    click.echo(f"revoked {count} token(s) of {address}")


commands: list[click.Command] = [user_group]
