"""The UI's own error pages. None of them ever shows a stack trace."""

from __future__ import annotations

from flask import Response, current_app, make_response, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .present import N_

TITLES = {
    400: N_("This request could not be understood"),
    403: N_("You may not do this"),
    404: N_("This page does not exist"),
    405: N_("This page does not exist"),
    413: N_("This request is too large"),
    500: N_("Something went wrong on our side"),
}
EXPLANATIONS = {
    400: N_("Go back, reload the page and try again."),
    403: N_("Your roles do not allow this. Auditors can look at every case but change none."),
    404: N_("The case or page you asked for is not here. It may have been mistyped."),
    405: N_("The case or page you asked for is not here. It may have been mistyped."),
    413: N_("Nothing was saved. Shorten the long texts in the form and send it again."),
    500: N_("Nothing was changed. Please try again; if it keeps happening, tell the administrator."),
}
CSRF_EXPLANATION = N_(
    "The form was sent without its security token, or from another site. Reload the page and send it again."
)
# Used when even the error page cannot be drawn (the database is down, say): plain, in both languages.
FALLBACK = (
    "<!doctype html><meta charset=utf-8><title>Error</title>"
    "<h1>Something went wrong · 出错了</h1><p>Nothing was changed. Please try again. · 未作任何更改，请重试。</p>"
)


def page(status: int, explanation: str | None = None) -> Response:
    """The error page for `status`, in the reader's language."""
    known = status if status in TITLES else (500 if status >= 500 else 400)
    try:
        html = render_template(
            "error.html", status=status, title=_(TITLES[known]), explanation=explanation or _(EXPLANATIONS[known]),
        )
    except Exception:
        current_app.logger.exception("could not render the error page for %s", status)
        html = FALLBACK
    return make_response(html, status)


def http_error(exc: HTTPException) -> Response:
    """Any HTTP error outside the API, as a page of ours."""
    if isinstance(exc, CSRFError):
        return page(400, _(CSRF_EXPLANATION))
    response = page(exc.code or 500)
    for name, value in exc.get_headers():
        if name == "Allow":  # a 405 says which methods would do
            response.headers[name] = value
    return response
