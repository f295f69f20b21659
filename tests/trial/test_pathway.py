from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openpat.errors import RuleViolation
from openpat.trial import ALLOWED_TRANSITIONS, ParticipantStatus, check_transition

S = ParticipantStatus


def test_the_main_path_moves_forward_one_step_at_a_time() -> None:
    path = [
        S.PRESCREEN,
        S.SCREENED,
        S.CONSENTED,
        S.ENROLLED,
        S.RANDOMISED,
        S.IN_TREATMENT,
        S.FOLLOW_UP,
        S.COMPLETED,
    ]
    for current, new in itertools.pairwise(path):
        check_transition(current, new)


def test_skipping_consent_is_refused_with_the_allowed_steps() -> None:
    with pytest.raises(RuleViolation, match=r"allowed next steps: .*Consented"):
        check_transition(S.SCREENED, S.ENROLLED)


@pytest.mark.parametrize("final", [S.COMPLETED, S.WITHDRAWN, S.LOST, S.SCREEN_FAILED])
def test_final_states_have_no_way_out(final: ParticipantStatus) -> None:
    assert ALLOWED_TRANSITIONS[final] == frozenset()
    with pytest.raises(RuleViolation, match=r"none \(final\)"):
        check_transition(final, S.PRESCREEN)


def test_withdrawal_is_possible_from_every_open_state() -> None:
    for status in ParticipantStatus:
        if not status.is_final:
            assert S.WITHDRAWN in ALLOWED_TRANSITIONS[status]


@given(st.sampled_from(list(S)), st.sampled_from(list(S)))
def test_no_transition_goes_back_to_an_earlier_open_state(
    a: ParticipantStatus, b: ParticipantStatus
) -> None:
    order = list(S)
    if b in ALLOWED_TRANSITIONS[a] and not b.is_final:
        assert order.index(b) > order.index(a)
