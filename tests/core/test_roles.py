import pytest

from keystage.core.roles import (
    Action,
    OrgKind,
    Role,
    grants,
    parse_roles,
    roles_for,
    two_factor_required,
)


def test_each_kind_of_organisation_offers_its_own_roles():
    assert [r.value for r in roles_for(OrgKind.SCHOOL)] == [
        "school_admin",
        "manage_data",
        "school_named",
        "school_anon",
        "governor",
    ]
    assert [r.value for r in roles_for(OrgKind.TRUST)] == ["trust_admin", "trust_named", "trust_anon"]
    assert [r.value for r in roles_for(OrgKind.LOCAL_AUTHORITY)] == ["la_data_officer", "la_named", "la_anon"]


def test_parse_roles_refuses_a_role_from_another_kind_of_organisation_by_name():
    with pytest.raises(
        ValueError, match="Trust administrator is a multi-academy trust role, not a school one"
    ):
        parse_roles(["school_named", "trust_admin"], OrgKind.SCHOOL)


def test_parse_roles_refuses_unknown_codes_and_drops_repeats():
    with pytest.raises(ValueError, match="“head” is not a role"):
        parse_roles(["head"], OrgKind.SCHOOL)
    assert parse_roles(["governor", "governor"], OrgKind.SCHOOL) == [Role.GOVERNOR]


def test_only_named_roles_see_pupils():
    pupil_level = {r for r in Role if r.sees_pupils}
    assert Role.SCHOOL_ANON not in pupil_level and Role.GOVERNOR not in pupil_level
    assert Role.TRUST_ANON not in pupil_level and Role.LA_ANON not in pupil_level
    assert {Role.SCHOOL_NAMED, Role.TRUST_NAMED, Role.LA_NAMED} <= pupil_level


def test_two_factor_is_required_of_every_role_that_sees_pupils_or_decides_who_does_and_of_platform_staff():
    # Written out, not derived: a role that starts showing pupils (or managing who sees them) shows up here.
    assert {r for r in Role if r.needs_two_factor} == {
        Role.SCHOOL_ADMIN,
        Role.MANAGE_DATA,
        Role.SCHOOL_NAMED,
        Role.TRUST_ADMIN,
        Role.TRUST_NAMED,
        Role.LA_DATA_OFFICER,
        Role.LA_NAMED,
    }
    assert two_factor_required([Role.GOVERNOR, Role.SCHOOL_NAMED])
    assert two_factor_required([Role.SCHOOL_ADMIN])  # invites people to see pupils; reads the audit log
    assert not two_factor_required([Role.SCHOOL_ANON, Role.GOVERNOR, Role.TRUST_ANON, Role.LA_ANON])
    assert not two_factor_required([])
    assert two_factor_required([], platform_staff=True)


def test_trust_roles_reach_schools_for_reports_but_never_for_running_the_school():
    assert grants(Role.TRUST_NAMED, Action.VIEW_PUPIL_DATA, held_in=OrgKind.TRUST, target_is_held_org=False)
    assert not grants(Role.TRUST_ADMIN, Action.MANAGE_USERS, held_in=OrgKind.TRUST, target_is_held_org=False)
    assert grants(Role.TRUST_ADMIN, Action.MANAGE_USERS, held_in=OrgKind.TRUST, target_is_held_org=True)
    assert not grants(
        Role.LA_DATA_OFFICER, Action.VIEW_AUDIT_LOG, held_in=OrgKind.LOCAL_AUTHORITY, target_is_held_org=False
    )


def test_a_role_never_grants_an_action_it_does_not_list():
    assert not grants(Role.GOVERNOR, Action.VIEW_REPORTS, held_in=OrgKind.SCHOOL, target_is_held_org=True)
    assert not grants(
        Role.SCHOOL_ANON, Action.VIEW_PUPIL_DATA, held_in=OrgKind.SCHOOL, target_is_held_org=True
    )
