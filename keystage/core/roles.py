"""Who may do what: the roles people hold in organisations and the actions each role allows.

A role is held in one organisation (a membership). Most actions reach down the hierarchy: a
trust's or local authority's role reaches the schools of that trust or authority. Running an
organisation (users, audit log) never reaches down: a trust administrator does not manage a
school's own staff list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class OrgKind(StrEnum):
    LOCAL_AUTHORITY = "la"
    TRUST = "trust"
    SCHOOL = "school"

    @property
    def label(self) -> str:
        return {"la": "Local authority", "trust": "Multi-academy trust", "school": "School"}[self.value]


class Action(StrEnum):
    VIEW_ORGANISATION = "view_organisation"
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT_LOG = "view_audit_log"
    SUBMIT_DATA = "submit_data"
    VIEW_REPORTS = "view_reports"
    VIEW_GOVERNOR_REPORTS = "view_governor_reports"
    VIEW_PUPIL_DATA = "view_pupil_data"
    SIGN_LA_CONFIRMATION = "sign_la_confirmation"
    RUN_LA_COLLECTIONS = "run_la_collections"

    @property
    def reaches_schools(self) -> bool:
        """Whether a trust or LA membership grants this action over its schools too."""
        return self not in _OWN_ORGANISATION_ONLY


_OWN_ORGANISATION_ONLY = frozenset({Action.MANAGE_USERS, Action.VIEW_AUDIT_LOG})
_GUARDED_BY_TWO_FACTOR = frozenset({Action.VIEW_PUPIL_DATA, Action.MANAGE_USERS, Action.VIEW_AUDIT_LOG})


@dataclass(frozen=True)
class RoleInfo:
    label: str
    kind: OrgKind
    description: str
    actions: frozenset[Action]


class Role(StrEnum):
    SCHOOL_ADMIN = "school_admin"
    MANAGE_DATA = "manage_data"
    SCHOOL_NAMED = "school_named"
    SCHOOL_ANON = "school_anon"
    GOVERNOR = "governor"
    TRUST_ADMIN = "trust_admin"
    TRUST_NAMED = "trust_named"
    TRUST_ANON = "trust_anon"
    LA_DATA_OFFICER = "la_data_officer"
    LA_NAMED = "la_named"
    LA_ANON = "la_anon"

    @property
    def info(self) -> RoleInfo:
        return ROLE_INFO[self]

    @property
    def label(self) -> str:
        return ROLE_INFO[self].label

    @property
    def kind(self) -> OrgKind:
        return ROLE_INFO[self].kind

    @property
    def is_administrator(self) -> bool:
        return Action.MANAGE_USERS in ROLE_INFO[self].actions

    @property
    def sees_pupils(self) -> bool:
        return Action.VIEW_PUPIL_DATA in ROLE_INFO[self].actions

    @property
    def needs_two_factor(self) -> bool:
        """A role that shows pupils' names asks for a second factor when its holder signs in, and so
        does one that decides who sees them (inviting people, resetting their sign-in) or reads the
        audit log (which names pupils by UPN): a password alone must not open either."""
        return bool(ROLE_INFO[self].actions & _GUARDED_BY_TWO_FACTOR)


_A = Action
ROLE_INFO: dict[Role, RoleInfo] = {
    Role.SCHOOL_ADMIN: RoleInfo(
        "Administrator (approver)",
        OrgKind.SCHOOL,
        "Invites colleagues, assigns and removes their roles, and reads the school's audit log.",
        frozenset({_A.VIEW_ORGANISATION, _A.MANAGE_USERS, _A.VIEW_AUDIT_LOG}),
    ),
    Role.MANAGE_DATA: RoleInfo(
        "Manage data",
        OrgKind.SCHOOL,
        "Downloads templates, uploads results, fixes errors, confirms submissions and exports CTFs.",
        frozenset({_A.VIEW_ORGANISATION, _A.SUBMIT_DATA, _A.VIEW_PUPIL_DATA}),
    ),
    Role.SCHOOL_NAMED: RoleInfo(
        "Named (pupil level)",
        OrgKind.SCHOOL,
        "Reads every report down to named pupils and signs the LA confirmation. For heads and SLT.",
        frozenset({_A.VIEW_ORGANISATION, _A.VIEW_REPORTS, _A.VIEW_PUPIL_DATA, _A.SIGN_LA_CONFIRMATION}),
    ),
    Role.SCHOOL_ANON: RoleInfo(
        "Anonymised",
        OrgKind.SCHOOL,
        "Reads aggregate reports; never sees a pupil's identity.",
        frozenset({_A.VIEW_ORGANISATION, _A.VIEW_REPORTS}),
    ),
    Role.GOVERNOR: RoleInfo(
        "Governor",
        OrgKind.SCHOOL,
        "Reads a limited set of aggregate reports; never sees a pupil's identity.",
        frozenset({_A.VIEW_ORGANISATION, _A.VIEW_GOVERNOR_REPORTS}),
    ),
    Role.TRUST_ADMIN: RoleInfo(
        "Trust administrator",
        OrgKind.TRUST,
        "Manages the trust's users, uploads results for all the trust's schools "
        "and reads trust-wide reports.",
        frozenset(
            {
                _A.VIEW_ORGANISATION,
                _A.MANAGE_USERS,
                _A.VIEW_AUDIT_LOG,
                _A.SUBMIT_DATA,
                _A.VIEW_REPORTS,
                _A.VIEW_PUPIL_DATA,
            }
        ),
    ),
    Role.TRUST_NAMED: RoleInfo(
        "Trust named (pupil level)",
        OrgKind.TRUST,
        "Reads every report of the trust's schools down to named pupils.",
        frozenset({_A.VIEW_ORGANISATION, _A.VIEW_REPORTS, _A.VIEW_PUPIL_DATA}),
    ),
    Role.TRUST_ANON: RoleInfo(
        "Trust anonymised",
        OrgKind.TRUST,
        "Reads aggregate reports of the trust's schools; never sees a pupil's identity.",
        frozenset({_A.VIEW_ORGANISATION, _A.VIEW_REPORTS}),
    ),
    Role.LA_DATA_OFFICER: RoleInfo(
        "LA data officer",
        OrgKind.LOCAL_AUTHORITY,
        "Runs the LA's collections, validates returns, publishes reports, and manages the LA's users.",
        frozenset(
            {
                _A.VIEW_ORGANISATION,
                _A.MANAGE_USERS,
                _A.VIEW_AUDIT_LOG,
                _A.RUN_LA_COLLECTIONS,
                _A.VIEW_REPORTS,
                _A.VIEW_PUPIL_DATA,
            }
        ),
    ),
    Role.LA_NAMED: RoleInfo(
        "LA named (pupil level)",
        OrgKind.LOCAL_AUTHORITY,
        "LA-wide analysis down to named pupils of the authority's schools.",
        frozenset({_A.VIEW_ORGANISATION, _A.VIEW_REPORTS, _A.VIEW_PUPIL_DATA}),
    ),
    Role.LA_ANON: RoleInfo(
        "LA anonymised",
        OrgKind.LOCAL_AUTHORITY,
        "LA-wide aggregate analysis; never sees a pupil's identity.",
        frozenset({_A.VIEW_ORGANISATION, _A.VIEW_REPORTS}),
    ),
}


def roles_for(kind: OrgKind) -> list[Role]:
    """The roles that can be held in an organisation of this kind, in display order."""
    return [role for role in Role if role.kind is kind]


def parse_roles(values: list[str], kind: OrgKind) -> list[Role]:
    """Roles named by their codes, refusing any that cannot be held in this kind of organisation."""
    roles: list[Role] = []
    for value in values:
        try:
            role = Role(value)
        except ValueError:
            raise ValueError(f"“{value}” is not a role.") from None
        if role.kind is not kind:
            raise ValueError(
                f"{role.label} is a {role.kind.label.lower()} role, not a {kind.label.lower()} one."
            )
        if role not in roles:
            roles.append(role)
    return roles


def two_factor_required(roles: Iterable[Role], *, platform_staff: bool = False) -> bool:
    """Whether a person holding these roles must sign in with a code as well as a password.

    Platform staff must too: platform administration reaches every organisation's people. Anyone
    else (anonymised and governor roles) may choose to.
    """
    return platform_staff or any(role.needs_two_factor for role in roles)


def grants(role: Role, action: Action, *, held_in: OrgKind, target_is_held_org: bool) -> bool:
    """Whether a role held in an organisation allows the action on a target organisation.

    The caller has established the target is the held organisation itself or one of its schools.
    """
    if role.kind is not held_in or action not in ROLE_INFO[role].actions:
        return False  # a role held in the wrong kind of organisation grants nothing
    if target_is_held_org:
        return True
    return held_in is not OrgKind.SCHOOL and action.reaches_schools
