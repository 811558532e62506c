"""Alembic environment: the app's engine and the metadata of every model.

Run through Flask-Migrate (`certprep db upgrade`), which provides the app context.
Revision ids are fixed readable strings (`0001_users`, `0002_jobs`, ...), given with
`--rev-id` when generating, so parallel branches chain without conflicts.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config

# Configure logging only when nothing else has (a CLI run); inside the app or the
# test suite the existing configuration stays.
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

logger = logging.getLogger("alembic.env")


def _target_metadata():
    import app.models  # noqa: F401  (registers every model on the metadata)
    from app.extensions import db

    return db.metadata


def _configure_args() -> dict:
    args = dict(current_app.extensions["migrate"].configure_args)
    args.setdefault("compare_type", True)
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    args.setdefault("render_as_batch", True)
    return args


def _skip_empty_autogenerate(context_, revision, directives):
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def run_migrations_offline() -> None:
    url = current_app.extensions["migrate"].db.engine.url.render_as_string(hide_password=False)
    context.configure(
        url=url, target_metadata=_target_metadata(), literal_binds=True, **_configure_args()
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # A batch rebuild drops and re-creates tables; with foreign keys on, that
            # DROP would cascade-delete child rows. The pragma only works outside a
            # transaction, hence before configure().
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=_target_metadata(),
            process_revision_directives=_skip_empty_autogenerate,
            **_configure_args(),
        )
        with context.begin_transaction():
            context.run_migrations()
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
