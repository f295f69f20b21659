"""Electronic signatures, as 21 CFR Part 11 describes them.

- §11.200: signing asks for the signer's password again, whatever session they are in.
- §11.50: the signed record shows the signer's printed name, the date and time (with the time
  zone it is shown in) and the meaning of the signature ("consented", "reviewed", "approved").
- §11.70: the signature is bound to its record. It stores a hash of the record's content, of
  which record it is, and of the signer, time and meaning. A signature moved to another record,
  or a record edited after signing, no longer matches: it shows as broken.

Which records can be signed, and what of each is signed, is the table :data:`SIGNABLE`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any, Literal
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from pydantic import BaseModel, Field

from openpat.errors import InvalidInput, NotFound
from openpat.security import Principal
from openpat.security.passwords import verify_password
from openpat.store.models import Base, Consent, Signature
from openpat.store.uow import UnitOfWork

# What a signature means, in the words the signed record shows.
MEANINGS = {
    "consented": "consented",
    "consent-obtained": "obtained this consent",
    "reviewed": "reviewed",
    "approved": "approved",
}


def _consent_content(row: Base) -> dict[str, Any]:
    assert isinstance(row, Consent)
    return {
        "form_version": row.form_version,
        "name_as_signed": row.signature,
        "signed_at": row.signed_at.astimezone(dt.UTC).isoformat(),
        "participant_id": row.participant_id,
        "study_id": row.study_id,
    }


# table name -> (model, what of a row is signed)
SIGNABLE: dict[str, tuple[type[Base], Callable[[Base], dict[str, Any]]]] = {
    "consents": (Consent, _consent_content),
}


class SignatureRead(BaseModel):
    id: int
    record_table: str
    record_id: str
    meaning: str
    meaning_words: str
    printed_name: str
    signed_at: dt.datetime = Field(description="UTC")
    time_zone: str
    signed_at_local: str = Field(description="the date, time and zone as the record shows it")
    status: Literal["valid", "broken"]
    message: str


def _digest(
    record_table: str,
    record_id: str,
    content: dict[str, Any],
    *,
    meaning: str,
    signer_user_id: int,
    printed_name: str,
    signed_at: dt.datetime,
) -> str:
    blob = json.dumps(
        {
            "record": [record_table, record_id],
            "content": content,
            "meaning": meaning,
            "signer": signer_user_id,
            "printed_name": printed_name,
            "signed_at": signed_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _content_of(uow: UnitOfWork, record_table: str, record_id: str) -> dict[str, Any] | None:
    model, content = SIGNABLE[record_table]
    row = uow.session.get(model, int(record_id))
    return None if row is None else content(row)


def sign(
    *,
    uow: UnitOfWork,
    principal: Principal,
    hasher: PasswordHasher,
    password: str | None,
    record: Base,
    meaning: str,
    time_zone: str,
) -> Signature:
    """Sign ``record`` as the principal, who gives their password again (§11.200)."""
    if meaning not in MEANINGS:
        raise InvalidInput.for_field("meaning", f"choose one of {', '.join(MEANINGS)}")
    table = record.__tablename__
    if table not in SIGNABLE:
        raise InvalidInput.for_field("record", f"{table} records cannot be signed")
    user = uow.users.get(principal.user_id)
    if user is None or not user.is_active:
        raise NotFound("your account was not found")
    if not password or not verify_password(hasher, user.password_hash, password):
        raise InvalidInput.for_field(
            "password", "is not your password: signing needs your own password again"
        )
    now = uow.now()
    record_id = str(record.id)  # type: ignore[attr-defined]
    content = SIGNABLE[table][1](record)
    row = Signature(
        study_id=record.study_id,  # type: ignore[attr-defined]
        participant_id=record.participant_id,  # type: ignore[attr-defined]
        record_table=table,
        record_id=record_id,
        meaning=meaning,
        signer_user_id=user.id,
        printed_name=user.display_name,
        signed_at=now,
        time_zone=time_zone,
        content_hash=_digest(
            table,
            record_id,
            content,
            meaning=meaning,
            signer_user_id=user.id,
            printed_name=user.display_name,
            signed_at=now,
        ),
    )
    uow.trial.add(row)
    return row


def _local(at: dt.datetime, zone: str) -> str:
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({zone})"


def read(uow: UnitOfWork, row: Signature) -> SignatureRead:
    """The signature as the record shows it, checked against the record as it is now."""
    content = _content_of(uow, row.record_table, row.record_id)
    expected = (
        None
        if content is None
        else _digest(
            row.record_table,
            row.record_id,
            content,
            meaning=row.meaning,
            signer_user_id=row.signer_user_id,
            printed_name=row.printed_name,
            signed_at=row.signed_at,
        )
    )
    valid = expected == row.content_hash
    return SignatureRead(
        id=row.id,
        record_table=row.record_table,
        record_id=row.record_id,
        meaning=row.meaning,
        meaning_words=MEANINGS.get(row.meaning, row.meaning),
        printed_name=row.printed_name,
        signed_at=row.signed_at,
        time_zone=row.time_zone,
        signed_at_local=_local(row.signed_at, row.time_zone),
        status="valid" if valid else "broken",
        message=(
            f"signed by {row.printed_name}, {_local(row.signed_at, row.time_zone)}: "
            f"{MEANINGS.get(row.meaning, row.meaning)}"
            if valid
            else "broken: the record is not what was signed (changed after signing, or the "
            "signature was moved from another record)"
        ),
    )
