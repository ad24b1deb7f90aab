"""A school's confirmed results as a CTF for its LA: built from the upload in use (build_la_ctf),
downloaded (export_la_ctf) or sent as the collection's LA return (send_la_ctf), and what the
collection's page says about it (la_ctf_status).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.db.models import Count
from django.utils import timezone

from keystage.accounts import policy
from keystage.audit import log
from keystage.audit.models import AuditAction
from keystage.core.ctf.model import SchoolRef, la_destination, mapping_in_force
from keystage.core.ctf.results import ResultsCTF, ResultsCTFError, ResultsPupil, results_ctf
from keystage.core.results.kinds import academic_year_name
from keystage.core.returns import ReturnTag, parse_tag
from keystage.core.roles import Action
from keystage.organisations.models import School
from keystage.reference_data import services as reference
from keystage.results.models import (
    Collection,
    Result,
    SubmittedPupil,
    Upload,
)
from keystage.results.services import CollectionError, layout_for
from keystage.returns import services as returns
from keystage.returns.errors import ReturnsError
from keystage.returns.models import Return, ReturnRound


@dataclass(frozen=True)
class LaCTFStatus:
    """What a collection's page says about its CTF for the LA."""

    tag: ReturnTag
    upload: Upload | None  # the confirmed upload in use; None before one is confirmed
    not_in_ctf: list[tuple[str, int]]  # (assessment heading, results) the mapping has no coding for
    no_mapping: str  # why no CTF can be made for the year, or ""
    round: ReturnRound | None  # the LA's return for the collection's year, once opened
    last_sent: Return | None  # the school's current file in that return
    year_name: str  # the collection's academic year, e.g. 2025/26


def la_tag_of(collection: Collection) -> ReturnTag | None:
    """The LA return a collection's CTF travels under; None for collections that are not sent to the LA."""
    label = collection.kind_info.la_tag
    return parse_tag(label) if label else None


def la_ctf_refs(school: School) -> tuple[SchoolRef, SchoolRef]:
    """The school (by its DfE number, as the LA's check reads it) and its LA, as a CTF names them."""
    source = SchoolRef(
        la=school.dfe_number[:3], estab=school.establishment_number, urn=school.urn, name=school.name
    )
    return source, la_destination(school.la.code)


def _confirmed_in_use(collection: Collection, school: School) -> Upload:
    upload = Upload.objects.filter(collection=collection, school=school, in_use=True).first()
    if upload is None:
        raise CollectionError(
            f"{school.name} has no confirmed {collection} submission, so there are no results to put in a "
            "CTF. Upload the results and confirm the submission first."
        )
    return upload


def _results_pupils(upload: Upload) -> list[ResultsPupil]:
    values: dict[int, dict[str, str]] = {}
    for pupil_id, subject, value in Result.objects.filter(upload=upload).values_list(
        "pupil_id", "subject", "value"
    ):
        values.setdefault(pupil_id, {})[subject] = value
    return [
        ResultsPupil(
            upn=p.upn,
            forename=p.forename,
            surname=p.surname,
            date_of_birth=p.date_of_birth,
            sex=p.sex,
            nc_year=p.nc_year,
            results=values.get(p.pk, {}),
        )
        for p in SubmittedPupil.objects.filter(upload=upload).order_by("row", "pk")
    ]


def build_la_ctf(collection: Collection, school: School, *, sequence: int = 1) -> tuple[Upload, ResultsCTF]:
    """The confirmed upload in use and its results as a CTF for the LA; CollectionError saying why
    not. Its DateTime is the confirmation's, so the same submission always makes the same file."""
    tag = la_tag_of(collection)
    if tag is None:
        raise CollectionError(f"{collection.kind_info.title} results are not sent to the LA as a CTF.")
    upload = _confirmed_in_use(collection, school)
    source, destination = la_ctf_refs(school)
    try:
        made = results_ctf(
            _results_pupils(upload),
            source=source,
            destination=destination,
            year=collection.year,
            mappings=reference.ctf_mappings(),
            generated_at=timezone.localtime(upload.confirmed_at or upload.uploaded_at),
            sequence=sequence,
        )
    except ResultsCTFError as error:
        raise CollectionError(str(error)) from None
    if made.results == 0:
        if made.unmapped:
            raise CollectionError(
                f"None of the results of {upload.filename} can be written in a CTF: the CTF mapping for "
                f"{academic_year_name(collection.year)} has no coding for {', '.join(made.unmapped)}. "
                "An administrator adds it to the mapping."
            )
        raise CollectionError(f"{upload.filename} has no results to put in a CTF: every result is blank.")
    return upload, made


def export_la_ctf(
    collection: Collection, school: School, *, actor: Any, ip: str | None = None, sequence: int = 1
) -> ResultsCTF:
    """Download the school's confirmed results as a CTF for its LA (the page, and `keystage ctf
    export --collection` with no actor). It names pupils: audited as a pupil-level download."""
    if actor is not None:
        policy.require(actor, Action.SUBMIT_DATA, school)
    upload, made = build_la_ctf(collection, school, sequence=sequence)
    log.record(
        AuditAction.REPORT_DOWNLOADED,
        actor=actor,
        organisation=school,
        subject=f"{collection}: results as a CTF for {school.la.name} ({made.filename})",
        ip_address=ip,
        upload=upload.pk,
        file="ctf",
        pupils=made.pupils,
        results=made.results,
    )
    return made


def _refuse_sent_already(round_: ReturnRound, school: School, sha256: str) -> None:
    current = Return.objects.filter(round=round_, school=school, current=True).first()
    if current is not None and current.sha256 == sha256:
        when = timezone.localtime(current.sent_at)
        raise CollectionError(
            f"These results were already sent to {school.la.name} on {when.day} {when:%B %Y at %H:%M} "
            f"({current.filename}), so nothing was sent again."
        )


def send_la_ctf(
    collection: Collection,
    school: School,
    *,
    actor: Any,
    ip: str | None = None,
    upload_id: int | None = None,
) -> tuple[Return, ResultsCTF]:
    """Send the school's confirmed results to its LA as a CTF, in one step: the same file as the
    download, sent as the collection's LA return (`send_return`, which stores, audits and queues
    the LA's check). ``upload_id`` is the upload the person saw in use: if another has been confirmed
    since, nothing is sent. The same results sent twice (a double click) are sent once."""
    policy.require(actor, Action.SUBMIT_DATA, school)
    tag = la_tag_of(collection)
    if tag is None:
        raise CollectionError(f"{collection.kind_info.title} results are not sent to the LA as a CTF.")
    year_name = academic_year_name(collection.year)
    round_ = ReturnRound.objects.filter(la_id=school.la_id, tag=tag.value, year=collection.year).first()
    if round_ is None:
        raise CollectionError(
            f"{school.la.name} has not opened the {tag.label} return for {year_name}, so the results cannot "
            "be sent yet. Download the CTF to keep it, and send it once your LA opens the return."
        )
    if not round_.accepts_files():
        raise CollectionError(
            f"{school.la.name}'s {tag.label} return for {year_name} no longer takes files: returns are "
            "sent in their academic year."
        )
    try:
        open_to_school = returns.round_for_sending(school, tag)
    except ReturnsError as error:
        raise CollectionError(str(error)) from None
    if open_to_school.pk != round_.pk:
        raise CollectionError(
            f"{school.la.name}'s open {tag.label} return is for {academic_year_name(open_to_school.year)}, "
            f"not {year_name}: these results cannot be sent to it."
        )
    sequence = Return.objects.filter(round=round_, school=school).count() + 1
    upload, made = build_la_ctf(collection, school, sequence=sequence)
    if upload_id is not None and upload.pk != upload_id:
        raise CollectionError(
            f"Another {collection} submission has been confirmed since the page was shown, so nothing was "
            "sent. Check the submission in use, then send it."
        )
    sha256 = hashlib.sha256(made.data).hexdigest()
    _refuse_sent_already(round_, school, sha256)
    confirmed = timezone.localtime(upload.confirmed_at or upload.uploaded_at)
    comment = (
        f"The confirmed {collection} results from keystage ({upload.filename}, confirmed "
        f"{confirmed.day} {confirmed:%B %Y at %H:%M}): {made.pupils} pupils, {made.results} results."
    )
    try:
        sent = returns.send_return(
            school,
            tag=tag.value,
            source=ContentFile(made.data, name=made.filename),
            filename=made.filename,
            comment=comment,
            actor=actor,
            ip=ip,
        )
    except ReturnsError as error:
        _refuse_sent_already(round_, school, sha256)  # a double click that waited for the first
        raise CollectionError(str(error)) from None
    return sent, made


def la_ctf_status(collection: Collection, school: School, user: Any) -> LaCTFStatus | None:
    """For the collection's page: None unless the collection goes to the LA as a CTF and the person
    may submit the school's data; otherwise the upload in use, what a CTF of it leaves out, and the
    LA's return for the year."""
    tag = la_tag_of(collection)
    if tag is None or not policy.can(user, Action.SUBMIT_DATA, school):
        return None
    upload = Upload.objects.filter(collection=collection, school=school, in_use=True).first()
    not_in_ctf: list[tuple[str, int]] = []
    no_mapping = ""
    if upload is not None:
        try:
            mapping = mapping_in_force(reference.ctf_mappings(), collection.year)
        except KeyError as error:
            no_mapping = f"{error.args[0]}: an administrator loads the year's CTF mapping."
        else:
            try:
                headings = {c.key: c.header for c in layout_for(collection.kind, collection.year).subjects}
            except CollectionError:
                headings = {}
            counts = (
                Result.objects.filter(upload=upload)
                .exclude(value="")
                .values_list("subject")
                .annotate(n=Count("pk"))
                .order_by("subject")
            )
            not_in_ctf = [
                (headings.get(subject, subject), n)
                for subject, n in counts
                if mapping.entry_for(subject) is None
            ]
    round_ = ReturnRound.objects.filter(la_id=school.la_id, tag=tag.value, year=collection.year).first()
    last_sent = (
        Return.objects.filter(round=round_, school=school, current=True).first()
        if round_ is not None
        else None
    )
    return LaCTFStatus(
        tag, upload, not_in_ctf, no_mapping, round_, last_sent, academic_year_name(collection.year)
    )
