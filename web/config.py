"""Every setting of the service, with the environment variable that sets it and its default."""

from __future__ import annotations

import os
from typing import Any

DEFAULTS: dict[str, tuple[str, Any]] = {
    # setting: (environment variable, default)
    "SQLALCHEMY_DATABASE_URI": ("DATABASE_URL", "sqlite:///workflow.db"),  # relative: in instance/
    # `flask db upgrade` connects as the tables' owner when this is set; the service itself never does.
    "MIGRATION_DATABASE_URL": ("MIGRATION_DATABASE_URL", ""),
    # The role granted the service's rights after each upgrade (default: DATABASE_URL's user, when it
    # differs from the migrating one). See docs/operations.md, "Database roles".
    "DATABASE_APP_ROLE": ("DATABASE_APP_ROLE", ""),
    # The HMAC key of `flask audit checkpoint`: never in the database. AUDIT_KEY_FILE names a file holding it.
    "AUDIT_KEY": ("AUDIT_KEY", ""),
    "AUDIT_KEY_FILE": ("AUDIT_KEY_FILE", ""),
    # Signs the session cookie. No default: create_app refuses to start without one (unless debug or testing).
    # Else SECRET_KEY_FILE names a file holding it, else instance/secret_key (scripts/serve-demo.sh writes it).
    "SECRET_KEY": ("SECRET_KEY", ""),
    "SECRET_KEY_FILE": ("SECRET_KEY_FILE", ""),
    # Send the session cookie over HTTPS only. Off so that the plain-HTTP demo works: turn it on behind TLS.
    "SESSION_COOKIE_SECURE": ("SESSION_COOKIE_SECURE", False),
    "HSTS_SECONDS": ("HSTS_SECONDS", 0),  # Strict-Transport-Security max-age on HTTPS responses; 0: no header
    "FORCE_HTTPS": ("FORCE_HTTPS", False),  # redirect http:// to https:// here (normally the proxy's job)
    "TRUSTED_PROXIES": ("TRUSTED_PROXIES", 0),  # reverse proxies in front: trust that many X-Forwarded-For/-Proto
    "PASSWORD_MIN_LENGTH": ("PASSWORD_MIN_LENGTH", 12),
    "API_TOKEN_DAYS": ("API_TOKEN_DAYS", 90),  # default validity of a new API token
    # Failed sign-ins and token-less API calls are counted here; memory:// is per process (see docs/operations.md).
    "RATELIMIT_STORAGE_URI": ("RATELIMIT_STORAGE_URI", "memory://"),
    "SIGN_IN_LIMIT_PER_ACCOUNT": ("SIGN_IN_LIMIT_PER_ACCOUNT", "10 per 15 minutes"),  # failed sign-ins
    "SIGN_IN_LIMIT_PER_ADDRESS": ("SIGN_IN_LIMIT_PER_ADDRESS", "30 per 15 minutes"),  # failed sign-ins
    "API_UNAUTHORIZED_LIMIT": ("API_UNAUTHORIZED_LIMIT", "60 per minute"),  # API calls answered 401, per address
    # GET /metrics answers only a request bearing this token (Authorization: Bearer …); empty: /metrics is a 404.
    "METRICS_TOKEN": ("METRICS_TOKEN", ""),
    # A second process owner approves each publication of a workflow version (four-eyes), when true.
    "WORKBENCH_FOUR_EYES": ("WORKBENCH_FOUR_EYES", False),
    "WORKFLOW_TIMEZONE": ("WORKFLOW_TIMEZONE", "Asia/Shanghai"),
    "WORKING_HOURS": ("WORKING_HOURS", "08:30-17:30"),
    "HOLIDAY_COUNTRY": ("HOLIDAY_COUNTRY", "CN"),
    "API_PAGE_SIZE": ("API_PAGE_SIZE", 50),
    "WORKER_INTERVAL_SECONDS": ("WORKER_INTERVAL_SECONDS", 15.0),
    # Due cases the timer worker takes per transaction, 1-1000 (docs/operations.md, "The timer worker").
    "WORKER_BATCH_SIZE": ("WORKER_BATCH_SIZE", 100),
    # E-mail for notifications; empty SMTP_HOST means in-app notifications only.
    "SMTP_HOST": ("SMTP_HOST", ""),
    "SMTP_PORT": ("SMTP_PORT", 25),
    "SMTP_SENDER": ("SMTP_SENDER", "workflow@localhost"),
    "SMTP_USERNAME": ("SMTP_USERNAME", ""),
    "SMTP_PASSWORD": ("SMTP_PASSWORD", ""),
    "SMTP_STARTTLS": ("SMTP_STARTTLS", 0),
    "API_MAX_PAGE_SIZE": ("API_MAX_PAGE_SIZE", 500),
    "UI_PAGE_SIZE": ("UI_PAGE_SIZE", 25),  # cases per page in the web UI's lists
    # Input limits (docs/operations.md, "Input limits"): a larger request body is a 413, deeper JSON a 400,
    # and dates, datetimes and months (YYYY-MM) outside these years are refused as invalid inputs.
    "MAX_CONTENT_LENGTH": ("MAX_CONTENT_LENGTH", 1024 * 1024),
    "MAX_JSON_DEPTH": ("MAX_JSON_DEPTH", 20),
    "WORKFLOW_YEARS": ("WORKFLOW_YEARS", "2000-2100"),
    # Attachments (docs/operations.md, "Attachments"): stored by content hash under ATTACHMENT_DIR (empty:
    # instance/attachments); files larger than ATTACHMENT_MAX_BYTES or of a type not in ATTACHMENT_TYPES
    # (read from the content, comma-separated) are refused. ATTACHMENT_SCANNER names a virus-scan hook,
    # "module:function", called with the bytes and returning a reason to refuse or None.
    "ATTACHMENT_DIR": ("ATTACHMENT_DIR", ""),
    "ATTACHMENT_MAX_BYTES": ("ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024),
    "ATTACHMENT_TYPES": ("ATTACHMENT_TYPES", "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain"),
    "ATTACHMENT_SCANNER": ("ATTACHMENT_SCANNER", ""),
}


def _parse(raw: str, default: Any) -> Any:
    if isinstance(default, bool):  # bool("0") would be True
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return type(default)(raw)


def from_environment() -> dict[str, Any]:
    config: dict[str, Any] = {}
    for setting, (variable, default) in DEFAULTS.items():
        raw = os.environ.get(variable)
        config[setting] = default if raw is None else _parse(raw, default)
    # Accept the URLs that hosting tools hand out and use psycopg 3 for them.
    for setting in ("SQLALCHEMY_DATABASE_URI", "MIGRATION_DATABASE_URL"):
        url = config[setting]
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                config[setting] = "postgresql+psycopg://" + url[len(prefix):]
    return config
