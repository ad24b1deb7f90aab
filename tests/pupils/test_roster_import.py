"""Importing rosters into a school's roll: by UPN, never duplicated, leavers kept."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied

from keystage.audit.models import AuditAction, AuditEvent
from keystage.core.pupils.model import Pupil as CorePupil
from keystage.core.pupils.model import Sex, build_upn
from keystage.pupils.models import Pupil
from keystage.pupils.services import import_roster


def _pupil(serial: int, **changes: object) -> CorePupil:
    base = CorePupil(
        upn=build_upn("801", "4001", 21, serial),
        surname=f"Surname{serial}",
        forename="Test",
        date_of_birth=date(2010, 1, serial),
        sex=Sex.FEMALE,
        nc_year=11,
        ks2_reading=101,
        ks2_maths=99,
    )
    return replace(base, **changes)


def _import(world, pupils, *, full=True, **kwargs):
    return import_roster(
        school=world.s1, academic_year=2026, pupils=pupils, full=full, source="roster.csv", **kwargs
    )


def test_reimporting_the_same_roster_changes_nothing_and_never_duplicates(world):
    roster = [_pupil(i) for i in range(1, 6)]
    assert _import(world, roster).added == 5
    again = _import(world, roster)
    assert (again.added, again.updated, again.unchanged, again.left) == (0, 0, 5, 0)
    assert Pupil.objects.count() == 5


def test_a_changed_pupil_is_updated_by_upn(world):
    _import(world, [_pupil(1), _pupil(2)])
    result = _import(world, [_pupil(1, surname="Married", fsm6=True), _pupil(2)])
    assert (result.updated, result.unchanged) == (1, 1)
    changed = Pupil.objects.get(upn=_pupil(1).upn)
    assert changed.surname == "Married" and changed.fsm6


def test_pupils_who_left_are_kept_off_roll_and_come_back_if_they_return(world):
    _import(world, [_pupil(1), _pupil(2), _pupil(3)])
    assert _import(world, [_pupil(1), _pupil(2)]).left == 1
    gone = Pupil.objects.get(upn=_pupil(3).upn)
    assert not gone.on_roll and gone.left_on is not None
    assert Pupil.objects.count() == 3
    assert _import(world, [_pupil(1), _pupil(2), _pupil(3)]).updated == 1
    assert Pupil.objects.get(upn=_pupil(3).upn).on_roll


def test_a_partial_file_or_a_row_with_problems_takes_nobody_off_roll(world):
    _import(world, [_pupil(1), _pupil(2), _pupil(3)])
    assert _import(world, [_pupil(1)], full=False).left == 0
    assert _import(world, [_pupil(1), _pupil(2)], also_in_file={_pupil(3).upn}).left == 0
    assert Pupil.objects.filter(on_roll=True).count() == 3


def test_the_same_pupil_can_be_on_two_schools_rolls_and_in_two_years(world):
    _import(world, [_pupil(1)])
    import_roster(school=world.s2, academic_year=2026, pupils=[_pupil(1)], full=True, source="x.csv")
    import_roster(school=world.s1, academic_year=2027, pupils=[_pupil(1)], full=True, source="x.csv")
    assert Pupil.objects.filter(upn=_pupil(1).upn).count() == 3


def test_imports_are_audited_and_only_people_who_submit_data_for_the_school_may_import(world):
    _import(world, [_pupil(1)], actor=world.person("manage_data"))
    event = AuditEvent.objects.get(action=AuditAction.ROSTER_IMPORTED)
    assert event.organisation_id == world.s1.pk and event.detail["added"] == 1
    _import(
        world, [_pupil(2)], full=False, actor=world.person("trust_admin")
    )  # the trust uploads for its schools
    for refused in ("school_named", "governor", "other_school_admin", "other_trust_admin", "la_data_officer"):
        with pytest.raises(PermissionDenied):
            _import(world, [_pupil(3)], full=False, actor=world.person(refused))
    assert not Pupil.objects.filter(upn=_pupil(3).upn).exists()


def test_a_file_without_some_columns_leaves_those_details_alone(world):
    _import(world, [_pupil(1, fsm6=True, ethnicity="BAFR")])
    names_only = _pupil(1, surname="Renamed", fsm6=False, ks2_reading=None, ks2_maths=None, ethnicity=None)
    _import(
        world, [names_only], full=False, supplied={"surname", "forename", "date_of_birth", "sex", "nc_year"}
    )
    row = Pupil.objects.get(upn=_pupil(1).upn)
    assert row.surname == "Renamed"
    assert (row.fsm6, row.ethnicity, row.ks2_reading, row.ks2_maths) == (True, "BAFR", 101, 99)


def test_a_whole_school_file_that_reads_as_empty_or_loses_most_pupils_is_refused(world):
    from keystage.pupils.services import RosterImportRefusedError

    _import(world, [_pupil(i) for i in range(1, 13)])
    with pytest.raises(RosterImportRefusedError, match="No pupil could be read"):
        _import(world, [])
    with pytest.raises(RosterImportRefusedError, match="would mark 10 of 12 pupils as left"):
        _import(world, [_pupil(1), _pupil(2)])
    assert Pupil.objects.filter(on_roll=True).count() == 12  # nothing changed
    assert _import(world, [_pupil(1), _pupil(2)], allow_many_leavers=True).left == 10
