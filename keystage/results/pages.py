"""What the service homepage, the history and the upload lists read: the collections a school takes
part in, the schools and uploads a person may see, and a collection's page for one school.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from keystage.accounts import policy
from keystage.core import year_groups
from keystage.core.results.kinds import KINDS
from keystage.core.roles import Action
from keystage.organisations.models import School
from keystage.pupils.models import Pupil
from keystage.results.models import (
    Collection,
    TemplateDownload,
    Upload,
    UploadStatus,
)


def uploads_visible_to(user: Any) -> QuerySet[Upload]:
    """Every upload of the schools where the user may submit data (their own school, or all of
    their trust's), plus the bulk uploads of organisations where they may submit."""
    school_ids: set[int] = set()
    submitting_orgs: list[int] = []
    for organisation, _roles in policy.organisations_of(user):
        if policy.can(user, Action.SUBMIT_DATA, organisation):
            submitting_orgs.append(organisation.pk)
        school_ids |= {s.pk for s in organisation.schools() if policy.can(user, Action.SUBMIT_DATA, s)}
    return Upload.objects.filter(
        Q(school_id__in=school_ids) | Q(school__isnull=True, via_organisation_id__in=submitting_orgs)
    )


def kinds_for(school: School) -> tuple[str, ...]:
    """The collections a school takes part in: those of the year groups it teaches (by its age
    range, else its phase), so an all-through or middle school takes every one it has pupils for."""
    return tuple(
        key for key, kind in KINDS.items() if year_groups.takes_part(school.year_groups, kind.nc_years)
    )


def schools_of(user: Any, action: Action = Action.VIEW_ORGANISATION) -> list[School]:
    """The schools where the user may take the action: their own, or every school of their trust or LA."""
    found: dict[int, School] = {}
    for organisation, _roles in policy.organisations_of(user):
        for school in organisation.schools().select_related("la", "trust"):
            if school.pk not in found and policy.can(user, action, school):
                found[school.pk] = school
    return sorted(found.values(), key=lambda s: s.name)


def open_collections(at: datetime | None = None) -> list[Collection]:
    """Collections not yet closed, or closed within the last year (their history stays in reach)."""
    at = at or timezone.now()
    recent = Collection.objects.filter(final_deadline__gte=at - timedelta(days=365))
    return list(recent.order_by("-year", "kind"))


@dataclass(frozen=True)
class RosterStatus:
    pupils: int
    updated_at: datetime | None
    sources: list[str]


@dataclass(frozen=True)
class ServiceHome:
    collection: Collection
    school: School
    roster: RosterStatus
    window: str  # "not_open", "open" or "closed"
    can_submit: bool
    last_download: TemplateDownload | None
    last_upload: Upload | None
    in_use: Upload | None


def roster_status(school: School, collection: Collection) -> RosterStatus:
    pupils = Pupil.objects.filter(
        school=school, academic_year=collection.year, on_roll=True, nc_year__in=collection.kind_info.nc_years
    )
    latest = pupils.order_by("-updated_at").values_list("updated_at", flat=True).first()
    sources = sorted({s for s in pupils.values_list("source", flat=True).distinct() if s})
    return RosterStatus(pupils.count(), latest, sources)


def _window(collection: Collection, at: datetime | None = None) -> str:
    at = at or timezone.now()
    if at < collection.opens_at:
        return "not_open"
    return "open" if at <= collection.final_deadline else "closed"


def service_home(collection: Collection, school: School, user: Any) -> ServiceHome:
    policy.require(user, Action.VIEW_ORGANISATION, school)
    uploads = Upload.objects.filter(collection=collection, school=school)
    return ServiceHome(
        collection=collection,
        school=school,
        roster=roster_status(school, collection),
        window=_window(collection),
        can_submit=policy.can(user, Action.SUBMIT_DATA, school),
        last_download=TemplateDownload.objects.filter(collection=collection, school=school).first(),
        last_upload=uploads.exclude(status=UploadStatus.DELETED).first(),
        in_use=uploads.filter(in_use=True).first(),
    )
