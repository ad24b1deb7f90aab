"""Organisations: identifiers checked as DfE issues them, through the model and the admin pages."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from keystage.organisations.models import LocalAuthority, Organisation, School
from tests.conftest import signed_in
from tests.factories import LocalAuthorityFactory, SchoolFactory, TrustFactory


def test_a_school_whose_dfe_number_is_not_in_its_la_is_refused_with_the_reason(db):
    la = LocalAuthorityFactory(code="208")
    school = School(
        name="X", urn="100200", dfe_number="2094001", phase="primary", school_type="academy", la=la
    )
    with pytest.raises(ValidationError) as caught:
        school.full_clean()
    assert "does not start with the school's LA code 208" in caught.value.message_dict["dfe_number"][0]


def test_malformed_urn_and_dfe_number_are_both_reported_at_once(db):
    la = LocalAuthorityFactory(code="208")
    school = School(name="X", urn="12AB", dfe_number="20840", phase="primary", school_type="academy", la=la)
    with pytest.raises(ValidationError) as caught:
        school.full_clean()
    assert set(caught.value.message_dict) >= {"urn", "dfe_number"}


def test_each_kind_records_its_kind_and_answers_for_its_schools(db):
    la = LocalAuthorityFactory(code="208")
    trust = TrustFactory()
    in_trust = SchoolFactory(la=la, trust=trust)
    maintained = SchoolFactory(la=la, trust=None)
    assert {o.kind for o in Organisation.objects.all()} == {"la", "trust", "school"}
    assert set(la.schools()) == {in_trust, maintained}
    assert list(trust.schools()) == [in_trust]
    assert list(Organisation.objects.get(pk=in_trust.pk).schools()) == [in_trust]
    assert Organisation.objects.get(pk=la.pk).specific() == la


def test_identifiers_are_unique(db):
    SchoolFactory(urn="100300", dfe_number="8004300", la=LocalAuthorityFactory(code="800"))
    with pytest.raises(IntegrityError):
        SchoolFactory(urn="100300", dfe_number="8004301", la=LocalAuthority.objects.get(code="800"))


def test_trust_company_number_is_optional_but_checked(db):
    trust = TrustFactory.build(companies_house_number="")
    trust.full_clean()
    assert trust.companies_house_number is None
    bad = TrustFactory.build(companies_house_number="12-34")
    with pytest.raises(ValidationError, match="Companies House number must be 8 characters"):
        bad.full_clean()


def test_platform_staff_adding_a_bad_school_in_the_admin_see_the_reason_not_a_500(db, django_user_model):
    staff = django_user_model.objects.create_superuser(
        "staff@example.org", "x-long-password-1", full_name="S"
    )
    la = LocalAuthorityFactory(code="208")
    client = signed_in(staff)
    response = client.post(
        "/admin/organisations/school/add/",
        {
            "name": "Bad",
            "urn": "1234567",
            "dfe_number": "3094001",
            "phase": "primary",
            "school_type": "academy",
            "la": la.pk,
        },
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "URN must be 6 digits" in content
    assert not School.objects.exists()
    response = client.post("/admin/organisations/localauthority/add/", {"name": "LA", "code": "2O8"})
    assert "LA code must be 3 digits" in response.content.decode()
