"""The one place that decides who may do what to which organisation.

Views and services ask `can()` or `require()`; nothing else inspects memberships to grant access.
A membership reaches its own organisation and, for actions that reach down (see core.roles), the
schools of its trust or local authority. Nothing reaches sideways or up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied

from keystage.accounts.models import Membership
from keystage.core.roles import Action, OrgKind, Role, grants
from keystage.organisations.models import Organisation, School

_CACHE_ATTR = "_keystage_memberships"


@dataclass(frozen=True)
class HeldRole:
    role: Role
    organisation_id: int
    organisation_kind: OrgKind


def held_roles(user: Any) -> list[HeldRole]:
    """The user's roles, read once per request (cached on the user object)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    cached: list[HeldRole] | None = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = [
            HeldRole(Role(role), org_id, OrgKind(kind))
            for role, org_id, kind in Membership.objects.filter(user=user).values_list(
                "role", "organisation_id", "organisation__kind"
            )
        ]
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_roles(user: Any) -> None:
    """Drop the cached roles after they change."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def _parents(organisation: Organisation) -> set[int]:
    """The trust and LA above a school (empty for a trust or LA)."""
    if organisation.org_kind is not OrgKind.SCHOOL:
        return set()
    school = organisation if isinstance(organisation, School) else organisation.specific()
    assert isinstance(school, School)
    return {pk for pk in (school.la_id, school.trust_id) if pk is not None}


def can(user: Any, action: Action, organisation: Organisation) -> bool:
    roles = held_roles(user)
    if not roles:
        return False
    parents: set[int] | None = None
    for held in roles:
        if held.organisation_id == organisation.pk:
            if grants(held.role, action, held_in=held.organisation_kind, target_is_held_org=True):
                return True
            continue
        if parents is None:
            parents = _parents(organisation)
        if held.organisation_id in parents and grants(
            held.role, action, held_in=held.organisation_kind, target_is_held_org=False
        ):
            return True
    return False


def require(user: Any, action: Action, organisation: Organisation) -> None:
    """Raise PermissionDenied (a 403 page) unless the user may take the action."""
    if not can(user, action, organisation):
        raise PermissionDenied("You do not have permission to do that for this organisation.")


# Questions asked in several places, answered once here.


def is_platform_staff(user: Any) -> bool:
    """Platform administrators: the admin site, fitting estimates, any person's API tokens."""
    return bool(getattr(user, "is_active", False) and getattr(user, "is_staff", False))


def reads_reports(user: Any, organisation: Organisation) -> bool:
    """Whether the person reads any of the organisation's reports: all of them, or, as its governors
    do, the dashboard's headline figures."""
    return can(user, Action.VIEW_REPORTS, organisation) or can(
        user, Action.VIEW_GOVERNOR_REPORTS, organisation
    )


def sees_pupils(user: Any, organisation: Organisation) -> bool:
    """Whether the person sees pupil-level figures in the organisation's reports and estimates (names,
    UPNs, each pupil's results): they may view its reports and its pupils' data."""
    return can(user, Action.VIEW_REPORTS, organisation) and can(user, Action.VIEW_PUPIL_DATA, organisation)


def may_read_school_files(user: Any, school: School) -> bool:
    """Files a school sent its LA, their issues and the reports published to it hold pupils: the
    school's people who submit data or see pupils, and its LA's people who run returns."""
    return (
        can(user, Action.SUBMIT_DATA, school)
        or can(user, Action.VIEW_PUPIL_DATA, school)
        or can(user, Action.RUN_LA_COLLECTIONS, school.la)
    )


def roles_in(user: Any, organisation: Organisation) -> list[Role]:
    return [h.role for h in held_roles(user) if h.organisation_id == organisation.pk]


def organisations_of(user: Any) -> list[tuple[Organisation, list[Role]]]:
    """The organisations where the user holds roles, each with those roles, by name."""
    by_org: dict[int, list[Role]] = {}
    for held in held_roles(user):
        by_org.setdefault(held.organisation_id, []).append(held.role)
    orgs = Organisation.objects.filter(pk__in=by_org).order_by("name")
    return [(org, sorted(by_org[org.pk], key=list(Role).index)) for org in orgs]
