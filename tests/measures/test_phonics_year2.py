"""Met the phonics standard by the end of Year 2, from the database: last year's Year 1 pupils who met
it count in this year's Year 2 of their school unless this year's rolls say they left it (marked as
left, or on another school's roll): DfE counts a Year 1 result of a pupil "in the census in year 2"."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from keystage.measures import services
from keystage.measures.models import PrimaryPupilFigure
from keystage.pupils.models import Pupil
from tests.measures.test_primary_database import MARK, figure, upload_confirmed, year_group
from tests.results.conftest import YEAR


@pytest.fixture(autouse=True)
def _uploads_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"


def test_a_year_1_pass_counts_in_year_2_only_while_the_pupil_is_still_at_the_school(world):
    user = world.person("manage_data")
    # Last year's Year 1 at School One: pupils 1 to 3 met the standard, pupil 4 did not.
    last = year_group(world.s1, 1, 4, year=YEAR - 1)
    marks = {(1, MARK): 36, (2, MARK): 35, (3, MARK): 34, (4, MARK): 20}
    upload_confirmed("phonics", world.s1, user, marks, year=YEAR - 1)
    left, moved, unknown, retaker = last
    # This year's rolls: pupil 1 marked as left School One, pupil 2 on School Three's roll, pupil 3 on
    # no roll (nothing says they left); pupil 4, on School One's roll, is absent from the retake.
    for pupil, school, on_roll in (
        (left, world.s1, False),
        (moved, world.s3, True),
        (retaker, world.s1, True),
    ):
        Pupil.objects.create(
            school=school,
            academic_year=YEAR,
            upn=pupil.upn,
            forename=pupil.forename,
            surname=pupil.surname,
            date_of_birth=pupil.date_of_birth,
            sex=pupil.sex,
            nc_year=2,
            on_roll=on_roll,
        )
    upload_confirmed("phonics", world.s1, user, {(1, MARK): "A"})  # the template lists pupil 4 alone

    call_command("measures", "phonics", "--year", str(YEAR), verbosity=0)

    run = services.latest_run("phonics", YEAR)
    counted = set(PrimaryPupilFigure.objects.filter(run=run, school=world.s1).values_list("upn", flat=True))
    assert counted == {unknown.upn, retaker.upn}
    by_end = figure(run, "phonics_y2_met_by_end", school=world.s1)
    # Pupil 3 met it in Year 1; pupil 4 did not, and was absent from the retake (counted, not met).
    assert (by_end["figure"], by_end["pupils"]) == (pytest.approx(1 / 2), 2)
