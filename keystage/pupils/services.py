"""Importing a school's roster: add new pupils, update changed ones by UPN, keep leavers off roll."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from keystage.accounts import policy
from keystage.audit.log import record
from keystage.audit.models import AuditAction
from keystage.core.pupils.model import Pupil as CorePupil
from keystage.core.roles import Action
from keystage.organisations.models import School
from keystage.pupils.models import Pupil


@dataclass(frozen=True)
class RosterImportResult:
    added: int
    updated: int
    unchanged: int
    left: int


def import_roster(
    *,
    school: School,
    academic_year: int,
    pupils: Sequence[CorePupil],
    full: bool,
    source: str,
    also_in_file: Collection[str] = (),
    actor: Any = None,
    ip_address: str | None = None,
) -> RosterImportResult:
    """Bring the school's roll for the year in line with the file.

    A pupil is matched by UPN and never duplicated. With ``full`` (a whole-school file) pupils on
    roll who are not in the file are marked as left, and kept; ``also_in_file`` names UPNs of rows
    that had problems, which are neither changed nor taken off roll.
    """
    if actor is not None:
        policy.require(actor, Action.SUBMIT_DATA, school)
    with transaction.atomic():
        existing = {
            p.upn: p
            for p in Pupil.objects.select_for_update().filter(school=school, academic_year=academic_year)
        }
        to_create: list[Pupil] = []
        to_update: list[Pupil] = []
        unchanged = 0
        for pupil in pupils:
            values = Pupil.values_from(pupil)
            row = existing.get(pupil.upn)
            if row is None:
                to_create.append(
                    Pupil(school=school, academic_year=academic_year, upn=pupil.upn, source=source, **values)
                )
                continue
            changed = any(getattr(row, name) != value for name, value in values.items()) or not row.on_roll
            if not changed:
                unchanged += 1
                continue
            for name, value in values.items():
                setattr(row, name, value)
            row.on_roll, row.left_on, row.source = True, None, source
            to_update.append(row)
        Pupil.objects.bulk_create(to_create, batch_size=2000)
        if to_update:
            Pupil.objects.bulk_update(
                to_update,
                [*Pupil.ROSTER_FIELDS, "on_roll", "left_on", "source", "updated_at"],
                batch_size=2000,
            )
        left = 0
        if full:
            present = {p.upn for p in pupils} | set(also_in_file)
            leavers = [upn for upn, row in existing.items() if row.on_roll and upn not in present]
            left = Pupil.objects.filter(school=school, academic_year=academic_year, upn__in=leavers).update(
                on_roll=False, left_on=timezone.localdate()
            )
        result = RosterImportResult(len(to_create), len(to_update), unchanged, left)
        record(
            AuditAction.ROSTER_IMPORTED,
            actor=actor,
            organisation=school,
            subject=f"{academic_year} roster from {source}",
            ip_address=ip_address,
            added=result.added,
            updated=result.updated,
            unchanged=result.unchanged,
            left=result.left,
        )
    return result
