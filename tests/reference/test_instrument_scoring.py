"""Worked examples for every scorable instrument, each worked by hand from the cited scoring
rule in the knowledge base (no published filled-in forms with item answers and totals were
found for these instruments; the rules themselves are cited in the instrument files), with
the missing-item cases each manual allows or forbids."""

from __future__ import annotations

import numpy as np
import pytest

from openpat import knowledge
from openpat.errors import InvalidInput
from openpat.instruments import definition, outcomes, score

KB = knowledge.default()
NA = np.nan


def one(name: str, answers: list[float]) -> dict[str, object]:
    return score(definition(KB, name), [answers]).row(0)


# -- PHQ-9 (Kroenke 2001: sum of items 1-9, bands 5/10/15/20; item 10 not scored) ----------


def test_phq9_sum_band_and_unscored_item_10() -> None:
    row = one("PHQ-9", [0, 1, 2, 3, 0, 1, 2, 3, 0, 3])  # item 10 = 3 does not count
    assert row["total"] == 12 and row["band"] == "moderate" and row["scored"] is True


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([0, 0, 0, 0, 0, 0, 0, 0, 0, NA], 0, "minimal"),
        ([1, 1, 1, 1, 0, 0, 0, 0, 0, NA], 4, "minimal"),
        ([1, 1, 1, 1, 1, 0, 0, 0, 0, NA], 5, "mild"),
        ([2, 2, 2, 2, 2, 2, 2, 1, 0, NA], 15, "moderately severe"),
        ([3, 3, 3, 3, 3, 3, 2, 0, 0, NA], 20, "severe"),
        ([3] * 9 + [NA], 27, "severe"),
    ],
)
def test_phq9_band_edges(answers: list[float], total: float, band: str) -> None:
    row = one("PHQ-9", answers)
    assert (row["total"], row["band"]) == (total, band)


def test_phq9_prorates_one_or_two_missing_and_rounds() -> None:
    # CMS: one missing -> sum x 9/8; two -> sum x 9/7; rounded to the nearest integer
    one_missing = one("PHQ-9", [2, 2, 1, 1, 1, 1, 1, NA, 1, NA])  # 10 x 9/8 = 11.25 -> 11
    assert one_missing["total"] == 11 and one_missing["prorated"] is True
    assert one_missing["missing_items"] == 1
    two_missing = one("PHQ-9", [3, 3, 2, 2, 2, NA, NA, 1, 0, NA])  # 13 x 9/7 = 16.71 -> 17
    assert two_missing["total"] == 17 and two_missing["band"] == "moderately severe"
    three = one("PHQ-9", [3, 3, 2, 2, NA, NA, NA, 1, 0, 0])
    assert three["scored"] is False and three["total"] is None
    assert "3 items are missing" in str(three["reason"])


# -- GAD-7 (Spitzer 2006): no missing-item rule recorded, so complete forms only ---------


def test_gad7_scores_complete_forms_only() -> None:
    assert one("GAD-7", [1, 2, 3, 1, 2, 0, 1])["total"] == 10
    assert one("GAD-7", [1, 2, 3, 1, 2, 0, 1])["band"] == "moderate"
    incomplete = one("GAD-7", [1, 2, 3, 1, 2, 0, NA])
    assert incomplete["scored"] is False and "no prorating rule" in str(incomplete["reason"])


# -- PCL-5 (clusters B 1-5, C 6-7, D 8-14, E 15-20; DSM-5 rule: item >= 2 counts) ---------


def _pcl5(**ratings: float) -> list[float]:
    answers = [0.0] * 20
    for key, value in ratings.items():
        answers[int(key.removeprefix("i")) - 1] = value
    return answers


def test_pcl5_smallest_total_meeting_the_dsm5_rule() -> None:
    # one B, one C, two D, two E rated 2: total 12 meets the rule (the VA CAPS-5 training's
    # observation that all criteria can be met with a severity of only 12)
    row = one("PCL-5", _pcl5(i1=2, i6=2, i8=2, i9=2, i15=2, i16=2))
    assert row["total"] == 12 and row["dsm5-provisional"] is True
    assert (row["cluster-b"], row["cluster-c"], row["cluster-d"], row["cluster-e"]) == (2, 2, 4, 4)


def test_pcl5_high_total_can_fail_the_cluster_rule() -> None:
    answers = [4.0] * 7 + [1.0] * 7 + [4.0] * 6  # cluster D all rated 1
    row = one("PCL-5", answers)
    assert row["total"] == 59 and row["dsm5-provisional"] is False


def test_a_missing_answer_leaves_the_other_clusters_scored() -> None:
    row = one("PCL-5", _pcl5(i1=NA, i6=3, i8=2, i9=2, i15=4))
    assert row["cluster-b"] is None and row["total"] is None
    assert (row["cluster-c"], row["cluster-d"], row["cluster-e"]) == (3, 4, 4)


def test_pcl5_a_little_bit_does_not_count_and_missing_makes_it_unknown() -> None:
    assert one("PCL-5", _pcl5(i1=2, i6=2, i8=2, i9=1, i15=2, i16=2))["dsm5-provisional"] is False
    unknown = one("PCL-5", _pcl5(i1=2, i6=2, i8=2, i9=NA, i15=2, i16=2))
    assert unknown["dsm5-provisional"] is None and unknown["scored"] is False
    # missing answers that cannot change the outcome do not make it unknown
    decided = one("PCL-5", _pcl5(i1=2, i6=2, i8=2, i9=2, i10=NA, i15=2, i16=2))
    assert decided["dsm5-provisional"] is True


# -- MEQ-30 (four subscales; complete mystical experience: >= 60 % on every subscale) -------


def _meq(mystical: float, mood: float, transcendence: float, ineffability: float) -> list[float]:
    d = definition(KB, "MEQ-30")
    answers = [0.0] * 30
    for sub, value in zip(d.subscales, (mystical, mood, transcendence, ineffability), strict=True):
        for col in sub.columns:
            answers[int(d.scored[col])] = value
    return answers


def test_meq30_complete_mystical_experience_needs_every_subscale_at_60_percent() -> None:
    row = one("MEQ-30", _meq(3, 3, 3, 3))  # 3 of 5 = 60 % everywhere
    assert row["mystical"] == 45 and row["positive-mood"] == 18
    assert row["transcendence"] == 18 and row["ineffability"] == 9
    assert row["total"] == 90 and row["complete-mystical"] is True
    assert one("MEQ-30", _meq(5, 5, 5, 2))["complete-mystical"] is False  # ineffability 40 %


def test_meq30_is_not_complete_from_a_high_total_alone() -> None:
    row = one("MEQ-30", _meq(5, 5, 5, 0))
    assert row["total"] == 135 and row["complete-mystical"] is False


# -- QIDS-SR16 (Rush 2003: nine domains, sleep/appetite/psychomotor are maxima) ------------


def test_qids_sums_the_nine_domain_maxima() -> None:
    answers = [1, 3, 0, 2, 2, 0, 1, 0, 3, 1, 1, 0, 2, 1, 0, 2]
    row = one("QIDS-SR16", answers)
    # sleep max(1,3,0,2)=3, mood 2, appetite max(0,1,0,3)=3, concentration 1, self 1,
    # suicidal 0, interest 2, energy 1, psychomotor max(0,2)=2 -> 15
    assert row["sleep"] == 3 and row["appetite-weight"] == 3 and row["psychomotor"] == 2
    assert row["total"] == 15 and row["band"] == "moderate"


# -- WHO-5 (raw sum x 4, higher is better) -------------------------------------------------


def test_who5_percentage_is_raw_times_four() -> None:
    assert one("WHO-5", [5, 4, 4, 4, 4])["total"] == 84  # raw 21
    assert one("WHO-5", [0, 0, 0, 0, 0])["total"] == 0
    assert one("WHO-5", [3, 2, 2, 2, NA])["scored"] is False


# -- MADRS, HAM-D17, CAPS-5, AUDIT, EDI ---------------------------------------------------


def test_madrs_total_and_bands() -> None:
    assert one("MADRS", [6] * 10)["total"] == 60
    row = one("MADRS", [3, 3, 2, 2, 2, 2, 2, 2, 2, 0])
    assert row["total"] == 20 and row["band"] == "moderate"


def test_hamd17_items_have_their_own_ranges() -> None:
    d = definition(KB, "HAM-D17")
    row = score(d, [d.hi]).row(0)
    assert row["total"] == 52
    too_high = d.hi.copy()
    narrow = int(np.flatnonzero(d.hi == 2)[0])
    too_high[narrow] = 4  # a 0-2 item rated 4
    with pytest.raises(InvalidInput) as err:
        score(d, [too_high])
    assert err.value.fields[0].field == f"row 1, {d.keys[narrow]}"


def test_caps5_clusters_sum_to_the_total() -> None:
    answers = [2.0] * 5 + [3.0] * 2 + [1.0] * 7 + [4.0] * 6
    row = one("CAPS-5", answers)
    assert row["total"] == 10 + 6 + 7 + 24


def test_audit_items_9_and_10_only_take_0_2_4() -> None:
    d = definition(KB, "AUDIT")
    answers = [4, 4, 4, 4, 4, 4, 4, 4, 4, 4]
    assert score(d, [answers]).row(0)["total"] == 40
    with pytest.raises(InvalidInput) as err:
        score(d, [[0, 0, 0, 0, 0, 0, 0, 0, 3, 0]])
    assert "0, 2, 4" in err.value.fields[0].message


def test_edi_is_the_mean_of_eight_visual_analogue_items() -> None:
    assert one("EDI", [10, 20, 30, 40, 50, 60, 70, 80])["total"] == 45
    assert one("EDI", [12.5] * 8)["total"] == 12.5  # fractions are allowed on a VAS


# -- C-SSRS screener (skip logic; Columbia triage: yes to 4 or 5, or behaviour, is high) ---


def test_cssrs_skip_logic_ideation_level_and_alerts() -> None:
    none = one("C-SSRS", [0, 0, NA, NA, NA, 0])  # items 3-5 not asked after a no to item 2
    assert none["scored"] is True and none["ideation"] == 0 and none["alert"] is None
    method = one("C-SSRS", [1, 1, 1, 0, 0, 0])
    assert method["ideation"] == 3 and method["high-risk"] is False
    assert method["alert"] == "moderate"
    intent = one("C-SSRS", [1, 1, 1, 1, 0, 0])
    assert intent["ideation"] == 4 and intent["high-risk"] is True and intent["alert"] == "high"
    behaviour = one("C-SSRS", [0, 0, NA, NA, NA, 1])
    assert behaviour["high-risk"] is True and behaviour["alert"] == "high"


def test_cssrs_a_yes_to_an_item_not_asked_is_refused_not_dropped() -> None:
    # item 2 "no" with item 4 "yes": scoring it as not asked would lose a high-risk answer
    with pytest.raises(InvalidInput) as err:
        one("C-SSRS", [1, 0, 0, 1, 0, 0])
    (problem,) = err.value.fields
    assert problem.field == "row 1, ideation-with-intent"
    assert "asked only when nonspecific-suicidal-thoughts is at least 1" in problem.message
    # a "no" left on an item not asked adds nothing and is not a contradiction
    row = one("C-SSRS", [1, 0, 0, 0, 0, 0])
    assert row["ideation"] == 1 and row["high-risk"] is False and row["scored"] is True


def test_cssrs_unanswered_follow_up_questions_are_missing_not_skipped() -> None:
    row = one("C-SSRS", [1, 1, NA, NA, NA, 0])  # item 2 yes, so 3-5 had to be asked
    assert row["scored"] is False and row["missing_items"] == 3
    assert row["high-risk"] is None and row["alert"] == "moderate"


# -- instruments that cannot be scored -----------------------------------------------------


def test_ceq_is_refused_because_its_response_scale_is_not_known() -> None:
    with pytest.raises(InvalidInput) as err:
        definition(KB, "CEQ")
    assert "response scale" in err.value.message


# -- response and remission ----------------------------------------------------------------


def test_madrs_response_and_remission_follow_comp360() -> None:
    d = definition(KB, "MADRS")
    result = outcomes.change(d, [30, 30, 30, 0, NA], [15, 10, 16, 0, 10])
    assert result.response is not None and result.remission is not None
    assert result.response.tolist() == [1, 1, 0, -1, -1]  # >= 50 % drop; baseline 0 unknown
    assert result.remission.tolist() == [0, 1, 0, 1, 1]  # MADRS <= 10
    assert result.conventional_response is False


def test_a_scale_without_a_response_rule_uses_the_conventional_50_percent() -> None:
    result = outcomes.change(definition(KB, "GAD-7"), [16, 16], [8, 9])
    assert result.conventional_response is True
    assert result.response is not None and result.response.tolist() == [1, 0]


def test_experience_measures_get_no_response() -> None:
    result = outcomes.change(definition(KB, "MEQ-30"), [10], [100])
    assert result.response is None and result.remission is None
