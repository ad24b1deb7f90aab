"""The demo: every role has a person, KS4 works from the files keystage ships, and loading twice
changes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from keystage.accounts.models import Membership, User
from keystage.core.reference.dfe_files import SHIPPED_DIR
from keystage.core.roles import Role
from keystage.estimates.models import EstimatesFit, FitStatus, Transition
from keystage.measures.models import MeasureRun, RunStatus, SchoolFigure
from keystage.organisations.models import LocalAuthority, School, Trust
from keystage.reference_data.models import DiscountCode, Qualification, ReferenceImport
from keystage.results.models import Collection
from keystage.web.demo import DEMO_PASSWORD, current_academic_year, load_demo


def _counts():
    from keystage.pupils.models import Pupil

    return (
        Pupil.objects.count(),
        list(Pupil.objects.order_by("upn").values_list("upn", "surname", "on_roll")),
        LocalAuthority.objects.count(),
        Trust.objects.count(),
        School.objects.count(),
        User.objects.count(),
        Membership.objects.count(),
        list(User.objects.order_by("email").values_list("email", "password")),
    )


def test_the_demo_has_one_la_a_trust_of_three_and_three_more_schools_and_every_role(db):
    load_demo()
    la = LocalAuthority.objects.get()
    trust = Trust.objects.get()
    assert trust.schools().count() == 3
    assert la.schools().filter(trust__isnull=True).count() == 3
    assert {s.phase for s in School.objects.all()} >= {"primary", "secondary"}
    assert set(Membership.objects.values_list("role", flat=True)) == {r.value for r in Role}
    assert User.objects.filter(is_staff=True).exists()


@pytest.fixture
def nothing_beside_the_clone(settings, tmp_path, monkeypatch):
    """A clone with nothing beside it: KEYSTAGE_REFERENCE_DIR names an empty folder, the background
    is the smallest, and the database has no catalogue, so whatever KS4 the demo has, it found in
    keystage itself (DfE's shipped files)."""
    empty = tmp_path / "no-reference"
    empty.mkdir()
    settings.KEYSTAGE_REFERENCE_DIR = empty
    settings.MEDIA_ROOT = tmp_path / "storage"
    monkeypatch.setenv("KEYSTAGE_DEMO_BACKGROUND", "small")
    Qualification.objects.all().delete()
    DiscountCode.objects.all().delete()
    ReferenceImport.objects.all().delete()


def test_the_demo_has_ks4_from_the_shipped_files_and_loading_twice_changes_nothing(
    db, nothing_beside_the_clone, capsys
):
    call_command("demo", "--no-serve")
    printed = capsys.readouterr().out
    assert DEMO_PASSWORD in printed and "head@oakfield-academy.example" in printed
    year = current_academic_year()
    # The KS4 GCSE collection is open, with DfE's catalogue loaded from the files keystage ships.
    gcse = Collection.objects.get(kind="ks4-gcse", year=year)
    assert gcse.opens_at <= timezone.now() < gcse.provisional_deadline
    assert str(gcse) in printed.split("Open for uploads:")[1].splitlines()[0]
    loaded = ReferenceImport.objects.get(kind="ks4-catalogue")
    assert str(SHIPPED_DIR) in loaded.source and "shared" not in loaded.source
    assert Qualification.objects.filter(qan="60146060").exists()  # GCSE maths
    # KS4 figures for the demo schools, against estimates read from the shipped Progress 8 files.
    run = MeasureRun.objects.get(key_stage="ks4", year=year, school__isnull=True)
    assert run.status == RunStatus.COMPLETE and run.pupils > 0 and run.estimates
    school_figures = SchoolFigure.objects.filter(run=run, school__isnull=False)
    assert school_figures.exclude(a8=None).exists()
    assert f"KS4 {year - 1}/{str(year)[-2:]}" in printed
    # KS4 estimates fitted on last year's national results.
    fit = EstimatesFit.objects.filter(transition=Transition.KS2_KS4, status=FitStatus.COMPLETE).first()
    assert fit is not None and fit.pupils > 0, list(EstimatesFit.objects.values_list("status", "message"))

    first = _counts()
    call_command("demo", "--no-serve")
    assert _counts() == first
    assert ReferenceImport.objects.filter(kind="ks4-catalogue").count() == 1  # not loaded again


def test_a_demo_person_can_sign_in_with_the_printed_password(db, settings):
    settings.KEYSTAGE_TWO_FACTOR = "off"  # as `keystage demo` serves: its people have no phones
    load_demo()
    client = Client()
    response = client.post("/sign-in/", {"email": "head@oakfield-academy.example", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert "Oakfield Academy" in client.get("/").content.decode()


def test_every_demo_school_has_a_realistic_roll_of_pupils(db):
    from keystage.pupils.models import Pupil
    from keystage.web.demo import current_academic_year, load_demo_rosters

    load_demo()
    assert load_demo_rosters() > 500
    year = current_academic_year()
    for school in School.objects.all():
        roll = Pupil.objects.filter(school=school, academic_year=year)
        assert roll.count() >= 100, school.name
        expected = {11} if school.phase in {"secondary", "special"} else {0, 1, 2, 4, 6}
        assert set(roll.values_list("nc_year", flat=True).distinct()) == expected
    assert (
        current_academic_year(date(2026, 11, 22)) == 2027 and current_academic_year(date(2026, 7, 1)) == 2026
    )
