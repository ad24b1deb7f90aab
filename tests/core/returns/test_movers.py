"""The movers rules, row by row: seed 002's KS1 table (lines ~150-160) and seed 003's EYFSP, phonics
and KS2 rules (lines ~60-85), with their edge days."""

from __future__ import annotations

from datetime import date

import pytest

from keystage.core.returns import KeyDates, Registration, ReturnTag, took_phonics_check, who_submits
from keystage.core.returns.movers import (
    EYFSP_AFTER,
    EYFSP_BEFORE,
    EYFSP_DIFFERENT,
    KS1_AFTER,
    KS1_DURING,
    KS1_NON_PARTICIPATING,
    KS2_AFTER,
    KS2_BEFORE,
    KS2_DURING,
    PHONICS_AFTER,
    PHONICS_BEFORE,
    PHONICS_DURING,
)

OLD_JOINED = date(2025, 9, 3)


def old(**changes) -> Registration:
    values = {"key": "old", "school": "Old School", "joined": OLD_JOINED}
    values.update(changes)
    return Registration(**values)


def new(joined: date | None, **changes) -> Registration:
    return Registration(key="new", school="New School", joined=joined, **changes)


# KS1: test period 5 to 29 May 2026. -----------------------------------------------------------

KS1 = KeyDates(period_starts=date(2026, 5, 5), period_ends=date(2026, 5, 29))


def ks1(moved: date, **old_changes) -> tuple[str | None, str]:
    decision = who_submits(ReturnTag.KS1, KS1, old(**old_changes), new(moved))
    return decision.submits, decision.reason


def test_ks1_a_pupil_who_starts_before_the_test_period_is_submitted_by_the_new_school():
    submits, reason = ks1(date(2026, 4, 20))
    assert submits == "new"
    assert (
        "joined New School on 20 April 2026, before the KS1 test period (5 May 2026 to 29 May 2026)" in reason
    )
    assert KS1_AFTER in reason


def test_ks1_starting_on_the_first_day_of_the_test_period_counts_as_registered_there_for_all_of_it():
    submits, reason = ks1(date(2026, 5, 5))
    assert submits == "new" and "on 5 May 2026, the first day of the KS1 test period" in reason


def test_ks1_during_the_test_period_the_school_with_more_days_in_may_submits():
    # Joined 6 May: Old School had 1-5 May (5 days), New School 6-31 May (26 days).
    submits, reason = ks1(date(2026, 5, 6))
    assert submits == "new"
    assert KS1_DURING in reason
    assert "Old School had the pupil for 5 days in May and New School for 26" in reason
    # Joined on the last day of the period, 29 May: Old School 28 days, New School 3.
    submits, reason = ks1(date(2026, 5, 29))
    assert submits == "old" and "during the KS1 test period" in reason
    assert "Old School had the pupil for 28 days in May and New School for 3" in reason


def test_ks1_the_same_number_of_days_in_may_cannot_be_decided():
    # Left Old School on 10 May (10 days in May), joined New School 16 May and left 25 May (10 days).
    decision = who_submits(
        ReturnTag.KS1,
        KS1,
        old(left=date(2026, 5, 10)),
        new(date(2026, 5, 16), left=date(2026, 5, 25)),
    )
    assert decision.submits is None and not decision.known
    assert "each school had the pupil for 10 days in May" in decision.reason
    assert decision.reason.endswith("Ask both schools.")


def test_ks1_a_pupil_who_starts_after_the_test_period_is_submitted_by_the_school_of_the_test_period():
    submits, reason = ks1(date(2026, 5, 30))
    assert submits == "old"
    assert "after the KS1 test period (5 May 2026 to 29 May 2026), so was registered at Old School" in reason
    assert KS1_AFTER in reason


def test_ks1_a_pupil_from_a_non_participating_school_or_home_education_is_submitted_by_the_receiving_school():
    submits, reason = ks1(date(2026, 5, 30), participating=False)
    assert submits == "new" and KS1_NON_PARTICIPATING in reason


# Phonics: check period 8 to 12 June 2026. -----------------------------------------------------

PHONICS = KeyDates(period_starts=date(2026, 6, 8), period_ends=date(2026, 6, 12))


def phonics(moved: date, took_check: bool | None = None) -> tuple[str | None, str]:
    decision = who_submits(ReturnTag.PHONICS, PHONICS, old(took_check=took_check), new(moved))
    return decision.submits, decision.reason


def test_phonics_before_the_check_period_the_receiving_school_submits():
    submits, reason = phonics(date(2026, 6, 1), took_check=True)
    assert submits == "new" and PHONICS_BEFORE in reason
    submits, reason = phonics(date(2026, 6, 8))
    assert submits == "new" and "the first day of the phonics check period" in reason


def test_phonics_during_the_check_period_it_depends_on_whether_the_pupil_took_the_check():
    submits, reason = phonics(date(2026, 6, 10), took_check=True)
    assert submits == "old" and "had already taken the check at Old School" in reason
    assert PHONICS_AFTER in reason
    submits, reason = phonics(date(2026, 6, 10), took_check=False)
    assert submits == "new" and "had not taken the check at Old School" in reason and PHONICS_DURING in reason
    submits, reason = phonics(date(2026, 6, 12), took_check=True)  # the last day is still during
    assert submits == "old"
    submits, reason = phonics(date(2026, 6, 10))
    assert submits is None and "does not show whether they took the check" in reason


def test_phonics_after_taking_the_check_the_school_where_it_was_taken_submits():
    submits, reason = phonics(date(2026, 6, 13))
    assert submits == "old" and PHONICS_AFTER in reason


def test_a_phonics_return_shows_the_check_was_taken_when_it_has_a_mark():
    assert took_phonics_check({"phonics_mark": "35"}) is True
    assert took_phonics_check({"phonics_mark": "0"}) is True
    assert took_phonics_check({"phonics_mark": "A"}) is False
    assert took_phonics_check({}) is None


# KS2 TA: test week 11 to 14 May 2026. -----------------------------------------------------------

KS2 = KeyDates(period_starts=date(2026, 5, 11), period_ends=date(2026, 5, 14))


@pytest.mark.parametrize(
    ("moved", "submits", "rule"),
    [
        (date(2026, 5, 4), "new", KS2_BEFORE),
        (date(2026, 5, 11), "new", KS2_BEFORE),  # first day: at the new school from the beginning
        (date(2026, 5, 12), "old", KS2_DURING),
        (date(2026, 5, 14), "old", KS2_DURING),  # last day of test week
        (date(2026, 5, 15), "old", KS2_AFTER),
    ],
)
def test_ks2_ta_before_during_and_after_test_week(moved, submits, rule):
    decision = who_submits(ReturnTag.KS2_TA, KS2, old(), new(moved))
    assert decision.submits == submits
    assert rule in decision.reason and "KS2 test week (11 May 2026 to 14 May 2026)" in decision.reason


# EYFSP: the second half of the summer term starts 1 June 2026. ---------------------------------

EYFSP = KeyDates(summer_second_half_starts=date(2026, 6, 1))


def test_eyfsp_a_move_before_the_half_term_is_submitted_by_the_new_school():
    decision = who_submits(ReturnTag.EYFSP, EYFSP, old(), new(date(2026, 5, 29)))
    assert decision.submits == "new" and EYFSP_BEFORE in decision.reason


def test_eyfsp_starting_on_the_first_day_of_the_second_half_or_after_is_submitted_by_the_previous_school():
    first_day = who_submits(ReturnTag.EYFSP, EYFSP, old(), new(date(2026, 6, 1)))
    assert first_day.submits == "old" and EYFSP_AFTER in first_day.reason
    assert "the first day of the second half of the summer term (1 June 2026)" in first_day.reason
    later = who_submits(ReturnTag.EYFSP, EYFSP, old(), new(date(2026, 6, 15)))
    assert later.submits == "old"


def test_eyfsp_when_half_terms_differ_the_school_attended_longest_submits():
    # Old School's second half starts 8 June, the LA's 1 June: counted from 1 June to 31 July.
    own = {"summer_second_half_starts": date(2026, 6, 8)}
    early = who_submits(ReturnTag.EYFSP, EYFSP, old(**own), new(date(2026, 6, 20)))
    assert early.submits == "new" and EYFSP_DIFFERENT in early.reason
    assert "Old School for 19 days and New School for 42" in early.reason
    late = who_submits(ReturnTag.EYFSP, EYFSP, old(**own), new(date(2026, 7, 20)))
    assert late.submits == "old"
    tie = who_submits(ReturnTag.EYFSP, EYFSP, old(**own), new(date(2026, 7, 1), left=date(2026, 7, 30)))
    assert tie.submits is None and "attends each for 30 days" in tie.reason


# When it cannot be told. ------------------------------------------------------------------------


def test_missing_joining_dates_or_key_dates_cannot_be_decided():
    missing = who_submits(ReturnTag.KS1, KS1, old(joined=None), new(None))
    assert missing.submits is None
    assert "the dates the pupil joined Old School and New School are not on their rosters" in missing.reason
    one = who_submits(ReturnTag.KS2_TA, KS2, old(), new(None))
    assert one.submits is None and "the date the pupil joined New School is not on its roster" in one.reason
    same_day = who_submits(ReturnTag.KS2_TA, KS2, old(), new(OLD_JOINED))
    assert (
        same_day.submits is None
        and "both schools have the pupil joining on 3 September 2025" in same_day.reason
    )
    no_dates = who_submits(ReturnTag.KS1, KeyDates(), old(), new(date(2026, 5, 30)))
    assert no_dates.submits is None and "the round has no KS1 test period dates" in no_dates.reason
    no_half_term = who_submits(ReturnTag.EYFSP, KeyDates(), old(), new(date(2026, 5, 30)))
    assert no_half_term.submits is None and "second half of the summer term" in no_half_term.reason
    plain = who_submits(ReturnTag.CENSUS, KS1, old(), new(date(2026, 5, 30)))
    assert plain.submits is None and "Census returns have no rule for pupils who move" in plain.reason


def test_a_known_leaving_date_orders_the_schools_when_a_joining_date_is_missing():
    decision = who_submits(
        ReturnTag.KS2_TA, KS2, new(date(2026, 5, 18)), old(joined=None, left=date(2026, 5, 15))
    )
    assert decision.submits == "old" and KS2_AFTER in decision.reason
