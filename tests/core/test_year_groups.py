"""The year groups a school teaches, from its statutory age range (GIAS's StatutoryLowAge and
StatutoryHighAge), and so the collections and LA returns that are for it."""

from __future__ import annotations

import pytest

from keystage.core.results.kinds import KINDS
from keystage.core.returns import ReturnTag
from keystage.core.year_groups import describe, takes_part, taught


@pytest.mark.parametrize(
    ("ages", "phase", "years"),
    [
        ((4, 11), "primary", "Reception to Year 6"),
        ((3, 11), "primary", "Reception to Year 6"),  # a nursery class: no year group below Reception
        ((4, 7), "primary", "Reception to Year 2"),  # an infant school
        ((7, 11), "primary", "Years 3 to 6"),  # a junior school
        ((9, 13), "middle", "Years 5 to 8"),  # a middle school deemed secondary
        ((8, 12), "middle", "Years 4 to 7"),  # deemed primary
        ((11, 16), "secondary", "Years 7 to 11"),
        ((11, 18), "secondary", "Years 7 to 13"),
        ((13, 18), "secondary", "Years 9 to 13"),  # an upper school
        ((4, 18), "all_through", "Reception to Year 13"),
        ((2, 19), "special", "Reception to Year 13"),
        ((2, 5), "nursery", "no year groups"),
        ((16, 19), "sixteen_plus", "Years 12 and 13"),
    ],
)
def test_the_age_range_gives_the_year_groups(ages, phase, years):
    assert describe(taught(*ages, phase)) == years


def test_without_an_age_range_the_phase_decides():
    assert describe(taught(None, None, "primary")) == "Reception to Year 6"
    assert describe(taught(None, 16, "secondary")) == "Years 7 to 13"
    assert describe(taught(None, None, "")) == "Reception to Year 13"  # nothing known: every year


@pytest.mark.parametrize(
    ("ages", "kinds"),
    [
        ((4, 11), {"eyfsp", "phonics", "ks1", "ks2-ta"}),
        ((4, 7), {"eyfsp", "phonics", "ks1"}),
        ((7, 11), {"ks2-ta"}),
        ((9, 13), {"ks2-ta"}),
        ((11, 16), {"ks4-gcse", "ks4-non-gcse"}),
        ((13, 18), {"ks4-gcse", "ks4-non-gcse"}),
        ((4, 16), set(KINDS)),
    ],
)
def test_collections_go_to_the_schools_with_their_year_groups(ages, kinds):
    years = taught(*ages)
    assert {key for key, kind in KINDS.items() if takes_part(years, kind.nc_years)} == kinds


def test_returns_name_their_year_groups_and_census_goes_to_every_school():
    assert ReturnTag.KS1.nc_years == (2,) and ReturnTag.KS2_TA.nc_years == (6,)
    assert ReturnTag.EYFSP.nc_years == (0,) and ReturnTag.KS3_TA.nc_years == (9,)
    assert ReturnTag.CENSUS.nc_years is None and ReturnTag.OTHER.nc_years is None
