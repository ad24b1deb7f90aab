"""Every download of pupil-level data is in the audit log: each endpoint that gives pupils' data as a file
(or, for the API, as JSON naming pupils) is listed here with the record it must add, and is downloaded by
a person allowed to; and every view that can answer with a file must be listed, here or as a file with no
pupil in it, so a new download cannot slip past the log."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from keystage.audit.models import AuditAction, AuditEvent
from keystage.measures.models import PupilFigure
from keystage.reports.models import ExportStatus, ReportExport
from keystage.results.models import Result, UploadStatus
from tests.api.conftest import api
from tests.conftest import World, signed_in
from tests.measures.conftest import ks4_catalogue  # noqa: F401  (a fixture used here)
from tests.privacy.conftest import published_report, return_round, sent_return, upload
from tests.reports.conftest import reports_world  # noqa: F401  (a fixture used here)
from tests.results.conftest import YEAR, open_collection


@dataclass
class Download:
    label: str
    url_name: str
    url: Callable[[World, dict], str]
    persona: str
    action: AuditAction
    subject: str  # what the record's subject must contain
    organisation: Callable[[World], object]
    method: str = "GET"
    data: Callable[[World, dict], dict] = field(default=lambda w, made: {})
    api: bool = False  # sent with an API token rather than a signed-in session


def _reports(org: str, page: str, query: str = "") -> Callable[[World, dict], str]:
    def url(world: World, made: dict) -> str:
        args = [getattr(world, org).pk, "ks4" if org == "s1" else "ks2", YEAR]
        return reverse(f"reports:{page}", args=args) + query

    return url


DOWNLOADS = [
    Download(
        "the school's confirmed results as a CTF for its LA",
        "results:ctf_download",
        lambda w, m: reverse("results:ctf_download", args=[m["open"].pk, w.s1.pk]),
        "manage_data",
        AuditAction.REPORT_DOWNLOADED,
        "results as a CTF",
        lambda w: w.s1,
    ),
    Download(
        "a results template, filled with the roster",
        "results:get_template",
        lambda w, m: reverse("results:get_template", args=[m["open"].pk, w.s1.pk]),
        "manage_data",
        AuditAction.TEMPLATE_DOWNLOADED,
        "Phonics",
        lambda w: w.s1,
    ),
    Download(
        "an uploaded results file",
        "results:download_file",
        lambda w, m: reverse("results:download_file", args=[m["upload"].pk]),
        "manage_data",
        AuditAction.UPLOAD_DOWNLOADED,
        "phonics-error.xlsx",
        lambda w: w.s1,
    ),
    Download(
        "an upload's error workbook",
        "results:download_errors",
        lambda w, m: reverse("results:download_errors", args=[m["upload"].pk]),
        "trust_admin",
        AuditAction.UPLOAD_DOWNLOADED,
        "error workbook of phonics-error.xlsx",
        lambda w: w.s1,
    ),
    Download(
        "an upload's error workbook through the API",
        "api:error_workbook",
        lambda w, m: reverse("api:error_workbook", args=[m["upload"].pk]),
        "manage_data",
        AuditAction.UPLOAD_DOWNLOADED,
        "error workbook of phonics-error.xlsx",
        lambda w: w.s1,
        api=True,
    ),
    Download(
        "the results kept from an upload, through the API",
        "api:upload_results",
        lambda w, m: reverse("api:upload_results", args=[m["valid_upload"].pk]),
        "manage_data",
        AuditAction.PUPILS_VIEWED,
        "results of phonics-successful.xlsx",
        lambda w: w.s1,
        api=True,
    ),
    Download(
        "a file sent to the LA, by the LA",
        "returns:return_download",
        lambda w, m: reverse("returns:return_download", args=[m["return"].pk]),
        "la_data_officer",
        AuditAction.RETURN_DOWNLOADED,
        "phonics.xml",
        lambda w: w.s1,
    ),
    Download(
        "a report the LA published, by the school",
        "returns:report_download",
        lambda w, m: reverse("returns:report_download", args=[m["report"].pk]),
        "school_named",
        AuditAction.RETURN_DOWNLOADED,
        "Summary report",
        lambda w: w.s1,
    ),
    Download(
        "the pupil list as Excel",
        "reports:pupils",
        _reports("s1", "pupils", "?format=xlsx"),
        "school_named",
        AuditAction.REPORT_DOWNLOADED,
        "pupil list (xlsx)",
        lambda w: w.s1,
    ),
    Download(
        "the pupil list as PDF",
        "reports:pupils",
        _reports("s1", "pupils", "?format=pdf"),
        "trust_named",
        AuditAction.REPORT_DOWNLOADED,
        "pupil list (pdf)",
        lambda w: w.s1,
    ),
    Download(
        "one pupil's figures as PDF",
        "reports:pupil",
        lambda w, m: reverse("reports:pupil", args=[w.s1.pk, "ks4", YEAR, m["upn"]]) + "?format=pdf",
        "la_named",
        AuditAction.REPORT_DOWNLOADED,
        "(pdf)",
        lambda w: w.s1,
    ),
    Download(
        "the scatter plot's pupils as Excel",
        "reports:scatter",
        _reports("s1", "scatter", "?format=xlsx"),
        "school_named",
        AuditAction.REPORT_DOWNLOADED,
        "scatter plot (xlsx)",
        lambda w: w.s1,
    ),
    Download(
        "the scatter plot with its pupils as PDF",
        "reports:scatter",
        _reports("s1", "scatter", "?format=pdf"),
        "school_named",
        AuditAction.REPORT_DOWNLOADED,
        "scatter plot (pdf)",
        lambda w: w.s1,
    ),
    Download(
        "a PDF of pupils drawn by the worker",
        "reports:export_download",
        lambda w, m: reverse("reports:export_download", args=[m["export"].pk]),
        "school_named",
        AuditAction.REPORT_DOWNLOADED,
        "pupil list (pdf)",
        lambda w: w.s1,
    ),
    Download(
        "a school's summary report previewed by its LA",
        "reports:summaries",
        lambda w, m: (
            reverse("reports:summaries", args=[w.la.pk, "ks2", YEAR]) + f"?school={w.s2.pk}&format=pdf"
        ),
        "la_data_officer",
        AuditAction.REPORT_DOWNLOADED,
        "summary report (preview)",
        lambda w: w.s2,
    ),
    Download(
        "the school's estimates with each pupil's, as Excel",
        "estimates:school",
        lambda w, m: reverse("estimates:school", args=[w.s1.pk]) + "?format=xlsx",
        "school_named",
        AuditAction.REPORT_DOWNLOADED,
        "KS4 estimates (xlsx)",
        lambda w: w.s1,
    ),
    Download(
        "the school's estimates with each pupil's, through the API",
        "api:school_estimates",
        lambda w, m: reverse("api:school_estimates", args=[w.s1.dfe_number]),
        "trust_named",
        AuditAction.REPORT_DOWNLOADED,
        "KS4 estimates (API)",
        lambda w: w.s1,
        api=True,
    ),
    Download(
        "everything held about one pupil (subject access)",
        "privacy:subject_access",
        lambda w, m: reverse("privacy:subject_access", args=[w.s1.pk]),
        "manage_data",
        AuditAction.SUBJECT_ACCESS_EXPORTED,
        "pupil ",
        lambda w: w.s1,
        method="POST",
        data=lambda w, m: {"upn": m["upn"]},
    ),
]

# Views that answer with a file holding no pupil: aggregate figures, suppressed below six pupils.
FILES_WITHOUT_PUPILS = {
    "reports:dashboard": "headline figures of a school, trust or LA",
    "reports:explore": "a measure by pupil group",
    "reports:schools": "schools side by side",
    "reports:subjects": "subjects' figures and grade distributions",
    "reports:inspection": "the inspection summary's figures",
}
# Views that decide who sees pupils but answer with a page, not a file (their looks are audited as
# PUPILS_VIEWED where pupils are shown, and tested with the page).
PAGES_NAMING_PUPILS = {
    "reports:pupil": "one pupil's figures (tests/reports/test_reports.py)",
    "estimates:pupil": "one pupil's estimates (tests/estimates/test_pages.py)",
    "organisations:detail": "links to the subject access export for those who may use it",
    "returns:school": "its files' problems, naming pupils (tests/returns/test_pupils_viewed.py)",
    "returns:return_detail": "a file's problems, naming pupils (tests/returns/test_pupils_viewed.py)",
    "returns:round_school": "a school's file's problems, to its LA (tests/returns/test_pupils_viewed.py)",
    "returns:round": "pupils two schools returned (tests/returns/test_pupils_viewed.py)",
}
# What in a view's own code shows it can answer with a file, or with pupils' identities (the API's JSON
# is no file, so a view that checks for a pupil-level role is caught by the second). A view whose read
# service checks the role for it (reports and estimates: keystage.reports.services and the like) is
# caught by the second too: the code of each keystage function a view calls is read with its own.
FILE_MARKERS = (
    "FileResponse",
    "Content-Disposition",
    "attachment",
    "_xlsx(",
    "_pdf(",
    "_pdf_response(",
    "_download(",
)
PUPIL_MARKERS = ("VIEW_PUPIL_DATA", "sees_pupils(", "_pupil_school(")


@pytest.fixture
def made(reports_world, settings):  # noqa: F811
    """The reports' world (three years of figures), a fit of estimates, and a file of each kind."""
    from django.core.management import call_command

    world = reports_world
    settings.KEYSTAGE_PDF_ROWS_IN_REQUEST = 100_000  # PDFs drawn within the request
    call_command("estimates", "fit", "--year", str(YEAR), "--now", verbosity=0)
    upn = PupilFigure.objects.filter(school=world.s1, run__year=YEAR, run__key_stage="ks4").first().upn
    collection = open_collection("phonics")
    round_ = return_round(world.la, YEAR)
    export = ReportExport(
        requested_by=world.person("school_named"),
        organisation=world.s1,
        path=reverse("reports:pupils", args=[world.s1.pk, "ks4", YEAR]) + "?format=pdf",
        title=f"School One: KS4 {YEAR} pupil list",
        filename="pupils.pdf",
        status=ExportStatus.READY,
        personal=True,
    )
    export.file.save("pupils.pdf", ContentFile(b"%PDF-1.7 pupils"), save=False)
    export.save()
    confirmed = upload(collection, world.s1, [upn], in_use=True, value="35")  # the submission in use
    Result.objects.filter(upload=confirmed).update(subject="phonics_mark")
    return {
        "upn": upn,
        "open": collection,
        "upload": upload(collection, world.s1, [upn], status=UploadStatus.ERROR, error_workbook=True),
        "valid_upload": upload(collection, world.s1, [upn]),
        "confirmed_upload": confirmed,
        "return": sent_return(world.s1, round_, [upn]),
        "report": published_report(world.s1, round_),
        "export": export,
    }


def _client(world: World, download: Download):
    person = world.person(download.persona)
    return api(person) if download.api else signed_in(person)


def _fetch(client, world: World, made: dict, download: Download):
    url = download.url(world, made)
    if download.method == "POST":
        return client.post(url, download.data(world, made))
    return client.get(url)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.django_db(transaction=True)  # fitting estimates commits as it goes
def test_each_pupil_level_download_adds_exactly_its_audit_record(made, reports_world):  # noqa: F811
    world = reports_world
    wrong = []
    for download in DOWNLOADS:
        client = _client(world, download)  # signing in, or making a token, is audited before
        before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = _fetch(client, world, made, download)
        body = _body(response)
        is_file = response.get("Content-Disposition", "").startswith("attachment")
        if response.status_code != 200 or not (is_file or (download.api and made["upn"].encode() in body)):
            wrong.append(f"{download.label}: {response.status_code}, not a download of pupils' data")
            continue
        added = list(AuditEvent.objects.filter(id__gt=before))
        expected = (download.action, world.person(download.persona).pk, download.organisation(world).pk)
        found = [(e.action, e.actor_id, e.organisation_id) for e in added]
        if found != [expected] or download.subject not in added[0].subject:
            wrong.append(f"{download.label}: recorded {[(e.action, e.subject) for e in added]}")
    assert not wrong, "\n".join(wrong)


def _views(patterns, namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            yield from _views(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), pattern.callback


def _called(call: ast.expr, names: dict) -> object:
    """What a call in a view calls, if it can be told from the view's module: ``f(...)`` or
    ``module.f(...)``."""
    if isinstance(call, ast.Name):
        return names.get(call.id)
    if isinstance(call, ast.Attribute) and isinstance(call.value, ast.Name):
        return getattr(names.get(call.value.id), call.attr, None)
    return None


def _code_of(view, *, with_services: bool = False) -> str:
    """A view's own code; ``with_services``: and the code of every keystage function it calls (a read
    service that checks the role and audits for the view). The policy's questions are not opened: the
    markers are their names."""
    function = inspect.unwrap(view)
    code = inspect.getsource(function)
    if not with_services:
        return code
    called = [
        _called(node.func, function.__globals__)
        for node in ast.walk(ast.parse(textwrap.dedent(code)))
        if isinstance(node, ast.Call)
    ]
    services = {
        f
        for f in called
        if inspect.isfunction(f)
        and f.__module__.startswith("keystage.")
        and f.__module__ != "keystage.accounts.policy"
    }
    return "\n".join([code, *(inspect.getsource(f) for f in services)])


def _views_whose_code_has(markers: tuple[str, ...], *, with_services: bool = False) -> set[str]:
    return {
        name
        for name, view in _views(get_resolver().url_patterns)
        if any(marker in _code_of(view, with_services=with_services) for marker in markers)
    }


def test_every_view_that_can_answer_with_a_file_or_with_pupils_is_listed():
    listed = {d.url_name for d in DOWNLOADS}
    unlisted = _views_whose_code_has(FILE_MARKERS) - listed - set(FILES_WITHOUT_PUPILS)
    assert not unlisted, f"add these downloads to DOWNLOADS, with the audit record each adds: {unlisted}"
    unlisted = _views_whose_code_has(PUPIL_MARKERS, with_services=True) - listed - set(PAGES_NAMING_PUPILS)
    assert not unlisted, f"these views show pupils: list them in DOWNLOADS or PAGES_NAMING_PUPILS: {unlisted}"
    assert not (listed & set(FILES_WITHOUT_PUPILS)), "a view is listed both with and without pupils"
    every = {name for name, _view in _views(get_resolver().url_patterns)}
    for names in (listed, set(FILES_WITHOUT_PUPILS), set(PAGES_NAMING_PUPILS)):
        assert names <= every, f"a listed URL no longer exists: {names - every}"
