"""Electronic signatures (issue 16, point 5): signing a consent asks for the signer's password
again; the signed record shows the printed name, date and time with zone and the meaning; the
signature is bound to a hash of the record, so an edit of the record, or moving the signature
to another record, shows it as broken."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import text

from openpat.services.runtime import Actor, Platform
from tests.conftest import login


def _screened(platform: Platform) -> tuple[int, str]:
    """A screened demo participant (may consent) and the day they were screened."""
    with platform.uow(actor=Actor("test")) as uow:
        found = [
            p for p in uow.participants.list(study_id=1, site_ids=None) if p.status == "screened"
        ]
        assert found, "the demo has screened participants"
        return found[0].id, found[0].status_date.isoformat()


def _consent(client: TestClient, csrf: str, pid: int, day: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/participants/{pid}/consents",
        json={
            "form_version": "2.1",
            "signature": "Pat Example",
            "signed_at": f"{day}T12:00:00+00:00",
            "password": password,
        },
        headers={"X-CSRF-Token": csrf},
    )


def test_a_consent_is_signed_with_the_signers_password_again(
    client: TestClient, demo_platform: Platform
) -> None:
    pid, day = _screened(demo_platform)
    csrf = login(client, "coordinator")
    wrong = _consent(client, csrf, pid, day, "not-my-password")
    assert wrong.status_code == 422
    assert wrong.json()["error"]["fields"][0]["field"] == "password"
    # nothing half-written: no consent, the status unchanged
    assert client.get(f"/api/v1/participants/{pid}/consents").json() == []
    missing = client.post(
        f"/api/v1/participants/{pid}/consents",
        json={"form_version": "2.1", "signature": "Pat", "signed_at": f"{day}T12:00:00+00:00"},
        headers={"X-CSRF-Token": csrf},
    )
    assert missing.status_code == 422
    made = _consent(client, csrf, pid, day, "demo-coordinator")
    assert made.status_code == 201, made.text
    (signature,) = made.json()["signatures"]
    assert signature["status"] == "valid"
    assert signature["meaning"] == "consent-obtained"
    assert signature["printed_name"] == client.get("/api/v1/auth/me").json()["display_name"]
    # the date and time with its zone, as the site shows it
    assert signature["time_zone"] == "Europe/London"
    # (the test clock starts at 09:30 UTC and runs on)
    assert re.fullmatch(
        r"2026-12-04 09:[345]\d GMT \(Europe/London\)", signature["signed_at_local"]
    )
    page = client.get(f"/participants/{pid}/trial")
    assert page.status_code == 200
    assert "obtained this consent" in page.text and "GMT (Europe/London)" in page.text


def test_an_edit_after_signing_or_a_moved_signature_shows_as_broken(
    client: TestClient, demo_platform: Platform
) -> None:
    pid, day = _screened(demo_platform)
    csrf = login(client, "coordinator")
    consent_id = _consent(client, csrf, pid, day, "demo-coordinator").json()["id"]
    with demo_platform.engine.begin() as conn:
        conn.execute(
            text("UPDATE consents SET form_version = '9.9' WHERE id = :i"), {"i": consent_id}
        )
    (after_edit,) = client.get(f"/api/v1/participants/{pid}/consents").json()[0]["signatures"]
    assert after_edit["status"] == "broken" and "changed after signing" in after_edit["message"]
    page = client.get(f"/participants/{pid}/trial")
    assert "broken: the record is not what was signed" in page.text
    # put the record back: the signature holds again
    with demo_platform.engine.begin() as conn:
        conn.execute(
            text("UPDATE consents SET form_version = '2.1' WHERE id = :i"), {"i": consent_id}
        )
    (restored,) = client.get(f"/api/v1/participants/{pid}/consents").json()[0]["signatures"]
    assert restored["status"] == "valid"
    # a signature moved to another consent record (same content but another record) breaks
    with demo_platform.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO consents (study_id, participant_id, form_version, signature, "
                "signed_at, witnessed_by, created_at) SELECT study_id, participant_id, "
                "form_version, signature, signed_at, witnessed_by, created_at FROM consents "
                "WHERE id = :i"
            ),
            {"i": consent_id},
        )
        other = conn.scalar(text("SELECT max(id) FROM consents"))
        conn.execute(
            text("UPDATE signatures SET record_id = :o WHERE record_id = :i"),
            {"o": str(other), "i": str(consent_id)},
        )
    found = {c["id"]: c for c in client.get(f"/api/v1/participants/{pid}/consents").json()}
    assert found[consent_id]["signatures"] == []
    (moved,) = found[other]["signatures"]
    assert moved["status"] == "broken"


def test_a_participant_signs_their_own_consent(client: TestClient, demo_platform: Platform) -> None:
    pid, _day = _screened(demo_platform)
    csrf = login(client, "admin")
    made = client.post(
        "/api/v1/users",
        json={
            "username": "pat.example",
            "display_name": "Pat Example",
            "password": "pat-example-pass-2026",
            "memberships": [{"role": "participant", "study_id": 1, "participant_id": pid}],
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert made.status_code == 201, made.text
    pat = TestClient(client.app)
    token = login(pat, "pat.example", "pat-example-pass-2026")
    page = pat.get("/me")
    assert "Sign your consent" in page.text
    wrong = pat.post(
        "/me/consent",
        data={"csrf_token": token, "form_version": "2.1", "password": "not-mine"},
    )
    assert wrong.status_code == 422 and "is not your password" in wrong.text
    signed = pat.post(
        "/api/v1/me/consent",
        json={"form_version": "2.1", "password": "pat-example-pass-2026"},
        headers={"X-CSRF-Token": token},
    )
    assert signed.status_code == 201, signed.text
    (signature,) = signed.json()["signatures"]
    assert signature["meaning"] == "consented" and signature["printed_name"] == "Pat Example"
    assert signature["status"] == "valid"
    # the participant is now consented, and cannot sign again
    again = pat.post(
        "/api/v1/me/consent",
        json={"form_version": "2.1", "password": "pat-example-pass-2026"},
        headers={"X-CSRF-Token": token},
    )
    assert again.status_code == 422 and "Consented" in again.json()["error"]["message"]
    login(client, "coordinator")
    (consent,) = client.get(f"/api/v1/participants/{pid}/consents").json()
    assert consent["signatures"][0]["meaning_words"] == "consented"
