"""`certprep user create|revoke`: accounts from the command line."""

from __future__ import annotations

import click

from app.cli.common import app_context
from app.models.user import Role


@click.group("user")
def user_group() -> None:
    """Accounts and their API tokens."""


@user_group.command("create")
@click.option("--email", required=True, help="Login email (stored lower-cased).")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.LEARNER.value,
    show_default=True,
)
@click.option(
    "--password",
    default=None,
    help="Password for POST /api/v1/auth/token; omit for a token-only account.",
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
    email: str, role: str, password: str | None, accommodation: float, ttl_seconds: int | None
) -> None:
    """Create an account and print a bearer token for it (on stdout, alone)."""
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
