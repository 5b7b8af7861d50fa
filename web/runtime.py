"""What a request or a task reaches through the Flask app: the settings and the database."""

from __future__ import annotations

from celery import Celery
from flask import current_app

from config import Settings
from models.database import Database

SETTINGS_KEY = "conveyor.settings"
DB_KEY = "conveyor.db"


def get_settings() -> Settings:
    return current_app.extensions[SETTINGS_KEY]


def get_db() -> Database:
    return current_app.extensions[DB_KEY]


def get_celery() -> Celery:
    """This app's Celery (not `celery.current_app`, which is whichever app was made last)."""
    return current_app.extensions["celery"]
