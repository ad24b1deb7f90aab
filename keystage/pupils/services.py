"""Importing a school's roster: add new pupils, update changed ones by UPN, keep leavers off roll."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from keystage.accounts import policy
from keystage.audit.log import record
from keystage.audit.models import AuditAction
from keystage.core.pupils.model import Pupil as CorePupil
from keystage.core.refusals import Refused
from keystage.core.roles import Action
from keystage.organisations.models import School
from keystage.pupils.models import Pupil


@dataclass(frozen=True)
class RosterImportResult:
    added: int
    updated: int
    unchanged: int
    left: int


class RosterImportRefusedError(Refused):
    """A roster that would do harm if imported as asked; str() says why and what to do."""


# A whole-school file that would take more than this share of the roll off it is probably not
# whole (a truncated file, a stray quote mark, the wrong school's file).
MAX_LEAVING_SHARE = 0.5


def import_roster(
    *,
    school: School,
    academic_year: int,
    pupils: Sequence[CorePupil],
    full: bool,
    source: str,
    also_in_file: Collection[str] = (),
    supplied: Collection[str] | Mapping[str, Collection[str]] | None = None,
    allow_many_leavers: bool = False,
    actor: Any = None,
    ip_address: str | None = None,
) -> RosterImportResult:
    """Bring the school's roll for the year in line with the file.

    A pupil is matched by UPN and never duplicated. Only the fields the file ``supplied`` are
    updated (all of them, per file, or per UPN for files like CTFs where each pupil carries
    different details), so a file without KS2 scores does not erase them. With ``full`` (a
    whole-school file) pupils on roll who are not in the file are marked as left, and kept;
    ``also_in_file`` names UPNs of rows that had problems, which are neither changed nor taken
    off roll. A full file that reads as empty, or would take most of the roll off it, is refused.
    """
    if actor is not None:
        policy.require(actor, Action.SUBMIT_DATA, school)

    def fields_for(upn: str) -> Collection[str]:
        if supplied is None:
            return Pupil.ROSTER_FIELDS
        if isinstance(supplied, Mapping):
            return supplied.get(upn, Pupil.ROSTER_FIELDS)
        return supplied

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
            given = {name: value for name, value in values.items() if name in fields_for(pupil.upn)}
            changed = any(getattr(row, name) != value for name, value in given.items()) or not row.on_roll
            if not changed:
                unchanged += 1
                continue
            for name, value in given.items():
                setattr(row, name, value)
            row.on_roll, row.left_on, row.source = True, None, source
            to_update.append(row)
        left = 0
        if full:
            present = {p.upn for p in pupils} | set(also_in_file)
            on_roll = [upn for upn, row in existing.items() if row.on_roll]
            leavers = [upn for upn in on_roll if upn not in present]
            if on_roll and not pupils:
                raise RosterImportRefusedError(
                    f"No pupil could be read from {source}, so it cannot replace the roll of {len(on_roll)}. "
                    "Check the file, or import it as partial."
                )
            if (
                len(leavers) > MAX_LEAVING_SHARE * len(on_roll)
                and len(leavers) > 5
                and not allow_many_leavers
            ):
                raise RosterImportRefusedError(
                    f"{source} would mark {len(leavers)} of {len(on_roll)} pupils as left. "
                    "If the file is not the whole school, import it as partial; "
                    "if they really left, allow many leavers."
                )
            left = Pupil.objects.filter(school=school, academic_year=academic_year, upn__in=leavers).update(
                on_roll=False, left_on=timezone.localdate()
            )
        Pupil.objects.bulk_create(to_create, batch_size=2000)
        if to_update:
            Pupil.objects.bulk_update(
                to_update,
                [*Pupil.ROSTER_FIELDS, "on_roll", "left_on", "source", "updated_at"],
                batch_size=2000,
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
