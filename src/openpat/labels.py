"""Field names as people read them.

Errors carry the machine path of the field they are about (``identity.date_of_birth``,
``facilitator_ids.0``, ``regimens[0].doses[0].amount``): the API keeps it for scripts. Pages
and the command line show the field's label instead (``Date of birth``, ``Facilitator 1``,
``Regimen 1, dose 1: amount``), made here in one place.
"""

from __future__ import annotations

import re

FIELD_LABELS: dict[str, str] = {
    "on_date": "Date",
    "date": "Date",
    "start": "Start time",
    "reason": "Reason",
    "status": "New status",
    "site_id": "Site",
    "room_id": "Room",
    "facilitator_ids": "Facilitators",
    "participant_id": "Participant",
    "study_id": "Study",
    "year_of_birth": "Year of birth",
    "date_of_birth": "Date of birth",
    "full_name": "Full name",
    "prescreen_date": "Pre-screening date",
    "planned_dosing_date": "Planned dosing date",
    "rater_blinded": "Rater blinded to allocation",
    "repeat": "Send again for the same visit",
    "confirm": "Confirmation",
    "visit": "Visit",
    "instrument": "Questionnaire",
    "source": "Entered by",
    "form_version": "Consent form version",
    "signature": "Signature",
    "signed_at": "Signed at",
    "note": "What was done",
    "text": "Crisis text",
    "username": "Username",
    "display_name": "Full name",
    "password": "Password",
    "role": "Role",
    "memberships": "Role",
    "reschedule_to": "New date",
    "done_on": "Held on",
    "guesser": "Whose guess",
    "guess": "Guess",
    "confidence": "Confidence",
    "diagnoses_recorded": "Diagnoses recorded",
    "personal_history_recorded": "Personal history taken",
    "family_history_recorded": "First-degree family history taken",
    "medications_recorded": "Medication history taken",
    "medications": "Medications",
    "profile": "Screening profile",
    "body": "Request body",
    "form": "Form",
    "answers": "Answers",
    "systolic_bp_mmhg": "Systolic blood pressure (mmHg)",
    "diastolic_bp_mmhg": "Diastolic blood pressure (mmHg)",
    "heart_rate_bpm": "Heart rate (beats/min)",
    "qtc_ms": "QTc, Fridericia (ms)",
    "egfr": "eGFR (mL/min/1.73 m²)",
}
"""Labels for names whose plain reading would mislead or be unclear."""

_UNITS = {
    "_mmhg": "mmHg",
    "_bpm": "beats/min",
    "_ms": "ms",
    "_kg": "kg",
    "_cm": "cm",
    "_mg": "mg",
    "_min": "min",
    "_u_per_l": "U/L",
    "_years": "years",
}
_PREFIX = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_\-]*(?:(?:\.[A-Za-z0-9_\-]+)|(?:\[\d+\]))*): (.+)$", re.S
)
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _words(name: str) -> str:
    plain = FIELD_LABELS.get(name)
    if plain is not None:
        return plain
    name = re.sub(r"_ids?$", "", name)
    unit = ""
    for suffix, shown in _UNITS.items():
        if name.endswith(suffix):
            name, unit = name[: -len(suffix)], f" ({shown})"
            break
    return name.replace("_", " ").replace("-", " ").strip().capitalize() + unit


def label_for(path: str) -> str:
    """The label of a field given by its machine path.

    >>> label_for("identity.date_of_birth")
    'Date of birth'
    >>> label_for("facilitator_ids.0")
    'Facilitator 1'
    >>> label_for("regimens[0].doses[0].amount")
    'Regimen 1, dose 1: amount'
    """
    if not path:
        return ""
    parts: list[str | int] = []
    for name, index in _PART.findall(path):
        parts.append(int(index) if index else name)
    # "facilitator_ids.0" and "doses[0]": a number after a name is its position
    out: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        following = parts[i + 1] if i + 1 < len(parts) else None
        if isinstance(part, str) and part.isdigit():
            part = int(part)
        if isinstance(part, int):
            out.append(f"item {part + 1}")
        elif isinstance(following, int) or (isinstance(following, str) and following.isdigit()):
            singular = re.sub(r"(_ids?|s)$", "", part)
            out.append(f"{_words(singular)} {int(following) + 1}")
            i += 1
        else:
            out.append(_words(part))
        i += 1
    numbered = any(isinstance(p, int) or p.isdigit() for p in parts)
    if len(out) == 1 or not numbered:
        # "identity.date_of_birth": the group adds nothing a reader needs
        return out[-1]
    # "regimens[0].doses[0].amount": the numbered parts say which one
    *where, last = out
    context = ", ".join([where[0]] + [w.lower() for w in where[1:]])
    return f"{context}: {last.lower()}"


def shown_field(path: str) -> str:
    """How a command-line message names a field: a nested machine path (``a.b``, ``a[0]``)
    by its label; a plain name as written, since on the command line it is usually one the
    user wrote themselves (a column of their file, a key of their YAML, "row 2, dread")."""
    if any(ch in path for ch in ".[") and " " not in path:
        return label_for(path)
    return path


def split_prefix(message: str) -> tuple[str | None, str]:
    """A message written "field.path: what is wrong" as (path, what is wrong); a message
    without such a prefix as (None, message)."""
    match = _PREFIX.match(message)
    if match is None or " " in match.group(1):
        return None, message
    return match.group(1), match.group(2)


def readable(message: str, *, command_line: bool = False) -> str:
    """The message with a leading machine path replaced by its label (on the command line,
    only a nested path: see :func:`shown_field`)."""
    path, rest = split_prefix(message)
    if path is None:
        return message
    return f"{shown_field(path) if command_line else label_for(path)}: {rest}"
