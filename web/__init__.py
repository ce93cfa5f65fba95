"""The web layer: HTTP and HTML only. Every change to a case goes through `workflow.engine`."""

from __future__ import annotations

import os
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, request
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import IntegerConverter

import workflow.appraisal  # noqa: F401  (registers its tables on the metadata and its handlers with the engine)
from workflow.engine import Clock
from workflow.engine.calendar import WorkingCalendar

from . import config
from .extensions import db, db_session, end_transaction, migrate

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class RowId(IntegerConverter):
    """A row id in a URL: 1 to 2³¹−1 (ids are 32-bit integers on PostgreSQL). Any other number is a 404 for
    every method: refused during matching, it would make a PUT to an id too large a 405 (werkzeug)."""

    def to_python(self, value: str) -> Any:
        number = super().to_python(value)
        if not 1 <= number <= 2**31 - 1:
            raise NotFound()
        return number


def _clock(app: Flask) -> Clock:
    tz = ZoneInfo(app.config["WORKFLOW_TIMEZONE"])
    start, end = (time.fromisoformat(part) for part in app.config["WORKING_HOURS"].split("-"))
    calendar = WorkingCalendar(tz, start, end, country=app.config["HOLIDAY_COUNTRY"])
    clock = Clock(tz=tz, calendar=calendar)
    if app.config.get("WORKFLOW_NOW"):  # tests fix the clock
        clock.now_fn = app.config["WORKFLOW_NOW"]
    return clock


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.from_environment())
    if test_config:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    db.init_app(app)
    # Registered after Flask-SQLAlchemy's own teardown, so it runs before that one closes the session.
    app.teardown_appcontext(end_transaction)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    app.extensions["workflow_clock"] = _clock(app)

    # Row ids are 32-bit integers on PostgreSQL: a larger number in a URL is a 404, not a database error.
    app.url_map.converters["id"] = RowId

    from . import metrics

    metrics.init_app(app)  # before the limits, so that its clock starts before any request is refused

    from . import limits

    limits.init_app(app)  # first, so that its check runs before any other reads the request

    from . import security

    security.init_app(app)  # refuses to start without a real SECRET_KEY; then cookies, rate limits, headers

    from . import api, cli, health, slices, ui

    slices.modules("api")  # each adds its routes to api.bp

    app.register_blueprint(api.bp)
    cli.init_app(app)
    health.init_app(app)  # /healthz and /readyz: no session, no token, no case data
    ui.init_app(app)
    ui.csrf.exempt(api.bp)  # the API authenticates each call by its token, not by a cookie

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if request.path.startswith("/api/"):
            return api.http_error(exc)
        return ui.errors.http_error(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        db_session().rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            return api.error(500, "internal_error", "Something went wrong on our side; nothing was changed")
        return ui.errors.page(500)

    return app
