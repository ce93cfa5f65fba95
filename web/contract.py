"""API v1's one contract: SpecTree checks each request against the Pydantic models of web/api_models.py,
writes each answer from them, and builds the OpenAPI 3.1 document (/api/v1/openapi.json) from the same models.

A request the models refuse is answered in the API's own error body. Where the engine also checks a field
(a comment, a department, a month), the engine's own check words the refusal, so the API says exactly what
the UI and the CLI say; any other field gets a 400 naming it.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from flask import Flask, request
from flask import Response as FlaskResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails
from spectree import Response as Responses
from spectree import SecurityScheme, SpecTree
from spectree.models import SecureType, SecuritySchemeData

from workflow.engine import WorkflowError

PREFIX = "/api/v1"
_RULE_PART = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")  # Flask's <id:case_id> is OpenAPI's {case_id}
View = Callable[..., Any]
Route = Callable[..., FlaskResponse]  # what SpecTree makes of a view: the answer already written


class BadRequest(WorkflowError):
    code = "bad_request"


class Contract(BaseModel):
    """A request part (body, query or path). `refusals` name the fields the engine checks as well: when the
    model refuses one of them, its check (given the value as sent) raises the engine's own refusal."""

    model_config = ConfigDict(extra="ignore")
    refusals: ClassVar[Mapping[str, Callable[[Any], object]]] = {}


class Answer(BaseModel):
    """A response body: written by alias ("from"), every field always present unless it says otherwise."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True, validate_by_alias=True)


class ErrorDetail(BaseModel):
    code: str = Field(description="what went wrong, e.g. not_found, invalid_inputs, wrong_state")
    message: str = Field(description="in Chinese when Accept-Language prefers it")
    fields: dict[str, str] = Field(description="field name -> what is wrong with it")


class ErrorBody(BaseModel):
    """Every error of the API."""

    error: ErrorDetail


ERRORS = {
    400: "Bad request: a field or query argument the contract refuses, text with a NUL, JSON nested too deep",
    401: "No valid token", 403: "Refused: role or four-eyes", 404: "Not found",
    409: "Wrong state, stale expected_version or a duplicate", 413: "Request body larger than MAX_CONTENT_LENGTH",
    422: "Invalid inputs or a failed guard",
    429: "Too many calls without a valid token from this address (Retry-After says when to try again)",
}
# Any call may be refused as malformed or too large before it is looked at (web/limits.py), and any call but
# the document's own without a valid token.
ALWAYS = (400, 401, 413, 429)

spec = SpecTree(
    "flask", title="After-sales workflow service", version="1", mode="strict",
    validation_error_status=400, validation_error_model=ErrorBody,
    security_schemes=[SecurityScheme(name="bearer", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer"))],
    security={"bearer": []},
)


def operation(
    *, answer: type[BaseModel] | None = None, status: int = 200, errors: tuple[int, ...] = (),
    body: type[Contract] | None = None, query: type[Contract] | None = None, path: type[Contract] | None = None,
    form: type[Contract] | None = None, media: str | None = None,
) -> Callable[[View], Route]:
    """Declares a route's request parts and answers. The view receives the checked parts as `json=` and
    `query=` (by its annotations); `path` parts are checked only (Flask passes them as they are)."""
    codes = {f"HTTP_{code}": (ErrorBody, ERRORS[code]) for code in sorted({*ALWAYS, *errors})}
    responses = Responses(**{f"HTTP_{status}": answer}, **codes)
    before = functools.partial(_before, body, query, path, form)

    def decorate(view: View) -> Route:
        validated: Route = spec.validate(json=body, query=query, form=form, resp=responses, before=before)(view)
        _PARTS[view.__name__] = (path, media)
        return validated

    return decorate


_PARTS: dict[str, tuple[type[Contract] | None, str | None]] = {}


def _before(body: type[Contract] | None, query: type[Contract] | None, path: type[Contract] | None,
            form: type[Contract] | None, req: Any, resp: Any, refused: Exception | None, instance: Any,
            adapter: Any) -> None:
    """Called by SpecTree after it checked the query and the body (`refused` if either failed)."""
    if path is not None:
        raw_path = request.view_args or {}
        try:
            path.model_validate(raw_path)
        except ValidationError as exc:
            raise refusal(path, raw_path, exc) from None
    if body is not None and not isinstance(request.get_json(silent=True), dict):
        raise WorkflowError("The request body must be a JSON object", "请求体必须是 JSON 对象")
    if isinstance(refused, ValidationError):
        if query is not None and refused.title == query.__name__:
            raise refusal(query, request.args, refused) from None
        if form is not None and refused.title == form.__name__:  # a multipart upload's fields, said in our shape
            raise refusal(form, request.form, refused) from None
        if body is not None:
            raise refusal(body, request.get_json(silent=True) or {}, refused) from None


def refusal(model: type[Contract], raw: Mapping[str, Any], exc: ValidationError) -> WorkflowError:
    """The refusal of a request part the model did not take, in the engine's words where it has them."""
    errors: dict[str, ErrorDetails] = {}
    for error in exc.errors(include_url=False):
        errors.setdefault(str(error["loc"][0]) if error["loc"] else "body", error)
    for name in errors:
        if (check := model.refusals.get(name)) is not None:
            try:
                check(raw.get(name))
            except WorkflowError as engine_refusal:
                return engine_refusal
    fields = {name: _said(error) for name, error in errors.items()}
    names = ", ".join(fields)
    return BadRequest(f"Please correct: {names}", f"请更正：{'、'.join(fields)}", fields)


def _said(error: ErrorDetails) -> dict[str, str]:
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return {"en": "is required", "zh": "必填"}
    if kind.startswith("string"):
        if kind == "string_too_long":
            limit = context.get("max_length")
            return {"en": f"must be at most {limit} characters long", "zh": f"最多 {limit} 个字符"}
        if kind == "string_pattern_mismatch":
            return {"en": f"must match {context.get('pattern')}", "zh": f"须符合 {context.get('pattern')}"}
        return {"en": "must be text", "zh": "必须是文本"}
    if kind.startswith("int") or kind in ("greater_than_equal", "less_than_equal"):
        return {"en": f"must be a whole number ({error['msg']})", "zh": "必须是范围内的整数"}
    if kind == "literal_error":
        return {"en": f"must be {context.get('expected')}", "zh": f"须为 {context.get('expected')}"}
    return {"en": error["msg"], "zh": "无效"}


# -- the document -----------------------------------------------------------------------------------------


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the routes declared with `operation`, paths relative to /api/v1."""
    cached: dict[str, Any] | None = app.extensions.get("api_document")
    if cached is None:
        with app.app_context():
            cached = _document(copy.deepcopy(spec.spec), app)
        app.extensions["api_document"] = cached
    return cached


def _document(raw: dict[str, Any], app: Flask) -> dict[str, Any]:
    endpoints = {_RULE_PART.sub(r"{\1}", rule.rule): rule.endpoint.rpartition(".")[2]
                 for rule in app.url_map.iter_rules()}
    paths: dict[str, Any] = {}
    for url, operations in raw["paths"].items():
        route = url.removeprefix(PREFIX)
        for operation_ in operations.values():
            path_model, media = _PARTS[endpoints[url]]
            operation_.pop("tags", None)
            if not operation_.get("description"):
                operation_.pop("description", None)
            for parameter in operation_["parameters"]:
                if parameter["in"] == "path":
                    parameter["schema"] = _path_schema(path_model, parameter["name"])
                    parameter.pop("description", None)
            if media is not None:
                ok = next(code for code in operation_["responses"] if code.startswith("2"))
                operation_["responses"][ok]["content"] = {media: {"schema": {"type": "string"}}}
        paths[route] = operations
    raw.pop("tags", None)
    return {**raw, "servers": [{"url": PREFIX}], "paths": paths}


def _path_schema(model: type[Contract] | None, name: str) -> dict[str, Any]:
    from .api_models import RowIdPath

    for candidate in (model, RowIdPath):
        if candidate is not None and name in candidate.model_fields:
            schema: dict[str, Any] = candidate.model_json_schema()["properties"][name]
            schema.pop("title", None)
            return schema
    return {"type": "string"}
