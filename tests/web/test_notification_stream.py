"""The notification stream (server-sent events): a user's own notifications, in order, resumable
with Last-Event-ID, woken by a new notification while it waits (on SQLite by the listener's
poll, every 0.5 s; across servers on PostgreSQL, tests/web/test_two_servers.py)."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from tests.conftest import login

STREAM = "/api/v1/me/notifications/stream"
REASON = "Serotonin toxicity suspected; treating team needs the arm."


def _events(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":"
        )
        if fields:
            events.append(fields)
    return events


def _unblind(client: TestClient) -> str:
    csrf = login(client, "investigator")
    people = client.get("/api/v1/studies/1/participants", params={"limit": 1000}).json()
    target = next(p for p in people["items"] if p["status"] == "randomised")
    r = client.post(
        f"/api/v1/participants/{target['id']}/unblind",
        json={"reason": REASON},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    return str(target["code"])


def test_the_stream_sends_only_new_notifications_and_resumes(client: TestClient) -> None:
    monitor = TestClient(client.app)
    login(monitor, "monitor")
    first = monitor.get(STREAM)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/event-stream")
    assert first.headers["cache-control"] == "no-store"
    (ready,) = _events(first.text)
    assert ready["event"] == "ready"
    start = ready["id"]

    code = _unblind(client)
    after = monitor.get(STREAM, params={"after": start})
    events = _events(after.text)
    assert [e["event"] for e in events] == ["ready", "notification"]
    assert code in events[1]["data"] and REASON in events[1]["data"]
    # resuming after the last id sent gives nothing again; Last-Event-ID does the same
    again = monitor.get(STREAM, headers={"Last-Event-ID": events[1]["id"]})
    assert [e["event"] for e in _events(again.text)] == ["ready"]
    # someone not notified (a blinded rater) gets nothing
    rater = TestClient(client.app)
    login(rater, "rater")
    assert [e["event"] for e in _events(rater.get(STREAM, params={"after": 0}).text)] == ["ready"]


def test_a_waiting_stream_is_woken_by_a_new_notification(client: TestClient) -> None:
    monitor = TestClient(client.app)
    login(monitor, "monitor")
    start = _events(monitor.get(STREAM).text)[0]["id"]
    got: list[str] = []

    def listen() -> None:
        got.append(monitor.get(STREAM, params={"after": start, "wait": 4}).text)

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.5)
    code = _unblind(client)
    listener.join(30)
    (body,) = got
    assert code in body, body
    # woken (the listener's poll noticed the new row): the notification came while the
    # stream waited, not after the wait ran out (which would have sent a keep-alive first)
    keep_alive = body.find(": keep-alive")
    assert keep_alive == -1 or body.index("event: notification") < keep_alive, body
