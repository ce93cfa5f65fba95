"""Every setting of the service, with the environment variable that sets it and its default."""

from __future__ import annotations

import os
from typing import Any

DEFAULTS: dict[str, tuple[str, Any]] = {
    # setting: (environment variable, default)
    "SQLALCHEMY_DATABASE_URI": ("DATABASE_URL", "sqlite:///workflow.db"),  # relative: in instance/
    "SECRET_KEY": ("SECRET_KEY", "dev-only-change-me"),
    "WORKFLOW_TIMEZONE": ("WORKFLOW_TIMEZONE", "Asia/Shanghai"),
    "WORKING_HOURS": ("WORKING_HOURS", "08:30-17:30"),
    "HOLIDAY_COUNTRY": ("HOLIDAY_COUNTRY", "CN"),
    "API_PAGE_SIZE": ("API_PAGE_SIZE", 50),
    "WORKER_INTERVAL_SECONDS": ("WORKER_INTERVAL_SECONDS", 15.0),
    # E-mail for notifications; empty SMTP_HOST means in-app notifications only.
    "SMTP_HOST": ("SMTP_HOST", ""),
    "SMTP_PORT": ("SMTP_PORT", 25),
    "SMTP_SENDER": ("SMTP_SENDER", "workflow@localhost"),
    "SMTP_USERNAME": ("SMTP_USERNAME", ""),
    "SMTP_PASSWORD": ("SMTP_PASSWORD", ""),
    "SMTP_STARTTLS": ("SMTP_STARTTLS", 0),
    "API_MAX_PAGE_SIZE": ("API_MAX_PAGE_SIZE", 500),
    "UI_PAGE_SIZE": ("UI_PAGE_SIZE", 25),  # cases per page in the web UI's lists
}


def from_environment() -> dict[str, Any]:
    config: dict[str, Any] = {}
    for setting, (variable, default) in DEFAULTS.items():
        raw = os.environ.get(variable)
        config[setting] = default if raw is None else type(default)(raw)
    url = config["SQLALCHEMY_DATABASE_URI"]
    # Accept the URLs that hosting tools hand out and use psycopg 3 for them.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + url[len(prefix):]
    return config
