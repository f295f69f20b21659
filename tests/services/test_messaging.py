"""E-mail (issue 17, point 4), against a real SMTP server the test starts (aiosmtpd): form
links and reminders that stop once the form is sent, visit reminders that stop once the visit
is held or the booking cancelled, emergency-unblinding notices, a log of every message, and no
clinical content beyond the site's own wording."""

from __future__ import annotations

import datetime as dt
import email
import re
import socket
from collections.abc import Iterator
from email.message import Message as EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select

from openpat.errors import InvalidInput
from openpat.security import Principal
from openpat.services import jobs, messaging, outcomes, trial
from openpat.services.outcomes import ResponseCreate
from openpat.services.runtime import Actor, Platform
from openpat.services.worker import LocalWorker, tick
from openpat.store.models import Job, Message, RoomBooking, VisitRecord
from openpat.trial.pathway import ParticipantStatus
from openpat.web.app import create_app
from tests.conftest import TEST_NOW, ManualClock


class Inbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"

    def bodies_to(self, address: str) -> list[str]:
        return [_text(m) for to, m in self.received if any(address in t for t in to)]


def _text(message: EmailMessage) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode().replace("\r\n", "\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def mail_platform(demo_platform: Platform, inbox: tuple[Inbox, int]) -> Platform:
    demo_platform.settings = demo_platform.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": inbox[1],
            "mail_from": "trials@site.example.org",
            "public_url": "https://openpat.example.org/",
        }
    )
    demo_platform.clock = ManualClock(TEST_NOW)  # type: ignore[assignment]
    with demo_platform.uow(actor=Actor("test")) as uow:
        # only this test's messages: the demo's own open forms are taken as already e-mailed
        messaging.queue_due(uow)
        for m in uow.session.scalars(select(Message)):
            m.status, m.detail = "sent", "before the test"
        uow.commit()
    return demo_platform


def _participant(platform: Platform, index: int = 0) -> tuple[int, str]:
    """The ``index``-th demo participant still in the study (not completed or withdrawn)."""
    with platform.uow(actor=Actor("test"), read_only=True) as uow:
        active = [
            p for p, _a in uow.trial.randomised(1, None) if not ParticipantStatus(p.status).is_final
        ]
        p = active[index]
        identity = uow.participants.get_identity(p.id)
        assert identity is not None and identity.email
        return p.id, identity.email


def _send_form(platform: Platform, participant_id: int) -> int:
    with platform.uow(actor=Actor("test")) as uow:
        read = outcomes.create_response(
            uow=uow,
            principal=Principal.system("test"),
            response_in=ResponseCreate(
                participant_id=participant_id,
                instrument="PHQ-9",
                visit="Check-in",
                unscheduled=True,
            ),
        )
        uow.commit()
        return read.id


def _sweep(platform: Platform) -> dict[str, Any]:
    with platform.uow(actor=Actor("test")) as uow:
        job = jobs.queue_reminders(uow)
        uow.commit()
        job_id = job.id
    LocalWorker(platform).run_due()
    with platform.uow(actor=Actor("test"), read_only=True) as uow:
        row = uow.jobs.get(job_id)
        assert row is not None and row.status == "succeeded", row and row.error
        import json

        result: dict[str, Any] = json.loads(row.result or "{}")
        return result


def _messages(platform: Platform, **where: Any) -> list[Message]:
    with platform.uow(actor=Actor("test"), read_only=True) as uow:
        rows = [
            m
            for m in uow.session.scalars(select(Message).order_by(Message.id))
            if all(getattr(m, k) == v for k, v in where.items())
        ]
        for m in rows:
            uow.session.expunge(m)
        return rows


def _bodies_of(platform: Platform, box: Inbox, response_id: int) -> list[str]:
    """The e-mails received about one form (matched by the body's SHA-256 in the log)."""
    import hashlib

    sent = {m.body_sha256 for m in _messages(platform, response_id=response_id)}
    return [
        body
        for _to, m in box.received
        if hashlib.sha256((body := _text(m)).encode()).hexdigest() in sent
    ]


def test_form_link_by_email_then_reminders_that_stop_once_the_form_is_sent(
    mail_platform: Platform, inbox: tuple[Inbox, int]
) -> None:
    platform, box = mail_platform, inbox[0]
    pid, address = _participant(platform)
    response_id = _send_form(platform, pid)
    assert _sweep(platform) == {"queued": 1, "sent": 1, "skipped": 0, "failed": 0}
    [body] = _bodies_of(platform, box, response_id)
    link = re.search(r"https://openpat\.example\.org/f/(\S+)", body)
    assert link, body
    # the link works, as the participant, for this form only
    with TestClient(create_app(platform=platform)) as client:
        page = client.get(f"/f/{link.group(1)}")
        assert page.status_code == 200 and "PHQ-9" in page.text
    # no clinical content: not the instrument, the condition or the study
    for word in ("PHQ", "depress", "DMT", "psilocybin", "RCR-", "Check-in"):
        assert word.lower() not in body.lower(), word
    [logged] = _messages(platform, response_id=response_id)
    assert (logged.kind, logged.status, logged.key) == ("form", "sent", f"form:{response_id}:0")
    assert logged.to_masked == address[0] + "***@example.org" and logged.body_sha256
    # the same hour's sweep is queued once; and looking again queues nothing twice
    with platform.uow(actor=Actor("test")) as uow:
        first_sweep = jobs.queue_reminders(uow).id
        assert jobs.queue_reminders(uow).id == first_sweep
        assert messaging.queue_due(uow) == 0
    assert len(_bodies_of(platform, box, response_id)) == 1

    # two days on, the first reminder; it carries a new link, and the old one stops working
    platform.clock.at += dt.timedelta(days=2)  # type: ignore[attr-defined]
    _sweep(platform)
    _first, second = _bodies_of(platform, box, response_id)
    assert link.group(0) not in second and "https://openpat.example.org/f/" in second

    # five days on, the second reminder is queued, but the form is sent before it goes out
    platform.clock.at += dt.timedelta(days=3)  # type: ignore[attr-defined]
    with platform.uow(actor=Actor("test")) as uow:
        messaging.queue_due(uow)
        uow.commit()
    assert [m.status for m in _messages(platform, response_id=response_id)] == [
        "sent",
        "sent",
        "queued",
    ]
    with platform.uow(actor=Actor("test"), reason="the participant sent the form") as uow:
        row = uow.responses.get(response_id)
        assert row is not None
        row.status, row.submitted_at = "submitted", uow.now()
        uow.commit()
    messaging.send_queued(platform, messaging.mailer_for(platform.settings))
    assert len(_bodies_of(platform, box, response_id)) == 2
    last = _messages(platform, key=f"form:{response_id}:2")[0]
    assert (last.status, last.detail) == (
        "skipped",
        "the form was submitted before the e-mail was sent",
    )
    # and later sweeps queue nothing more for it
    platform.clock.at += dt.timedelta(days=10)  # type: ignore[attr-defined]
    _sweep(platform)
    assert len(_messages(platform, response_id=response_id)) == 3


def test_visit_reminders_stop_once_the_visit_is_held_or_the_booking_cancelled(
    mail_platform: Platform, inbox: tuple[Inbox, int]
) -> None:
    platform, box = mail_platform, inbox[0]
    people = [_participant(platform, k) for k in (1, 2, 3)]
    starts = TEST_NOW + dt.timedelta(hours=20)
    with platform.uow(actor=Actor("test"), reason="test bookings") as uow:
        ids = []
        for pid, _address in people:
            p = uow.participants.get(pid)
            assert p is not None
            b = RoomBooking(
                study_id=1,
                participant_id=pid,
                site_id=p.site_id,
                visit_key="integration-1",
                starts_at=starts,
                ends_at=starts + dt.timedelta(hours=1),
                status="booked",
                source="manual",
                created_at=uow.now(),
            )
            uow.session.add(b)
            uow.session.flush()
            ids.append(b.id)
        uow.commit()
    with platform.uow(actor=Actor("test"), reason="the visit was held early") as uow:
        assert messaging.queue_due(uow) == 3
        # before anything is sent: the second participant's visit is held early, the
        # third's booking is cancelled
        uow.session.add(
            VisitRecord(
                study_id=1,
                participant_id=people[1][0],
                visit_key="integration-1",
                done_on=TEST_NOW.date(),
                updated_at=uow.now(),
            )
        )
        cancelled = uow.schedule.booking(ids[2])
        assert cancelled is not None
        cancelled.status = "cancelled"
        uow.commit()
    counts = messaging.send_queued(platform, messaging.mailer_for(platform.settings))
    assert counts == {"sent": 1, "skipped": 2, "failed": 0}
    [body] = box.bodies_to(people[0][1])
    # 20 h after Friday 09:30 UTC is Saturday 05:30 UTC, 05:30 in London in December
    assert "Saturday 05 December 2026 at 05:30" in body and "integration" not in body.lower()
    assert box.bodies_to(people[1][1]) == [] and box.bodies_to(people[2][1]) == []
    details = {m.booking_id: m.detail for m in _messages(platform, kind="visit")}
    assert details[ids[1]] == "the visit was held"
    assert details[ids[2]] == "the booking was cancelled"


def test_emergency_unblinding_is_e_mailed_without_the_arm_or_the_reason(
    mail_platform: Platform, inbox: tuple[Inbox, int]
) -> None:
    platform, box = mail_platform, inbox[0]
    with platform.uow(actor=Actor("test"), read_only=True) as uow:
        investigator = uow.users.get_by_username("investigator")
        assert investigator is not None
        from openpat.services.auth import principal_of

        principal = principal_of(uow.users.get_with_memberships(investigator.id))  # type: ignore[arg-type]
        pid = next(p.id for p, _a in uow.trial.randomised(1, None))
        investigator_id = investigator.id
    with platform.uow(actor=Actor("investigator", investigator_id), reason="emergency") as uow:
        read = trial.emergency_unblind(
            uow=uow,
            principal=principal,
            participant_id=pid,
            request=trial.UnblindIn(reason="Serotonin syndrome suspected in A&E"),
        )
        uow.commit()
    LocalWorker(platform).run_due()
    notices = _messages(platform, kind="unblinding")
    assert len(notices) == read.notified and all(m.status == "sent" for m in notices)
    notices_received = [b for b in box.bodies_to("@example.org") if "emergency unblinding" in b]
    assert len(notices_received) == read.notified >= 2
    for body in notices_received:
        assert read.participant_code in body and "Sign in to openpat" in body
        assert read.arm not in body and read.arm_label not in body
        assert "Serotonin" not in body


def test_smtp_down_is_retried_and_no_smtp_is_logged_as_skipped(
    mail_platform: Platform, inbox: tuple[Inbox, int]
) -> None:
    platform, box = mail_platform, inbox[0]
    pid, _address = _participant(platform)
    good = platform.settings
    platform.settings = good.model_copy(update={"smtp_port": _free_port()})  # nobody listens
    response_id = _send_form(platform, pid)
    with platform.uow(actor=Actor("test")) as uow:
        job_id = jobs.queue_reminders(uow).id
        uow.commit()
    LocalWorker(platform).run_due()
    with platform.uow(actor=Actor("test"), read_only=True) as uow:
        job = uow.session.get(Job, job_id)
        assert job is not None and (job.status, job.attempts) == ("queued", 1)
        assert "could not be sent" in (job.error or "")
    [failed] = _messages(platform, response_id=response_id)
    assert failed.status == "failed" and "ConnectionRefused" in (failed.detail or "")
    platform.settings = good
    platform.clock.at += dt.timedelta(seconds=30)  # type: ignore[attr-defined]
    LocalWorker(platform).run_due()
    [sent] = _messages(platform, response_id=response_id)
    assert (sent.status, sent.attempts) == ("sent", 2)
    assert len(_bodies_of(platform, box, response_id)) == 1
    # no SMTP at all: nothing is sent, and the log says why
    platform.settings = good.model_copy(update={"smtp_host": None})
    other = _send_form(platform, _participant(platform, 4)[0])
    with platform.uow(actor=Actor("test")) as uow:
        messaging.queue_due(uow)
        uow.commit()
    messaging.send_queued(platform, messaging.mailer_for(platform.settings))
    [skipped] = _messages(platform, response_id=other)
    assert (skipped.status, skipped.detail) == (
        "skipped",
        "e-mail is not set up (OPENPAT_SMTP_HOST)",
    )
    # and the tick only queues reminder sweeps when e-mail is set up
    tick(platform)
    with platform.uow(actor=Actor("test"), read_only=True) as uow:
        assert [j.kind for j in uow.jobs.recent() if j.kind == "reminders.sweep"] == [
            "reminders.sweep"
        ]


def test_the_site_words_its_own_e_mails_with_known_placeholders_only(
    mail_platform: Platform, inbox: tuple[Inbox, int]
) -> None:
    platform, box = mail_platform, inbox[0]
    system = Principal.system("test")
    with platform.uow(actor=Actor("test")) as uow:
        for text, message in (
            ("Your form: {link} for {diagnosis}", "unknown placeholder {diagnosis}"),
            ("Please fill in your form at the clinic.", "the text must contain {link}"),
            ("Open {link", "a brace is not closed"),
        ):
            with pytest.raises(InvalidInput) as refused:
                messaging.set_email_texts(
                    uow=uow,
                    principal=system,
                    site_id=1,
                    texts=messaging.EmailTexts(form_text=text),
                )
            assert refused.value.fields[0].field == "form_text"
            assert message in refused.value.fields[0].message
        read = messaging.set_email_texts(
            uow=uow,
            principal=system,
            site_id=1,
            texts=messaging.EmailTexts(form_text="Dear participant, {site} asks: {link}"),
        )
        uow.commit()
    assert not read.form_text_is_default and read.visit_text_is_default
    pid, _address = _participant(platform)
    response_id = _send_form(platform, pid)
    _sweep(platform)
    [body] = _bodies_of(platform, box, response_id)
    assert body.startswith("Dear participant, ") and "asks: https://openpat.example.org/f/" in body
