"""A participant's personal link to one form: it works without an account for that form
only, is kept only as a hash, ends when the form is sent or it expires, and every answer
given through it is audited as the participant's."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from fastapi.testclient import TestClient

from openpat.services.runtime import Actor, Platform
from tests.conftest import login


def _send_with_link(client: TestClient) -> tuple[int, str]:
    csrf = login(client, "coordinator")
    enrolled = client.get("/api/v1/studies/1/participants?status=enrolled").json()["items"]
    sent = client.post(
        "/api/v1/responses",
        json={"participant_id": enrolled[0]["id"], "instrument": "GAD-7", "visit": "baseline"},
        headers={"X-CSRF-Token": csrf},
    ).json()
    page = client.post(f"/responses/{sent['id']}/link", data={"csrf_token": csrf})
    assert page.status_code == 200, page.text[:500]
    match = re.search(r'value="(http[^"]+/f/([A-Za-z0-9_\-]+))"', page.text)
    assert match, page.text[:2000]
    client.post("/logout", data={"csrf_token": csrf})
    return int(sent["id"]), match.group(2)


def test_a_personal_link_opens_one_form_without_an_account(
    client: TestClient, demo_platform: Platform
) -> None:
    response_id, token = _send_with_link(client)
    anonymous = TestClient(client.app)
    first = anonymous.get(f"/f/{token}")
    assert first.status_code == 200 and "Question 1 of 7" in first.text
    # answer one question, then all the rest on one page, and send
    step = anonymous.post(
        f"/f/{token}", data={"q": "0", "answer": "2", "action": "next"}, follow_redirects=False
    )
    assert step.status_code == 303 and step.headers["location"] == f"/f/{token}?q=1"
    keys_page = anonymous.get(f"/f/{token}?all=1").text
    names = re.findall(r'name="(a_[a-z\-]+)"', keys_page)
    assert len(set(names)) == 7
    answers = dict.fromkeys(set(names), "1") | {names[0]: "2"}
    done = anonymous.post(f"/f/{token}", data={**answers, "action": "submit-all"})
    assert done.status_code == 200 and "Thank you" in done.text
    # the link is spent; the team sees the score
    assert anonymous.get(f"/f/{token}").status_code == 404
    login(client, "coordinator")
    scored = client.get(f"/api/v1/responses/{response_id}").json()
    assert scored["status"] == "submitted" and scored["total"] == 2 + 6 * 1
    with demo_platform.uow(actor=Actor("test")) as uow:
        link = uow.form_links.for_response(response_id)
        assert link is not None
        assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in link.token_hash
        events = uow.audit.list(participant_id=link.participant_id, limit=50)
        by_link = [e for e in events if e.actor.startswith("participant (personal link")]
        assert by_link and all(e.reason == "answers given by the participant" for e in by_link)


def test_an_expired_or_unknown_link_says_so_and_nothing_more(
    client: TestClient, demo_platform: Platform
) -> None:
    response_id, token = _send_with_link(client)
    anonymous = TestClient(client.app)
    assert anonymous.get("/f/not-a-real-token-at-all-xxxxxxxx").status_code == 404
    with demo_platform.uow(actor=Actor("test")) as uow:
        link = uow.form_links.for_response(response_id)
        assert link is not None
        with uow.reason("test: let the link expire"):
            link.expires_at = demo_platform.clock.now() - dt.timedelta(minutes=1)
        uow.commit()
    gone = anonymous.get(f"/f/{token}")
    assert gone.status_code == 404 and "not valid" in gone.text
    posted = anonymous.post(f"/f/{token}", data={"q": "0", "answer": "1", "action": "next"})
    assert posted.status_code == 404


def test_only_the_study_team_makes_links_and_odd_posts_are_refused_cleanly(
    client: TestClient,
) -> None:
    response_id, token = _send_with_link(client)
    csrf = login(client, "rater")
    refused = client.post(f"/responses/{response_id}/link", data={"csrf_token": csrf})
    assert refused.status_code == 404  # a rater cannot see the form at all
    client.post("/logout", data={"csrf_token": csrf})
    anonymous = TestClient(client.app)
    assert anonymous.get(f"/f/{token}").status_code == 200  # the rater did not replace it
    odd = anonymous.post(
        f"/f/{token}", data={"q": "1000", "action": "back"}, follow_redirects=False
    )
    assert odd.status_code in (303, 422)
    nan = anonymous.post(f"/f/{token}", data={"q": "0", "answer": "nan", "action": "next"})
    assert nan.status_code == 422
