"""E-mail notifications through a real SMTP server that the test starts on loopback."""

from __future__ import annotations

import socket
from datetime import timedelta
from email import message_from_bytes

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from web.extensions import db
from workflow.models import Notification, User

from .test_timers import RECEIPT, RETURN


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


def test_due_timers_mail_the_people_with_an_address_once(app, api, frozen_clock, runner, smtp_server):
    port, inbox = smtp_server
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SENDER="workflow@factory.example")
    case = api.open("service_lead", "return_inspection", RETURN)
    case = api.act("service_lead", case, "collect_opinions", {"application_ref": "RA-1", "opinions": "ok"})
    case = api.act("quality_director", case, "approve")
    case = api.act("returns_clerk", case, "receive", RECEIPT)
    api.user("fg_qa")
    db.session.execute(sa.update(User).where(User.name == "fg_qa").values(email="qa@factory.example"))
    db.session.commit()

    warn = (frozen_clock.now + timedelta(hours=40)).isoformat()
    due = (frozen_clock.now + timedelta(hours=48)).isoformat()
    assert runner.invoke(args=["workflow", "tick", "--now", warn]).exit_code == 0
    assert runner.invoke(args=["workflow", "tick", "--now", due]).exit_code == 0
    runner.invoke(args=["workflow", "tick", "--now", due])
    recipients = [to for to, _ in inbox.messages]
    assert recipients == [["qa@factory.example"], ["qa@factory.example"]]  # the warning, then the overdue mark
    subjects = [m["Subject"] for _, m in inbox.messages]
    assert subjects[0].startswith("[warning]") and subjects[1].startswith("[overdue]")
    assert "48" in inbox.messages[1][1].get_payload(decode=True).decode("utf-8")
    statuses = db.session.execute(sa.select(User.name, Notification.email_status)
                                  .join(User, User.id == Notification.user_id)).all()
    assert {(n, s) for n, s in statuses} == {("fg_qa", "sent"), ("service_lead", "none")}
