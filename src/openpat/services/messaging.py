"""E-mail: personal form links and reminders to participants, visit reminders, and notices of
an emergency unblinding to the study's investigators, monitors and unblinded statistician.

- **Stops when it should.** Whether a message is still wanted is checked again immediately
  before it is sent: a form submitted, a visit held, a booking cancelled or moved, or a
  participant withdrawn or completed turns the message into "skipped", with the reason, and
  nothing is sent.
- **Logged.** Every message, sent or not, is a row in ``messages``: kind, record, the
  recipient's address masked (j***@example.org), subject, status, reason or error, and a
  SHA-256 of the body. The body itself is not kept: a form's e-mail holds a personal link.
- **No clinical content.** Participants' e-mails carry only what the site's wording asks for,
  filled from :data:`PLACEHOLDERS` (the site's name, the link and its expiry, a visit's date
  and time). The instrument, the visit's kind and the study's condition are never named.
  Each site may set its own wording; openpat's default is below.
- **Sent once.** Each message has a key (``form:12:1`` is the second e-mail about form 12), so
  however often the sweep runs, a reminder is queued once. A send that fails is tried again by
  the next sweep, up to three attempts.

SMTP is configured in the settings (``OPENPAT_SMTP_HOST`` and friends). Without it nothing is
sent and each message is logged as skipped, saying why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import smtplib
import string
from email.message import EmailMessage
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from openpat.config import Settings
from openpat.errors import InvalidInput, NotFound
from openpat.security import Permission, Principal
from openpat.services.runtime import Platform
from openpat.store.audit import Actor
from openpat.store.models import Message, RoomBooking
from openpat.store.uow import UnitOfWork
from openpat.trial.pathway import ParticipantStatus
from openpat.trial.schedule import site_zone

PLACEHOLDERS = frozenset({"site", "link", "expires", "date", "time"})

DEFAULT_FORM_TEXT = """Hello,

{site} has a questionnaire for you to fill in. Please open your personal link:

{link}

The link works until {expires}. It is personal to you: please do not pass it on.

If you did not expect this e-mail, or need help, please contact {site}."""

DEFAULT_VISIT_TEXT = """Hello,

This is a reminder of your appointment at {site} on {date} at {time}.

If you cannot come, please contact {site} as soon as you can."""

FORM_SUBJECT = "A questionnaire from {site}"
VISIT_SUBJECT = "Your appointment at {site}"

# A participant's form: its link when it is sent (day 0), then reminders on days 2 and 5.
FORM_EMAIL_DAYS = (0, 2, 5)
# A booked visit: one reminder once it starts within the next 24 hours.
VISIT_REMINDER_AHEAD = dt.timedelta(hours=24)
LINK_DAYS = 7


def check_text(field: str, text: str, *, needs: frozenset[str] = frozenset()) -> str:
    """A site's wording: only the known placeholders, and the ones it needs (a form's link)."""
    used: set[str] = set()
    try:
        for _literal, name, _spec, _conv in string.Formatter().parse(text):
            if name is not None:
                used.add(name)
    except ValueError:
        raise InvalidInput.for_field(
            field, "a brace is not closed; write placeholders as {site}, {link} …"
        ) from None
    unknown = sorted(used - PLACEHOLDERS)
    if unknown:
        allowed = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
        raise InvalidInput.for_field(
            field, f"unknown placeholder {{{unknown[0]}}}; the ones filled in are {allowed}"
        )
    missing = sorted(needs - used)
    if missing:
        raise InvalidInput.for_field(field, f"the text must contain {{{missing[0]}}}")
    return text


def _fill(template: str, **values: str) -> str:
    return template.format(**{p: values.get(p, "") for p in PLACEHOLDERS})


def mask(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


# -- site wording ------------------------------------------------------------------------------


class EmailTexts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    form_text: str | None = Field(
        default=None,
        max_length=4000,
        description="the e-mail with a participant's form link; must contain {link}; "
        "empty or null goes back to openpat's default",
    )
    visit_text: str | None = Field(
        default=None,
        max_length=4000,
        description="the visit reminder; empty or null goes back to openpat's default",
    )


class EmailTextsRead(BaseModel):
    site_id: int
    form_text: str
    form_text_is_default: bool
    visit_text: str
    visit_text_is_default: bool
    placeholders: list[str]


def _texts_read(site: Any) -> EmailTextsRead:
    form = (site.email_form_text or "").strip()
    visit = (site.email_visit_text or "").strip()
    return EmailTextsRead(
        site_id=site.id,
        form_text=form or DEFAULT_FORM_TEXT,
        form_text_is_default=not form,
        visit_text=visit or DEFAULT_VISIT_TEXT,
        visit_text_is_default=not visit,
        placeholders=sorted(PLACEHOLDERS),
    )


def email_texts(*, uow: UnitOfWork, principal: Principal, site_id: int) -> EmailTextsRead:
    from openpat.services.studies import site_with_permission

    site = site_with_permission(uow, principal, site_id, Permission.SCHEDULE_READ)
    return _texts_read(site)


def set_email_texts(
    *, uow: UnitOfWork, principal: Principal, site_id: int, texts: EmailTexts
) -> EmailTextsRead:
    """Set the site's wording of e-mails to participants (audited like any site change)."""
    from openpat.services.studies import site_with_permission

    site = site_with_permission(uow, principal, site_id, Permission.SCHEDULE_MANAGE)
    form = (texts.form_text or "").strip() or None
    visit = (texts.visit_text or "").strip() or None
    if form is not None:
        check_text("form_text", form, needs=frozenset({"link"}))
    if visit is not None:
        check_text("visit_text", visit)
    with uow.reason("the site's wording of e-mails to participants"):
        site.email_form_text = form
        site.email_visit_text = visit
    return _texts_read(site)


# -- sending -----------------------------------------------------------------------------------


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


@dataclasses.dataclass
class SmtpMailer:
    settings: Settings

    def send(self, to: str, subject: str, body: str) -> None:
        s = self.settings
        assert s.smtp_host is not None
        email = EmailMessage()
        email["From"] = s.mail_from
        email["To"] = to
        email["Subject"] = subject
        email.set_content(body)
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
            smtp.send_message(email)


def mailer_for(settings: Settings) -> Mailer | None:
    return SmtpMailer(settings) if settings.smtp_host else None


# -- deciding what to send ---------------------------------------------------------------------


def _visit_key(booking: RoomBooking) -> str:
    """A visit reminder's key names the booking and its start: a moved booking gets its own."""
    return f"visit:{booking.id}:{booking.starts_at.astimezone(dt.UTC):%Y%m%dT%H%M}"


def queue_due(uow: UnitOfWork) -> int:
    """Queue the form e-mails and visit reminders that are due now and not yet queued;
    returns how many were queued."""
    now = uow.now()
    candidates: list[Message] = []
    for row in uow.responses.open_participant_forms():
        due = [n for n, d in enumerate(FORM_EMAIL_DAYS) if now >= row.created_at + dt.timedelta(d)]
        if due:
            n = max(due)  # a reminder missed while e-mail was down is not sent late
            candidates.append(
                Message(
                    key=f"form:{row.id}:{n}",
                    kind="form",
                    study_id=row.study_id,
                    participant_id=row.participant_id,
                    response_id=row.id,
                    subject="",
                )
            )
    for booking in uow.schedule.booked_starting(now, now + VISIT_REMINDER_AHEAD):
        candidates.append(
            Message(
                key=_visit_key(booking),
                kind="visit",
                study_id=booking.study_id,
                participant_id=booking.participant_id,
                booking_id=booking.id,
                subject="",
            )
        )
    known = uow.messages.keys([m.key for m in candidates])
    queued = 0
    for m in candidates:
        if m.key in known:
            continue
        m.status, m.attempts, m.created_at = "queued", 0, now
        uow.messages.add(m)
        queued += 1
    return queued


def queue_unblinding_notice(
    uow: UnitOfWork, *, unblinding_id: int, study_id: int, user_ids: list[int]
) -> int:
    """E-mail an emergency unblinding to the staff notified of it (who, when, which
    participant: never the arm, never the reason). Sent by a job at once."""
    from openpat.services import jobs

    now = uow.now()
    for user_id in user_ids:
        uow.messages.add(
            Message(
                key=f"unblinding:{unblinding_id}:{user_id}",
                kind="unblinding",
                study_id=study_id,
                user_id=user_id,
                subject="openpat: an emergency unblinding was recorded",
                detail=None,
                status="queued",
                attempts=0,
                created_at=now,
            )
        )
    if user_ids:
        jobs.enqueue(uow, kind=jobs.SEND.name, study_id=study_id)
    return len(user_ids)


@dataclasses.dataclass(frozen=True)
class Outgoing:
    to: str
    subject: str
    body: str

    def __post_init__(self) -> None:
        # one form of the text, as it goes out: the log keeps the SHA-256 of exactly this
        object.__setattr__(self, "body", self.body.rstrip() + "\n")


def _compose(uow: UnitOfWork, m: Message, settings: Settings) -> Outgoing | str:
    """The e-mail for a queued message, or why it is no longer to be sent."""
    from openpat.services import outcomes

    if m.kind == "unblinding":
        user = uow.users.get(m.user_id) if m.user_id is not None else None
        if user is None or not user.is_active:
            return "the recipient's account is no longer active"
        if not user.email:
            return "the recipient has no e-mail address"
        unblinding = uow.trial.unblinding(int(m.key.split(":")[1]))
        if unblinding is None:
            return "the unblinding is no longer recorded"
        participant = uow.participants.get(unblinding.participant_id)
        study = uow.studies.get(unblinding.study_id)
        by = uow.users.get(unblinding.by_user)
        body = (
            "Hello,\n\nAn emergency unblinding was recorded in study "
            f"{study.code if study else unblinding.study_id}, for participant "
            f"{participant.code if participant else unblinding.participant_id}, by "
            f"{by.display_name if by else 'a user'} at {unblinding.at:%Y-%m-%d %H:%M} UTC.\n\n"
            "Sign in to openpat to read the record.\n"
        )
        return Outgoing(user.email, m.subject, body)
    participant = uow.participants.get(m.participant_id) if m.participant_id else None
    if participant is None:
        return "the participant is no longer on record"
    if ParticipantStatus(participant.status).is_final:
        return f"the participant's status is now {participant.status}"
    identity = uow.participants.get_identity(participant.id)
    address = ((identity.email if identity else None) or "").strip()
    if not address:
        return "the participant has no e-mail address"
    site = uow.sites.get(participant.site_id)
    assert site is not None
    texts = _texts_read(site)
    if m.kind == "form":
        row = uow.responses.get(m.response_id) if m.response_id else None
        if row is None or row.status != "in-progress":
            return "the form was submitted before the e-mail was sent"
        if not settings.public_url:
            raise EmailNotConfigured(
                "set OPENPAT_PUBLIC_URL (the address participants reach openpat at) to e-mail "
                "form links"
            )
        link = outcomes.create_link(
            uow=uow, principal=Principal.system("reminders"), response_id=row.id, days=LINK_DAYS
        )
        zone = site_zone(site.timezone)
        body = _fill(
            texts.form_text,
            site=site.name,
            link=settings.public_url.rstrip("/") + link.path,
            expires=f"{link.expires_at.astimezone(zone):%A %d %B %Y, %H:%M}",
        )
        return Outgoing(address, FORM_SUBJECT.format(site=site.name), body)
    booking = uow.schedule.booking(m.booking_id) if m.booking_id else None
    if booking is None or booking.status != "booked":
        return "the booking was cancelled"
    if m.key != _visit_key(booking):
        return "the booking was moved (the new time gets its own reminder)"
    if booking.starts_at <= uow.now():
        return "the visit has started"
    record = uow.trial.visit_record(participant.id, booking.visit_key)
    if record is not None and record.done_on is not None:
        return "the visit was held"
    zone = site_zone(site.timezone)
    local = booking.starts_at.astimezone(zone)
    body = _fill(
        texts.visit_text, site=site.name, date=f"{local:%A %d %B %Y}", time=f"{local:%H:%M}"
    )
    return Outgoing(address, VISIT_SUBJECT.format(site=site.name), body)


class EmailNotConfigured(InvalidInput):
    """E-mail cannot be sent until the site configures it."""


def send_queued(platform: Platform, mailer: Mailer | None) -> dict[str, int]:
    """Send every queued message whose reason still holds, each checked just before it is
    sent; returns counts by outcome."""
    counts = {"sent": 0, "skipped": 0, "failed": 0}
    actor = Actor(name="e-mail")
    with platform.uow(actor=actor, read_only=True) as uow:
        ids = uow.messages.to_send()
    for message_id in ids:
        with platform.uow(actor=actor, reason="e-mail to a participant") as uow:
            m = uow.messages.get(message_id)
            if m is None or m.status not in ("queued", "failed"):
                continue
            m.attempts += 1
            outgoing: Outgoing | str
            if mailer is None:
                outgoing = "e-mail is not set up (OPENPAT_SMTP_HOST)"
            else:
                try:
                    outgoing = _compose(uow, m, platform.settings)
                except EmailNotConfigured as exc:
                    outgoing = str(exc)
            if isinstance(outgoing, str):  # no longer to be sent: say why
                m.status, m.detail = "skipped", outgoing
                uow.commit()
                counts["skipped"] += 1
                continue
            m.to_masked = mask(outgoing.to)
            m.subject = outgoing.subject[:200]
            m.body_sha256 = hashlib.sha256(outgoing.body.encode("utf-8")).hexdigest()
            # the new link is committed before the e-mail carries it
            uow.commit()
        assert mailer is not None
        try:
            mailer.send(outgoing.to, outgoing.subject, outgoing.body)
        except (OSError, smtplib.SMTPException) as exc:
            status, detail = "failed", f"{type(exc).__name__}: {exc}"
        else:
            status, detail = "sent", ""
        with platform.uow(actor=actor) as uow:
            m = uow.messages.get(message_id)
            assert m is not None
            m.status, m.detail = status, detail or None
            if status == "sent":
                m.sent_at = uow.now()
            uow.commit()
        counts[status] += 1
    return counts


# -- reading the log ---------------------------------------------------------------------------


class MessageRead(BaseModel):
    id: int
    kind: str
    study_id: int | None
    participant_code: str | None
    to_masked: str | None
    subject: str
    status: str
    detail: str | None
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None


def list_messages(*, uow: UnitOfWork, principal: Principal, limit: int = 200) -> list[MessageRead]:
    """The e-mail log, newest first: every study for a platform administrator, else the
    studies this user administers."""
    if not principal.has(Permission.USER_MANAGE):
        raise NotFound("the e-mail log is for administrators")
    rows = uow.messages.recent(study_ids=principal.study_ids(Permission.USER_MANAGE), limit=limit)
    codes: dict[int, str] = {}
    for r in rows:
        if r.participant_id is not None and r.participant_id not in codes:
            p = uow.participants.get(r.participant_id)
            codes[r.participant_id] = p.code if p else "?"
    return [
        MessageRead(
            id=r.id,
            kind=r.kind,
            study_id=r.study_id,
            participant_code=codes.get(r.participant_id) if r.participant_id else None,
            to_masked=r.to_masked,
            subject=r.subject or "(not composed)",
            status=r.status,
            detail=r.detail,
            attempts=r.attempts,
            created_at=r.created_at,
            sent_at=r.sent_at,
        )
        for r in rows
    ]
