"""Organisations in bulk: GIAS's establishment file imported in one transaction with one audit record,
from the command line (`keystage organisations import-gias`), the demo, or an upload in /admin/ that a
worker imports.

A DfE number moves between URNs: a school converting to an academy gets a new URN and keeps its DfE
number, and its old URN closes. So a DfE number is unique among open schools only (a conditional
unique constraint): the closed predecessor keeps its row, its history and its number, and lookups by
DfE number prefer the open school (``School.objects.by_dfe_number``). The import closes schools before
it opens or renumbers others, and an open school in keystage that the file does not mention, whose
DfE number an open school in the file now holds, is closed (the file is DfE's word on which school is
open with that number)."""

from __future__ import annotations

import logging
import posixpath
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.base import File
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string

from keystage.audit.log import record
from keystage.audit.models import AuditAction
from keystage.core.organisations import gias
from keystage.core.refusals import Refused
from keystage.core.roles import OrgKind
from keystage.organisations.models import GIASImport, LocalAuthority, Organisation, School, Trust
from keystage.web.faults import DATABASE_UNAVAILABLE, discard_unrecorded, save_whole

logger = logging.getLogger(__name__)

SCHOOL_FIELDS = [
    "name",
    "dfe_number",
    "phase",
    "school_type",
    "establishment_type",
    "statutory_low_age",
    "statutory_high_age",
    "la",
    "trust",
    "is_open",
    "closed_on",
]
NOT_ADDED_CLOSED = "Closed, and not in keystage: not added (a closed school is kept only once known)"
BATCH = 1000
MAX_CHANGES_KEPT = 2000
DEFAULT_GIAS_MAX_UPLOAD_MB = 200  # DfE's national file is about 70 MB

M = TypeVar("M", LocalAuthority, Trust)


@dataclass
class SchoolChange:
    urn: str
    name: str
    changes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"urn": self.urn, "name": self.name, "changes": self.changes}

    def __str__(self) -> str:
        return f"{self.urn} {self.name}: {'; '.join(self.changes)}"


@dataclass
class GiasImportResult:
    source: str
    problems: list[gias.Problem] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    closed: int = 0
    skipped: int = 0
    las_created: int = 0
    las_renamed: int = 0
    trusts_created: int = 0
    trusts_renamed: int = 0
    not_in_file: int = 0
    changes: list[SchoolChange] = field(default_factory=list)
    skipped_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "closed": self.closed,
            "skipped": self.skipped,
            "las_created": self.las_created,
            "las_renamed": self.las_renamed,
            "trusts_created": self.trusts_created,
            "trusts_renamed": self.trusts_renamed,
            "not_in_file": self.not_in_file,
        }

    def summary_lines(self) -> list[str]:
        if self.problems:
            count = len(self.problems)
            return [f"{self.source}: {count} problem{'s' if count != 1 else ''}, so nothing was imported."]
        lines = [
            f"Schools: {self.created:,} created, {self.updated:,} updated ({self.closed:,} of them closed), "
            f"{self.unchanged:,} unchanged, {self.skipped:,} rows skipped.",
            f"Local authorities: {self.las_created:,} created, {self.las_renamed:,} renamed. "
            f"Trusts: {self.trusts_created:,} created, {self.trusts_renamed:,} renamed.",
        ]
        if self.not_in_file:
            lines.append(
                f"{self.not_in_file:,} schools in keystage are not in this file and were left as they are."
            )
        lines.extend(f"Skipped {n:,}: {reason}" for reason, n in self.skipped_reasons.most_common())
        return lines

    def as_summary(self) -> dict[str, Any]:
        """For GIASImport.summary: plain JSON (counts, lines, changes by school, the first few thousand)."""
        return {
            "counts": self.counts(),
            "lines": self.summary_lines(),
            "skipped": dict(self.skipped_reasons.most_common()),
            "changes": [c.as_dict() for c in self.changes[:MAX_CHANGES_KEPT]],
            "changes_total": len(self.changes),
        }


def _kind(model: type[Organisation]) -> str:
    if model is LocalAuthority:
        return OrgKind.LOCAL_AUTHORITY.value
    if model is Trust:
        return OrgKind.TRUST.value
    return OrgKind.SCHOOL.value


def _bulk_create(model: type[M], objects: list[M]) -> None:
    """Create local authorities or trusts in a few queries. bulk_create() refuses a model with
    multi-table inheritance, so the Organisation rows go first (their ids come back from the insert),
    then each kind's own rows through the manager's _insert, as Model.save() itself does."""
    if not objects:
        return
    using = router.db_for_write(model)
    now = timezone.now()
    parents = [Organisation(kind=_kind(model), name=o.name, created_at=now) for o in objects]
    Organisation.objects.using(using).bulk_create(parents, batch_size=BATCH)
    for parent, obj in zip(parents, objects, strict=True):
        assert parent.pk is not None  # SQLite 3.35+ and PostgreSQL return the new ids
        obj.organisation_ptr_id = parent.pk
        obj.id = parent.pk
        obj.kind, obj.created_at = parent.kind, now
    fields = list(model._meta.local_concrete_fields)
    size = connections[using].ops.bulk_batch_size(fields, objects) or BATCH
    size = max(1, min(size, BATCH))
    for start in range(0, len(objects), size):
        manager = model._base_manager.using(using)
        manager._insert(objects[start : start + size], fields=fields, using=using)  # type: ignore[attr-defined]
    for obj in objects:
        obj._state.adding, obj._state.db = False, using


def _ages(low: int | None, high: int | None) -> str:
    if low is None and high is None:
        return "not known"
    return f"{'?' if low is None else low}-{'?' if high is None else high}"


def _day(value: date | None) -> str:
    return f"{value:%d %B %Y}".lstrip("0") if value else ""


class _Importer:
    def __init__(self, parsed: gias.GiasFile, result: GiasImportResult, create_only: bool) -> None:
        self.parsed, self.result, self.create_only = parsed, result, create_only
        self.las = {la.code: la for la in LocalAuthority.objects.all()}
        self.la_codes = {la.pk: la.code for la in self.las.values()}
        self.trusts_by_uid: dict[str, Trust] = {}
        self.trust_names: dict[int, str] = {}
        for trust in Trust.objects.all():
            self.trust_names[trust.pk] = trust.name
            if trust.gias_uid:
                self.trusts_by_uid[trust.gias_uid] = trust
        self.existing = {s.urn: s for s in School.objects.order_by()}

    def run(self) -> None:
        parsed, result = self.parsed, self.result
        for skipped in parsed.skipped:
            result.skipped_reasons[skipped.reason] += 1
        result.skipped = len(parsed.skipped)
        incoming: list[gias.School] = []
        for school in parsed.schools:
            current = self.existing.get(school.urn)
            if current is None and not school.is_open:
                result.skipped += 1
                result.skipped_reasons[NOT_ADDED_CLOSED] += 1
            elif current is not None and self.create_only:
                result.unchanged += 1
            else:
                incoming.append(school)
        self._local_authorities(incoming)
        self._trusts(incoming)

        closing: list[School] = []
        changed: list[School] = []
        created: list[gias.School] = []
        in_file = {s.urn for s in parsed.schools} | {s.urn for s in parsed.skipped} | set(parsed.closures)
        result.not_in_file = sum(1 for urn in self.existing if urn not in in_file)
        for school in incoming:
            current = self.existing.get(school.urn)
            if current is None:
                created.append(school)
                continue
            changes = self._apply(current, school)
            if not changes:
                result.unchanged += 1
                continue
            (closing if any(c.startswith("closed") for c in changes) else changed).append(current)
            result.changes.append(SchoolChange(current.urn, current.name, changes))
        for urn, closed_on in parsed.closures.items():
            current = self.existing.get(urn)
            if current is not None and current.is_open and not self.create_only:
                current.is_open, current.closed_on = False, closed_on or current.closed_on
                closing.append(current)
                result.changes.append(SchoolChange(urn, current.name, [self._closed_text(current.closed_on)]))
        created = self._displace(created, changed, closing)

        result.created = len(created)
        result.updated = len(changed) + len(closing)
        result.closed = len(closing)
        # Closings first: the school that now holds a closed one's DfE number is saved after it.
        for batch in (closing, changed):
            if batch:
                School.objects.bulk_update(batch, SCHOOL_FIELDS, batch_size=500)
        self._create_schools(created)

    def _local_authorities(self, incoming: list[gias.School]) -> None:
        wanted = {s.la_code for s in incoming}
        names = {la.code: la.name for la in self.parsed.las}
        new = [LocalAuthority(code=code, name=names[code]) for code in sorted(wanted) if code not in self.las]
        renamed = []
        for code in wanted:
            la = self.las.get(code)
            if la is not None and la.name != names[code] and not self.create_only:
                la.name = names[code]
                renamed.append(la)
        _bulk_create(LocalAuthority, new)
        if renamed:
            LocalAuthority.objects.bulk_update(renamed, ["name"])
        for la in new:
            self.las[la.code] = la
            self.la_codes[la.pk] = la.code
        self.result.las_created, self.result.las_renamed = len(new), len(renamed)

    def _trusts(self, incoming: list[gias.School]) -> None:
        wanted = {s.trust_uid for s in incoming if s.trust_uid}
        names = {t.uid: t.name for t in self.parsed.trusts}
        new = [
            Trust(gias_uid=uid, name=names[uid]) for uid in sorted(wanted) if uid not in self.trusts_by_uid
        ]
        renamed = []
        for uid in wanted:
            trust = self.trusts_by_uid.get(uid)
            if trust is not None and trust.name != names[uid] and not self.create_only:
                trust.name = names[uid]
                renamed.append(trust)
        _bulk_create(Trust, new)
        if renamed:
            Trust.objects.bulk_update(renamed, ["name"])
        for trust in [*new, *renamed]:
            self.trusts_by_uid[str(trust.gias_uid)] = trust
            self.trust_names[trust.pk] = trust.name
        self.result.trusts_created, self.result.trusts_renamed = len(new), len(renamed)

    def _targets(self, school: gias.School) -> dict[str, Any]:
        trust = self.trusts_by_uid[school.trust_uid] if school.trust_uid else None
        return {
            "name": school.name,
            "dfe_number": school.dfe_number,
            "phase": school.phase,
            "school_type": school.school_type,
            "establishment_type": school.establishment_type,
            "statutory_low_age": school.statutory_low_age,
            "statutory_high_age": school.statutory_high_age,
            "la_id": self.las[school.la_code].pk,
            "trust_id": trust.pk if trust is not None else None,
            "is_open": school.is_open,
            "closed_on": school.closed_on,
        }

    def _create_schools(self, schools: list[gias.School]) -> None:
        """New schools from plain values: at national size the ORM's preparing of each value and making
        of each model costs several times the inserts themselves. The Organisation rows still go through
        bulk_create, which hands back their ids in order (SQLite 3.35+ and PostgreSQL)."""
        if not schools:
            return
        using = router.db_for_write(School)
        connection = connections[using]
        parents = [Organisation(kind=OrgKind.SCHOOL.value, name=s.name) for s in schools]
        Organisation.objects.using(using).bulk_create(parents, batch_size=BATCH)
        column = {f.name: f.column for f in School._meta.local_concrete_fields}
        columns = [column[name] for name in ["organisation_ptr", "urn", *SCHOOL_FIELDS[1:]]]
        rows = []
        for parent, school in zip(parents, schools, strict=True):
            assert parent.pk is not None
            target = self._targets(school)
            rows.append(
                (
                    parent.pk,
                    school.urn,
                    school.dfe_number,
                    school.phase,
                    school.school_type,
                    school.establishment_type,
                    school.statutory_low_age,
                    school.statutory_high_age,
                    target["la_id"],
                    target["trust_id"],
                    school.is_open,
                    connection.ops.adapt_datefield_value(school.closed_on),
                )
            )
        quote = connection.ops.quote_name
        marks = ", ".join(["%s"] * len(columns))
        table, names = quote(School._meta.db_table), ", ".join(quote(c) for c in columns)
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
        with connection.cursor() as cursor:
            for start in range(0, len(rows), 5000):
                cursor.executemany(sql, rows[start : start + 5000])

    def _closed_text(self, closed_on: date | None) -> str:
        return f"closed on {_day(closed_on)}" if closed_on else "closed"

    def _apply(self, current: School, school: gias.School) -> list[str]:
        """Set what the file says on ``current``; what changed, in words."""
        target = self._targets(school)
        changes = []
        if current.is_open and not school.is_open:
            changes.append(self._closed_text(school.closed_on))
        elif not current.is_open and school.is_open:
            changes.append("reopened")
        elif not school.is_open and current.closed_on != school.closed_on:
            changes.append(f"close date {_day(school.closed_on) or 'not known'}")
        if current.name != school.name:
            changes.append(f"renamed from “{current.name}”")
        if current.dfe_number != school.dfe_number:
            changes.append(f"DfE number {current.dfe_number} → {school.dfe_number}")
        if current.la_id != target["la_id"]:
            changes.append(f"moved from LA {self.la_codes.get(current.la_id, '?')} to LA {school.la_code}")
        if current.trust_id != target["trust_id"]:
            old = self.trust_names.get(current.trust_id) if current.trust_id else None
            new = self.trust_names.get(target["trust_id"]) if target["trust_id"] else None
            if old is None:
                changes.append(f"joined trust {new}")
            elif new is None:
                changes.append(f"left trust {old}")
            else:
                changes.append(f"moved from trust {old} to trust {new}")
        if current.phase != school.phase:
            changes.append(f"phase {current.phase or 'none'} → {school.phase}")
        if current.school_type != school.school_type:
            changes.append(f"type {current.school_type} → {school.school_type}")
        if current.establishment_type != school.establishment_type:
            changes.append(f"establishment type “{school.establishment_type}”")
        old_ages = (current.statutory_low_age, current.statutory_high_age)
        if old_ages != (school.statutory_low_age, school.statutory_high_age):
            changes.append(
                f"ages {_ages(*old_ages)} → {_ages(school.statutory_low_age, school.statutory_high_age)}"
            )
        for name, value in target.items():
            setattr(current, name, value)
        return changes

    def _displace(
        self, created: list[gias.School], changed: list[School], closing: list[School]
    ) -> list[gias.School]:
        """Make way for the open schools that now hold a DfE number. An open school in keystage that the
        file does not mention, holding one, is closed; with ``create_only`` nothing that exists changes,
        so the newcomer is not added instead. The new schools to create are returned."""
        touched = {s.urn for s in created} | {s.urn for s in [*changed, *closing]}
        holders = {s.dfe_number: s for s in self.existing.values() if s.is_open and s.urn not in touched}
        kept: list[gias.School | School] = []
        candidates: list[gias.School | School] = [*created, *changed]
        for school in candidates:
            holder = holders.get(school.dfe_number) if school.is_open else None
            if holder is None or holder.urn == school.urn:
                kept.append(school)
            elif self.create_only:
                self.result.skipped += 1
                self.result.skipped_reasons[
                    "Not added: its DfE number is held by an open school in keystage, left as it is"
                ] += 1
            else:
                holder.is_open = False
                closing.append(holder)
                del holders[school.dfe_number]
                self.result.changes.append(
                    SchoolChange(
                        holder.urn,
                        holder.name,
                        [f"closed: its DfE number {school.dfe_number} is now URN {school.urn}'s"],
                    )
                )
                kept.append(school)
        kept_ids = {id(s) for s in kept}  # by identity: Model.__eq__ in a list would be quadratic
        return [s for s in created if id(s) in kept_ids]


def import_gias(
    parsed: gias.GiasFile,
    *,
    actor: Any = None,
    actor_email: str = "",
    source: str,
    create_only: bool = False,
    ip: str | None = None,
) -> GiasImportResult:
    """Create and update local authorities (by code), trusts (by GIAS UID) and schools (by URN) as the
    file says, in one transaction; nothing at all if the file has a problem (they are returned).
    Importing the same file again changes nothing. ``create_only`` adds what is missing and leaves
    every existing organisation as it is (the demo: "never change what is there"). ``actor_email``
    names who did it in the audit log when there is no ``actor`` (e.g. "command line")."""
    result = GiasImportResult(source=source, problems=list(parsed.problems))
    if parsed.problems:
        return result
    with transaction.atomic():
        _Importer(parsed, result, create_only).run()
        record(
            AuditAction.ORGANISATIONS_IMPORTED,
            actor=actor,
            actor_email=actor_email,
            subject=f"GIAS establishments from {source}"[:300],
            ip_address=ip,
            **result.counts(),
        )
    return result


# Uploads in /admin/: stored, then imported by a worker.


class GiasUploadError(Refused):
    """An upload refused before it is stored; str() is the message for the person."""


def gias_max_upload_bytes() -> int:
    """The largest GIAS file accepted (KEYSTAGE_GIAS_MAX_UPLOAD_MB, default 200 MB)."""
    return int(getattr(settings, "KEYSTAGE_GIAS_MAX_UPLOAD_MB", DEFAULT_GIAS_MAX_UPLOAD_MB)) * 1024 * 1024


def gias_too_large_message(name: str) -> str:
    limit = gias_max_upload_bytes() // (1024 * 1024)
    return (
        f"{name} is larger than {limit} MB, the largest GIAS file accepted, so it was not uploaded. "
        "GIAS's establishment file (edubasealldata….csv) is about 70 MB: check it is the right file."
    )


def queue_gias_import(
    source: File[Any], *, filename: str, include_independent: bool, actor: Any
) -> GIASImport:
    """Store the file and queue its import. GiasUploadError (nothing stored) when it is empty, too
    large or plainly not GIAS's file; FileNotStored when storage cannot keep it."""
    size = source.size or 0
    if size == 0:
        raise GiasUploadError(f"{filename} is empty.")
    if size > gias_max_upload_bytes():
        raise GiasUploadError(gias_too_large_message(filename))
    source.seek(0)
    head = source.read(65536)
    source.seek(0)
    problems = gias.check_header(head if isinstance(head, bytes) else str(head).encode())
    if problems:
        raise GiasUploadError(" ".join(p.message for p in problems))
    upload = GIASImport(
        filename=posixpath.basename(filename)[:255],
        size=size,
        include_independent=include_independent,
        uploaded_by=actor if getattr(actor, "pk", None) else None,
        uploaded_by_email=getattr(actor, "email", ""),
        progress="the file is stored and queued for import.",
    )
    save_whole(upload.file, f"gias-{get_random_string(16)}.csv", source)
    try:
        with transaction.atomic():
            upload.save()
            transaction.on_commit(lambda: _queue(upload.pk), robust=True)
    except BaseException:
        held = GIASImport.objects.filter(pk=upload.pk) if upload.pk else GIASImport.objects.none()
        discard_unrecorded(upload.file, held)
        raise
    return upload


def _queue(import_id: int) -> None:
    from keystage.organisations.tasks import import_gias_task

    import_gias_task.enqueue(import_id)


def _finish(upload: GIASImport, status: str, progress: str, **fields: Any) -> None:
    GIASImport.objects.filter(pk=upload.pk).update(
        status=status, progress=progress[:300], finished_at=timezone.now(), **fields
    )


def run_gias_import(import_id: int) -> GIASImport | None:
    """The worker's part: read the stored file, import it, and record the outcome on the row."""
    upload = GIASImport.objects.filter(pk=import_id).first()
    if upload is None or upload.finished:
        return upload
    GIASImport.objects.filter(pk=upload.pk).update(
        status=GIASImport.Status.RUNNING, started_at=timezone.now(), progress="Reading the file."
    )
    try:
        try:
            with upload.file.open("rb") as stored:
                data = stored.read()
        except (OSError, ValueError):
            _finish(
                upload,
                GIASImport.Status.FAILED,
                "The uploaded file is no longer in storage, so nothing was imported. Upload it again.",
            )
            return GIASImport.objects.get(pk=upload.pk)
        parsed = gias.read_gias(data, include_independent=upload.include_independent)
        del data
        if parsed.problems:
            count = len(parsed.problems)
            _finish(
                upload,
                GIASImport.Status.FAILED,
                f"{count:,} problem{'s' if count != 1 else ''} in the file, so nothing was imported.",
                problems=[p.as_dict() for p in parsed.problems[: GIASImport.MAX_PROBLEMS]],
                problem_count=count,
            )
            return GIASImport.objects.get(pk=upload.pk)
        GIASImport.objects.filter(pk=upload.pk).update(
            progress=f"Read {parsed.rows:,} rows: importing {len(parsed.schools):,} schools."
        )
        result = import_gias(parsed, actor=upload.uploaded_by, source=upload.filename)
        _finish(upload, GIASImport.Status.SUCCEEDED, result.summary_lines()[0], summary=result.as_summary())
    except DATABASE_UNAVAILABLE:
        raise  # the worker tries again once the database is back; nothing was committed
    except Exception:
        logger.exception("GIAS import %s failed", upload.pk)
        _finish(
            upload,
            GIASImport.Status.FAILED,
            "The import stopped on an unexpected error, so nothing was changed. The server's log says why.",
        )
    return GIASImport.objects.get(pk=upload.pk)
