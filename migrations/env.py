"""Alembic environment: the database comes from DATABASE_URL, like everything else."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

import models
from config import load_settings_or_exit
from models.database import make_database

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def run_migrations() -> None:
    url = config.attributes.get("database_url") or load_settings_or_exit().database_url
    engine = make_database(url).engine
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=models.Base.metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
