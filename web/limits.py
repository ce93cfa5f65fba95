"""Limits on every request, checked before any view reads it (docs/operations.md, "Input limits").

A body larger than MAX_CONTENT_LENGTH is a 413. Text anywhere in the request (path, query, form fields,
JSON keys and values) that holds a NUL or cannot be written as UTF-8 (a lone surrogate such as "\\ud800",
which JSON can spell), and JSON nested deeper than MAX_JSON_DEPTH, are a 400. Each would otherwise reach
the database, the history's hash or Python's recursion limit and come back as a 500.

Query arguments that are numbers are read with `int_arg`: out of range or unreadable is a 400, never
silently clamped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from workflow.definitions.values import YearRange, set_years
from workflow.engine import WorkflowError

_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}")
UPLOADS = {"ui.add_note"}  # the forms that carry a file (web/desk): their bodies may be larger
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


class BadArgument(WorkflowError):
    """A query argument that is not what the call takes: a 400 under /api/ and in the UI alike."""

    code = "bad_request"


class _Problem(Exception):
    def __init__(self, where: str, en: str, zh: str):
        super().__init__(en)
        self.where, self.messages = where, {"en": en, "zh": zh}


def init_app(app: Flask) -> None:
    set_years(YearRange.parse(str(app.config["WORKFLOW_YEARS"])))
    app.before_request(check_request)
    app.register_error_handler(BadArgument, _bad_argument)


# -- the request as a whole ----------------------------------------------------------------------


def check_request() -> ResponseReturnValue | None:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.endpoint in UPLOADS and current_app.config.get("ATTACHMENT_MAX_BYTES"):
        # An upload may carry a file of ATTACHMENT_MAX_BYTES; up to twice that reaches the form, so that a
        # file just over the limit is refused next to its field rather than by a bare 413 page.
        limit = max(limit or 0, 2 * int(current_app.config["ATTACHMENT_MAX_BYTES"]))
        request.max_content_length = limit
    if limit is not None and (request.content_length or 0) > limit:
        # Refused before anything is read, whether or not the view would have read the body.
        raise RequestEntityTooLarge(f"The request body may be at most {limit} bytes")
    try:
        _check_text("path", request.path)
        _check_pairs(request.args)
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            _check_pairs(request.form, current_app.config["MAX_JSON_DEPTH"])
        if request.is_json:
            _check_json(current_app.config["MAX_JSON_DEPTH"])
    except _Problem as problem:
        return _refusal(problem)
    return None


def _check_text(where: str, text: str) -> None:
    if "\x00" in text:  # PostgreSQL cannot store it, and no person types it
        raise _Problem(where, "The request contains a NUL character", "请求包含 NUL 字符")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise _Problem(where, "The request contains text that is not valid Unicode (a lone surrogate)",
                           "请求包含无效的 Unicode 文本（孤立代理项）") from None


def _check_pairs(pairs: MultiDict[str, str], max_depth: int | None = None) -> None:
    """Query arguments or form fields; `max_depth` bounds the JSON a form field may hold."""
    for name, values in pairs.lists():
        _check_text(_shown(name), name)
        for value in values:
            _check_text(_shown(name), value)
            if max_depth is not None and _json_depth(value) > max_depth:
                raise _too_deep(_shown(name), max_depth)


def _json_depth(text: str) -> int:
    """How deep the JSON a form field may hold (a score sheet typed in a text area) is nested, counted
    without parsing it: the UI parses it later, and Python's parser fails beyond ~1000 levels."""
    if not text.lstrip().startswith(("{", "[")):
        return 0
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _check_json(max_depth: int) -> None:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested beyond Python's own limit: the parser gave up
        raise _too_deep("body", max_depth) from None
    for where, depth, value in _walk(body):
        if depth > max_depth:
            raise _too_deep(where or "body", max_depth)
        if isinstance(value, str):
            _check_text(where or "body", value)


def _too_deep(where: str, max_depth: int) -> _Problem:
    return _Problem(where, f"The request holds JSON nested more than {max_depth} levels deep",
                    f"请求中的 JSON 嵌套超过 {max_depth} 层")


def _walk(body: Any) -> Iterator[tuple[str, int, Any]]:
    """(where, depth, value) for every key and value of a parsed JSON body, without recursion."""
    stack: list[tuple[str, int, Any]] = [("", 0, body)]
    while stack:
        where, depth, value = stack.pop()
        yield where, depth, value
        children: Iterable[tuple[str, Any]] = ()
        if isinstance(value, dict):
            for key in value:
                yield _join(where, key), depth + 1, key
            children = ((_join(where, k), v) for k, v in value.items())
        elif isinstance(value, list):
            children = ((f"{where}[{i}]", v) for i, v in enumerate(value))
        stack.extend((w, depth + 1, v) for w, v in children)


def _join(where: str, key: str) -> str:
    return f"{where}.{_shown(key)}" if where else _shown(key)


def _shown(name: str) -> str:
    """A name as it can be put in the error body: short, and UTF-8 even when it is the bad part."""
    return name[:60].encode("utf-8", "backslashreplace").decode("utf-8")


def _refusal(problem: _Problem) -> ResponseReturnValue:
    from . import api
    from .ui import errors

    if request.path.startswith("/api/"):
        message = problem.messages[api.lang()]
        return api.error(400, "bad_request", message, {problem.where: message})
    return errors.page(400, problem.messages[_ui_lang()])


def _ui_lang() -> str:
    from .ui.present import lang

    return "zh" if lang() == "zh" else "en"


# -- numbers in the query ------------------------------------------------------------------------


def int_arg(name: str, default: int, low: int, high: int, args: Mapping[str, str] | None = None) -> int:
    """The query argument `name` (of `args`, else the request's) as a whole number from `low` to `high`,
    `default` when absent or blank; BadArgument otherwise."""
    found = optional_int_arg(name, low, high, args)
    return default if found is None else found


def optional_int_arg(name: str, low: int, high: int, args: Mapping[str, str] | None = None) -> int | None:
    raw = (request.args if args is None else args).get(name, "").strip()
    if not raw:
        return None
    if not _WHOLE_NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
        raise BadArgument(f"{name} must be a whole number from {low} to {high}",
                          f"{name} 须为 {low} 至 {high} 之间的整数",
                          {name: {"en": f"must be a whole number from {low} to {high}",
                                  "zh": f"须为 {low} 至 {high} 之间的整数"}})
    return int(raw)


def _bad_argument(exc: BadArgument) -> ResponseReturnValue:
    """Outside the API (whose own handler answers it first): the UI's 400 page with the reason."""
    return _refusal(_Problem("", exc.messages["en"], exc.messages["zh"]))
