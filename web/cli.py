"""Flask CLI commands: `flask --app web create-admin EMAIL --password PASSWORD`."""

from __future__ import annotations

import click
from flask import Flask

from models import Role
from services import auth as auth_service
from services.errors import DomainError
from worker.runtime import get_db


def register_commands(app: Flask) -> None:
    @app.cli.command("create-admin")
    @click.argument("email")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    def create_admin(email: str, password: str) -> None:
        """Create an admin user."""
        if len(password) < 8:
            raise click.BadParameter("at least 8 characters", param_hint="--password")
        password_hash = auth_service.hash_password(password)
        try:
            with get_db().Session.begin() as session:
                user = auth_service.create_user(session, email, password_hash, Role.admin)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"admin {user.email} created (id {user.id})")
