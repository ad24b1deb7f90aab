"""The LA's summary reports, published back to its schools (seed 002: "we will feed back your summary
results as downloadable PDF files"): for a return round whose tag has results (EYFSP, phonics, KS1, KS2
TA), each of the LA's schools with figures for that key stage and year gets a PDF of its headline
figures beside the LA's and the nation's, and its pupils' results. The worker draws and publishes
them through the returns' own publishing, so each is audited and reaches the school's LA returns page.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from keystage.core.refusals import Refused
from keystage.core.reports.catalogue import KEY_STAGE_LABELS
from keystage.core.results.kinds import academic_year_name
from keystage.core.returns import ReturnTag
from keystage.organisations.models import LocalAuthority, School
from keystage.reports import pdf
from keystage.reports.dashboard import dashboard
from keystage.reports.figures import NoFigures, figure_rows_of_schools, run_for
from keystage.reports.models import ExportStatus, SummaryPublication
from keystage.reports.pupils import pupil_list
from keystage.returns.la_actions import publish_report
from keystage.returns.models import ReturnRound
from keystage.returns.rounds import can_run

logger = logging.getLogger(__name__)
# The key stages whose returns have summaries (ReturnTag.key_stage).
SUMMARY_KEY_STAGES = frozenset(k for k in (t.key_stage for t in ReturnTag) if k is not None)


# A publication still queued after this long was lost (its worker died): another may be asked for.
LOST_AFTER = timedelta(minutes=30)


class SummaryError(Refused):
    """Why the summaries cannot be published (shown to the LA)."""


def schools_with_figures(la: LocalAuthority, key_stage: str, year: int) -> list[School]:
    """The LA's schools that have figures for the key stage in the year (and so a summary to publish)."""
    run = run_for(key_stage, year)
    counted = set(figure_rows_of_schools(run, la.schools()).values_list("school_id", flat=True))
    return [s for s in la.schools().order_by("name") if s.pk in counted]


def rounds_of(la: LocalAuthority, key_stage: str, year: int) -> list[ReturnRound]:
    """The LA's return rounds of the year whose returns are of the key stage (what summaries go through)."""
    return [r for r in ReturnRound.objects.filter(la=la, year=year) if r.tag_info.key_stage == key_stage]


def summary_context(school: School, la: LocalAuthority, key_stage: str, year: int) -> dict[str, Any]:
    """What a school's summary report shows: its headline figures beside the LA's and national, and each
    of its pupils' results."""
    report = dashboard(school, key_stage, year)
    try:
        la_figures = {h.info.key: h.text for h in dashboard(la, key_stage, year).headlines}
    except NoFigures:
        la_figures = {}
    rows, columns = pupil_list(report.run, school)
    return {
        "organisation": school,
        "la": la,
        "key_stage": key_stage,
        "key_stage_label": KEY_STAGE_LABELS[key_stage],
        "year": year,
        "year_name": academic_year_name(year),
        "report": report,
        "source": report.source,
        "la_figures": la_figures,
        "rows": rows,
        "columns": columns,
        "personal": True,
    }


def summary_pdf(school: School, la: LocalAuthority, key_stage: str, year: int, printed_for: str) -> bytes:
    context = summary_context(school, la, key_stage, year)
    return pdf.render_pdf("reports/la_summary.html", context, printed_for=printed_for)


def request_publication(
    round_: ReturnRound, *, actor: Any, ip: str | None = None
) -> tuple[SummaryPublication, bool]:
    """Queue the summaries of a return round for the worker: (the publication, whether it was queued
    now). One already queued is handed back, so a double click publishes nothing twice."""
    from keystage.reports.tasks import publish_summaries

    if not can_run(actor, round_.la):
        raise PermissionDenied("Only the LA's data officers publish reports to its schools.")
    key_stage = round_.tag_info.key_stage
    if key_stage is None:
        raise SummaryError(f"{round_.tag_info.label} returns have no results to summarise.")
    try:
        if not schools_with_figures(round_.la, key_stage, round_.year):
            raise SummaryError(
                f"None of {round_.la.name}'s schools has {KEY_STAGE_LABELS[key_stage]} figures yet."
            )
    except NoFigures as error:
        raise SummaryError(str(error)) from None
    with transaction.atomic():
        # The round's row is the lock: two clicks at once wait for each other, so one publication is made.
        ReturnRound.objects.select_for_update().filter(pk=round_.pk).first()
        pending = SummaryPublication.objects.filter(
            round=round_, status=ExportStatus.QUEUED, created_at__gte=timezone.now() - LOST_AFTER
        ).first()
        if pending is not None:
            return pending, False
        publication = SummaryPublication.objects.create(
            round=round_, key_stage=key_stage, requested_by=actor, ip_address=ip
        )
        transaction.on_commit(lambda: publish_summaries.enqueue(publication.pk))
    return publication, True


def publish(publication_id: int) -> str:
    """The worker's part: draw each school's summary and publish it to the school."""
    publication = (
        SummaryPublication.objects.select_related("round__la", "requested_by")
        .filter(pk=publication_id)
        .first()
    )
    if publication is None or publication.status != ExportStatus.QUEUED:
        return "nothing to publish"
    round_, actor = publication.round, publication.requested_by
    la = LocalAuthority.objects.get(pk=round_.la_id)
    label = f"{KEY_STAGE_LABELS[publication.key_stage]} {academic_year_name(round_.year)}"
    if actor is None or not can_run(actor, la):
        return _finish(
            publication, ExportStatus.FAILED, "The person who asked can no longer publish reports."
        )
    try:
        schools = schools_with_figures(la, publication.key_stage, round_.year)
    except NoFigures as error:
        return _finish(publication, ExportStatus.FAILED, str(error))
    printed_for = f"{la.name} (published by {actor.full_name or actor.email})"
    stem = label.replace(" ", "-").replace("/", "-").lower()
    for school in schools:
        try:
            data = summary_pdf(school, la, publication.key_stage, round_.year, printed_for)
            publish_report(
                round_,
                school,
                source=ContentFile(data, name="summary.pdf"),
                filename=f"{stem}-summary-{school.dfe_number}.pdf",
                title=f"{label} summary report",
                actor=actor,
                ip=publication.ip_address,
            )
        except Exception:  # the LA is told where it stopped; those published stay published
            logger.exception("Publishing %s's summary report (publication %s) failed", school, publication.pk)
            message = (
                f"Stopped at {school.name}: its report could not be prepared. Published to "
                f"{publication.published} of {len(schools)} schools. Publishing again sends every school's."
            )
            return _finish(publication, ExportStatus.FAILED, message)
        publication.published += 1
        publication.save(update_fields=["published"])
    return _finish(publication, ExportStatus.READY, f"Published to {len(schools)} schools.")


def _finish(publication: SummaryPublication, status: str, message: str) -> str:
    publication.status = status
    publication.message = message
    publication.finished_at = timezone.now()
    publication.save(update_fields=["status", "message", "finished_at"])
    return message
