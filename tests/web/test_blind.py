"""The blind holds on every route: what a blinded rater or facilitator gets from any page, API
route, export or error is the same whatever the allocation.

The walk requests every route the app has (GET, and unsafe methods with an empty body, so
error messages are covered too) for each randomised demo participant, then swaps every
participant's arm in the database and walks again. A response that changed would be a
response that depends on the arm. Separately, no response contains the replay text or the
study's seed, and the allocation routes are refused.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from openpat.demo import DEMO_SEED
from openpat.security import Role
from openpat.services.runtime import Actor, Platform
from tests.conftest import login
from tests.web.test_route_permissions import (
    LOGOUT_PATHS,
    USERNAME_OF,
    DemoIds,
    demo_ids,
    protected_endpoints,
    send,
)

# Things that differ between two identical requests, not between allocations.
_VOLATILE = re.compile(r"reference [0-9a-f]{8}")


def _walk(client: TestClient, ids: list[DemoIds], csrf: str) -> dict[str, tuple[int, str]]:
    seen: dict[str, tuple[int, str]] = {}
    for demo in ids:
        for endpoint in protected_endpoints(client.app):
            if endpoint.path in LOGOUT_PATHS:
                continue
            path = demo.fill(endpoint)
            response = send(client, endpoint, path, csrf=csrf)
            seen[f"{endpoint.label} {path}"] = (
                response.status_code,
                _VOLATILE.sub("reference ?", response.text),
            )
    return seen


@pytest.mark.parametrize("role", [Role.BLINDED_RATER, Role.FACILITATOR])
def test_no_route_reveals_the_arm_to_a_blinded_role(
    role: Role, client: TestClient, demo_platform: Platform
) -> None:
    base = demo_ids(demo_platform)
    with demo_platform.uow(actor=Actor("test")) as uow:
        randomised = [p.id for p, _a in uow.trial.randomised(base.study_id, None)]
        arms = {a.arm for _p, a in uow.trial.randomised(base.study_id, None)}
        replays = [a.replay for _p, a in uow.trial.randomised(base.study_id, None)]
    assert arms == {"dmt", "placebo"} and len(randomised) >= 10
    # a participant of each arm, plus the participant login's own record
    ids = [base] + [
        DemoIds(base.study_id, pid, base.user_id, base.own_response_id) for pid in randomised[:4]
    ]
    csrf = login(client, USERNAME_OF[role])
    before = _walk(client, ids, csrf)
    assert len(before) > 150
    assert any(code == 200 for code, _ in before.values())
    for label, (code, body) in before.items():
        assert code != 500, label
        assert str(DEMO_SEED) not in body, label
        assert "permuted blocks, seed" not in body, label
        assert not any(r in body for r in replays), label
    refused = [k for k in before if "/allocations" in k or "/blinding" in k]
    assert refused and all(before[k][0] in (403, 404) for k in refused)

    with demo_platform.engine.begin() as conn:
        conn.execute(
            text("UPDATE allocations SET arm = CASE arm WHEN 'dmt' THEN 'placebo' ELSE 'dmt' END")
        )
    after = _walk(client, ids, csrf)
    changed = sorted(k for k in before if before[k] != after.get(k))
    assert changed == [], f"responses that depend on the arm: {changed[:10]}"


def test_the_walk_would_see_an_arm_that_leaked(client: TestClient, demo_platform: Platform) -> None:
    """The same walk as the unblinded statistician: the allocation list changes when the
    arms are swapped, so the comparison above is able to see a leak."""
    base = demo_ids(demo_platform)
    csrf = login(client, "statistician")
    before = _walk(client, [base], csrf)
    with demo_platform.engine.begin() as conn:
        conn.execute(
            text("UPDATE allocations SET arm = CASE arm WHEN 'dmt' THEN 'placebo' ELSE 'dmt' END")
        )
    after = _walk(client, [base], csrf)
    changed = {k.split(" ")[1] for k in before if before[k] != after.get(k)}
    assert "/api/v1/studies/{study_id}/allocations" in changed
    assert "/api/v1/studies/{study_id}/allocations.csv" in changed
    assert "/studies/{study_id}/blinding" in changed
