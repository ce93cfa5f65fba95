"""Users and their roles, for administrators: create, disable and enable, assign roles and a department,
issue and revoke API tokens, so that a department needs no shell for its daily administration.

Who is an administrator, and which roles exist, the engine's policy says; every change is an engine function
of workflow/engine/users.py (the department: the staff register's own operation). A new token is shown once,
on the page that issued it, and never stored in the session cookie.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from workflow.appraisal import templates as sheet_templates
from workflow.engine import WorkflowError, policy, users
from workflow.models import User

from ..extensions import db_session
from ..ui import nav, present
from ..ui.blueprint import bp
from ..ui.present import N_, clock, lang

MAX_NAME, MAX_DISPLAY_NAME, MAX_TOKEN_NAME = 80, 200, 80


def _admin() -> policy.Actor:
    actor: policy.Actor = current_user.actor
    if not policy.may_administer_users(actor):
        abort(403)
    return actor


def _is_admin() -> bool:
    return policy.may_administer_users(current_user.actor)


nav.add("ui.users_list", N_("Users"), _is_admin, prefix="ui.user")

def role_labels() -> dict[str, str]:
    """Each assignable role with its label: from the definition that declares it, else the engine's."""
    labels = present.role_labels()
    return {name: labels.get(name, name) for name in policy.assignable_roles(db_session())}


def _user(name: str) -> User:
    found = users.user_by_name(db_session(), name) if len(name) <= MAX_NAME else None
    if found is None:
        abort(404)
    return found


def _department(name: str) -> str | None:
    return policy.department_of(db_session(), name)


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, roles=role_labels(), **context), status


# -- the list, creating ----------------------------------------------------------------------------


@bp.get("/admin/users")
def users_list() -> tuple[str, int]:
    _admin()
    everyone = list(db_session().scalars(select(User).order_by(User.name)))
    departments = {u.name: _department(u.name) for u in everyone}
    return _page("workbench/users.html", people=everyone, departments=departments, form={}, errors={})


def _form_errors(name: str, display_name: str, chosen: list[str], known: set[str]) -> dict[str, str]:
    errors = {}
    if not name or len(name) > MAX_NAME or not name.isprintable() or name != name.strip() or " " in name:
        errors["name"] = _("1 to %(n)d characters, no spaces", n=MAX_NAME)
    if len(display_name) > MAX_DISPLAY_NAME:
        errors["display_name"] = _("at most %(n)d characters", n=MAX_DISPLAY_NAME)
    if not chosen:
        errors["roles"] = _("choose at least one role")
    elif set(chosen) - known:
        errors["roles"] = _("unknown role")
    return errors


@bp.post("/admin/users")
def create_user() -> Any:
    _admin()
    form = {k: request.form.get(k, "") for k in ("name", "display_name", "password")}
    chosen = request.form.getlist("roles")
    errors = _form_errors(form["name"], form["display_name"], chosen, set(policy.assignable_roles(db_session())))
    if not errors:
        try:
            users.create_user(db_session(), form["name"], chosen, clock().now(), password=form["password"] or None,
                              display_name=form["display_name"].strip() or None,
                              min_password_length=current_app.config["PASSWORD_MIN_LENGTH"])
            db_session().commit()
        except WorkflowError as exc:
            db_session().rollback()
            errors = {k: v[lang()] for k, v in exc.fields.items()} or {"name": exc.messages[lang()]}
    if errors:
        everyone = list(db_session().scalars(select(User).order_by(User.name)))
        return _page("workbench/users.html", 422, people=everyone, form={**form, "roles": chosen, "password": ""},
                     errors=errors, departments={u.name: _department(u.name) for u in everyone})
    flash(_("User %(name)s created.", name=form["name"]), "success")
    return redirect(url_for("ui.user_page", name=form["name"]))


# -- one user ----------------------------------------------------------------------------------------


def _user_page(person: User, status: int = 200, token: str | None = None,
               errors: dict[str, str] | None = None) -> tuple[str, int]:
    from workflow.appraisal.models import StaffMember  # the staff register is the appraisal's table

    return _page(
        "workbench/user.html", status, person=person, tokens=users.tokens_of(db_session(), person),
        now=clock().now(), token=token, errors=errors or {}, department=_department(person.name),
        staff=db_session().get(StaffMember, person.name), templates=sheet_templates.template_keys(db_session()),
        myself=person.name == current_user.name,
    )


@bp.get("/admin/users/<name>")
def user_page(name: str) -> tuple[str, int]:
    _admin()
    return _user_page(_user(name))


@bp.post("/admin/users/<name>/roles")
def set_user_roles(name: str) -> Any:
    actor = _admin()
    person = _user(name)
    chosen = set(request.form.getlist("roles"))
    # Roles the user holds that no workflow declares any more stay theirs unless unticked: they are shown too.
    known = set(policy.assignable_roles(db_session())) | person.roles
    if not chosen or chosen - known:
        return _user_page(person, 422, errors={"roles": _("choose at least one role")})
    if person.name == actor.name and not policy.may_administer_users(policy.Actor(actor.name, frozenset(chosen))):
        return _user_page(person, 422, errors={"roles": _("You cannot take your own administration away.")})
    users.set_roles(db_session(), person, chosen)
    db_session().commit()
    flash(_("Roles of %(name)s saved.", name=name), "success")
    return redirect(url_for("ui.user_page", name=name))


@bp.post("/admin/users/<name>/disable")
def disable_user(name: str) -> Any:
    actor = _admin()
    person = _user(name)
    if person.name == actor.name:
        return _user_page(person, 422, errors={"status": _("You cannot disable yourself.")})
    users.disable_user(db_session(), person, clock().now())
    db_session().commit()
    flash(_("%(name)s disabled: signed out everywhere, API tokens revoked.", name=name), "success")
    return redirect(url_for("ui.user_page", name=name))


@bp.post("/admin/users/<name>/enable")
def enable_user(name: str) -> Response:
    _admin()
    users.enable_user(db_session(), _user(name))
    db_session().commit()
    flash(_("%(name)s may sign in again; old API tokens stay revoked.", name=name), "success")
    return redirect(url_for("ui.user_page", name=name))


@bp.post("/admin/users/<name>/tokens")
def issue_user_token(name: str) -> tuple[str, int]:
    _admin()
    person = _user(name)
    token_name = request.form.get("token_name", "").strip()[:MAX_TOKEN_NAME + 1]
    days = request.form.get("days", type=int) or int(current_app.config["API_TOKEN_DAYS"])
    try:
        token = users.issue_token(db_session(), person, clock().now(), name=token_name, days=days)
        db_session().commit()
    except WorkflowError as exc:
        db_session().rollback()
        return _user_page(person, 422, errors={"token_" + k: v[lang()] for k, v in exc.fields.items()})
    return _user_page(person, token=token)  # shown once, here; only its digest is kept


@bp.post("/admin/users/<name>/tokens/revoke")
def revoke_user_token(name: str) -> Any:
    _admin()
    person = _user(name)
    token_name = request.form.get("token_name", "")[:MAX_TOKEN_NAME + 1]
    try:
        users.revoke_token(db_session(), person, token_name, clock().now())
        db_session().commit()
    except WorkflowError as exc:
        db_session().rollback()
        return _user_page(person, 404 if exc.code == "not_found" else 422, errors={"revoke": exc.messages[lang()]})
    flash(_("Token %(token)s revoked.", token=token_name), "success")
    return redirect(url_for("ui.user_page", name=name))


@bp.post("/admin/users/<name>/department")
def set_user_department(name: str) -> Any:
    """The user's entry in the staff register: the department (which department roles act in) and what the
    appraisal needs beside it."""
    from workflow.appraisal import operations

    _admin()
    person = _user(name)
    form = {k: request.form.get(k, "").strip() for k in ("department", "template", "standard_pay", "supervisor")}
    try:
        pay = Decimal(form["standard_pay"] or "0")
    except InvalidOperation:
        return _user_page(person, 422, errors={"standard_pay": _("a number")})
    try:
        operations.set_staff(db_session(), person.name, form["department"], form["template"], pay,
                             form["supervisor"], active=request.form.get("active") == "1")
        db_session().commit()
    except WorkflowError as exc:
        db_session().rollback()
        errors = {k: v[lang()] for k, v in exc.fields.items()} or {"department": exc.messages[lang()]}
        return _user_page(person, 422, errors=errors)
    flash(_("Staff register entry of %(name)s saved.", name=name), "success")
    return redirect(url_for("ui.user_page", name=name))
