"""The users' administration pages: an administrator creates, disables and enables users, assigns their roles and
department, issues and revokes API tokens; nobody else may, and bad input changes nothing."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.appraisal.models import StaffMember
from workflow.engine.users import user_by_name, user_by_token
from workflow.models import ApiToken, User

from .test_ui import Person, text_of


@pytest.fixture
def people(app, staff):
    for name, roles in {"admin": ["admin"], "lead": ["service_lead"], "auditor": ["auditor"],
                        "supervisor": ["supervisor"]}.items():
        staff(name, *roles)
    return lambda name, language="en": Person(app, name, language)


def _users() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def test_only_an_administrator_sees_and_uses_the_users_pages(app, people):
    admin = people("admin")
    assert 'href="/admin/users"' in admin.get("/cases").text
    listing = admin.get("/admin/users")
    assert listing.status_code == 200 and 'data-user="lead"' in listing.text
    for name in ("lead", "auditor"):
        person = people(name)
        assert 'href="/admin/users"' not in person.get("/cases").text
        assert person.get("/admin/users").status_code == 403
        assert person.get("/admin/users/lead").status_code == 403
    count = _users()
    lead = people("lead")
    lead.get("/cases")
    assert lead.post("/admin/users", {"name": "mallory", "roles": ["admin"]}).status_code == 403
    assert lead.post("/admin/users/lead/roles", {"roles": ["admin"]}).status_code == 403
    assert _users() == count
    db.session.expire_all()
    assert user_by_name(db.session, "lead").roles == {"service_lead"}


def test_an_administrator_creates_a_user_who_signs_in_with_the_roles_given(app, people):
    admin = people("admin")
    admin.get("/admin/users")
    created = admin.post("/admin/users", {"name": "wang", "display_name": "王工", "password": "wang-long-password",
                                          "roles": ["service_lead", "process_owner"]})
    assert created.status_code == 302 and created.headers["Location"].endswith("/admin/users/wang")
    db.session.expire_all()
    assert user_by_name(db.session, "wang").roles == {"service_lead", "process_owner"}
    wang = Person(app)
    wang.sign_in("wang", "wang-long-password")
    assert wang.get("/workflows").status_code == 200  # a process owner now

    count = _users()
    for bad, field in (({"name": "wang", "roles": ["service_lead"]}, "already exists"),
                       ({"name": "x" * 81, "roles": ["service_lead"]}, "1 to 80 characters"),
                       ({"name": "li", "roles": ["no_such_role"]}, "unknown role"),
                       ({"name": "li", "roles": []}, "choose at least one role"),
                       ({"name": "li", "roles": ["service_lead"], "password": "short"}, "at least 12")):
        response = admin.post("/admin/users", bad)
        assert response.status_code == 422, bad
        assert field in text_of(response.text), (bad, text_of(response.text)[-800:])
    assert _users() == count


def test_roles_are_assigned_and_an_administrator_keeps_their_own(app, people):
    admin = people("admin")
    admin.get("/admin/users/lead")
    assert admin.post("/admin/users/lead/roles", {"roles": ["service_lead", "quality_director"]}).status_code == 302
    db.session.expire_all()
    assert user_by_name(db.session, "lead").roles == {"service_lead", "quality_director"}
    assert admin.post("/admin/users/lead/roles", {"roles": ["system"]}).status_code == 422
    assert admin.post("/admin/users/admin/roles", {"roles": ["service_lead"]}).status_code == 422
    db.session.expire_all()
    assert user_by_name(db.session, "lead").roles == {"service_lead", "quality_director"}
    assert user_by_name(db.session, "admin").roles == {"admin"}
    assert admin.get("/admin/users/nobody").status_code == 404


def test_tokens_are_shown_once_revoked_and_disabling_revokes_them_all(app, people, clock):
    admin = people("admin")
    admin.get("/admin/users/lead")
    issued = admin.post("/admin/users/lead/tokens", {"token_name": "erp", "days": "30"})
    assert issued.status_code == 200
    token = re.search(r'data-testid="new-token">.*?<code>([^<]+)</code>', issued.text, re.S).group(1)
    assert user_by_token(db.session, token, clock.now()).name == "lead"
    db.session.commit()
    again = admin.get("/admin/users/lead")
    assert token not in again.text and "erp" in again.text  # the secret is shown once only

    for bad in ({"token_name": "", "days": "30"}, {"token_name": "erp2", "days": "9999"}):
        assert admin.post("/admin/users/lead/tokens", bad).status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 1
    assert admin.post("/admin/users/lead/tokens/revoke", {"token_name": "nope"}).status_code == 404

    assert admin.post("/admin/users/lead/tokens/revoke", {"token_name": "erp"}).status_code == 302
    db.session.expire_all()
    assert user_by_token(db.session, token, clock.now()) is None

    second = admin.post("/admin/users/lead/tokens", {"token_name": "erp", "days": "30"})
    token = re.search(r'data-testid="new-token">.*?<code>([^<]+)</code>', second.text, re.S).group(1)
    lead = people("lead")
    assert admin.post("/admin/users/lead/disable").status_code == 302
    db.session.expire_all()
    assert user_by_name(db.session, "lead").disabled_at is not None
    assert user_by_token(db.session, token, clock.now()) is None
    assert lead.get("/cases").status_code == 302  # signed out: their session ended
    assert admin.post("/admin/users/admin/disable").status_code == 422  # not oneself
    assert admin.post("/admin/users/lead/enable").status_code == 302
    db.session.expire_all()
    assert user_by_name(db.session, "lead").disabled_at is None


def test_the_department_is_set_in_the_staff_register(app, people):
    admin = people("admin", "zh")
    admin.get("/admin/users/lead")
    form = {"department": "售后服务部", "template": "field_service", "standard_pay": "1500", "supervisor": "supervisor",
            "active": "1"}
    assert admin.post("/admin/users/lead/department", form).status_code == 302
    db.session.expire_all()
    entry = db.session.get(StaffMember, "lead")
    assert entry.department == "售后服务部" and entry.supervisor == "supervisor"
    assert "售后服务部" in admin.get("/admin/users").text

    for bad in ({**form, "standard_pay": "lots", "department": "其他"},
                {**form, "template": "nope", "department": "其他"},
                {**form, "supervisor": "lead", "department": "其他"}, {**form, "department": "x" * 101}):
        assert admin.post("/admin/users/lead/department", bad).status_code == 422, bad
    db.session.expire_all()
    assert db.session.get(StaffMember, "lead").department == "售后服务部"
