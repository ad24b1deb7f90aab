"""The pages about one stored thing (an upload, a file sent to the LA, a published report, a return round)
tried by every persona, as test_permission_matrix.py does for pages about an organisation.

Expectations are written out by hand. A persona who may not see the thing gets 403 or, where the address
names the thing alone (an upload, a file), 404: whether it exists is not told. A refused request changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from keystage.audit.models import AuditEvent
from keystage.results import upload_checks, uploading
from keystage.results.models import Upload
from keystage.returns import la_actions, services
from keystage.returns.models import PublishedReport, Return, ReturnRound
from tests.conftest import PERSONAS, signed_in
from tests.results.conftest import open_collection, roster
from tests.returns.conftest import as_file, open_round

ALL = set(PERSONAS)
SUBMITTERS_FOR_S1 = {"manage_data", "trust_admin"}
# Files sent to the LA and reports it published hold pupils: the school's people who submit data or see pupils
# (with its trust's and LA's named people), and the LA's data officer who runs the returns.
S1_FILE_READERS = {"manage_data", "school_named", "trust_admin", "trust_named", "la_data_officer", "la_named"}
LA_OFFICER = {"la_data_officer"}


@dataclass
class ObjectCase:
    name: str
    method: str
    url: str
    allowed: set[str]
    ok_status: int = 200
    refused: set[int] = field(default_factory=lambda: {403, 404})
    data: dict | None = None


@pytest.fixture
def things(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    collection = open_collection()
    roster(world.s1)
    upload = uploading.upload_results(
        collection,
        world.s1,
        SimpleUploadedFile("r.xlsx", b"not a workbook"),
        filename="r.xlsx",
        actor=world.person("manage_data"),
    )
    upload_checks.validate_stored_upload(upload.pk)
    round_ = open_round(world.la, "census")
    sent = services.send_return(
        world.s1, tag="census", source=as_file(b"census", "c.csv"), filename="c.csv",
        actor=world.person("manage_data"),
    )  # fmt: skip
    report = la_actions.publish_report(
        round_, world.s1, source=as_file(b"%PDF-1.7", "r.pdf"), filename="r.pdf",
        actor=world.person("la_data_officer"),
    )  # fmt: skip
    return world, upload, round_, sent, report


def _cases(world, upload, round_, sent, report) -> list[ObjectCase]:
    la, r, s1 = world.la.pk, round_.pk, world.s1.pk
    return [
        ObjectCase("an upload's page", "GET", reverse("results:upload_detail", args=[upload.pk]),
                   SUBMITTERS_FOR_S1),
        ObjectCase("an upload's status", "GET", reverse("results:upload_status", args=[upload.pk]),
                   SUBMITTERS_FOR_S1),
        ObjectCase("an uploaded file", "GET", reverse("results:download_file", args=[upload.pk]),
                   SUBMITTERS_FOR_S1),
        # Only the person who uploaded a file may delete it; the trust administrator sees it but is refused.
        ObjectCase("delete an upload: the question", "GET", reverse("results:delete", args=[upload.pk]),
                   {"manage_data"}),
        # The terms left unagreed: an allowed person is asked again (the page, 400), nothing is confirmed.
        ObjectCase("confirm an upload", "POST", reverse("results:confirm", args=[upload.pk]),
                   SUBMITTERS_FOR_S1, ok_status=400, data={}),
        ObjectCase("a file sent to the LA", "GET", reverse("returns:return_detail", args=[sent.pk]),
                   S1_FILE_READERS),
        ObjectCase("a file sent to the LA, downloaded", "GET",
                   reverse("returns:return_download", args=[sent.pk]), S1_FILE_READERS),
        ObjectCase("a report the LA published", "GET", reverse("returns:report_download", args=[report.pk]),
                   S1_FILE_READERS),
        ObjectCase("the school's LA returns: checking", "GET", reverse("returns:checking", args=[s1]),
                   S1_FILE_READERS),
        ObjectCase("open a round", "GET", reverse("returns:open_round", args=[la]), LA_OFFICER),
        ObjectCase("a round's school", "GET", reverse("returns:round_school", args=[la, r, s1]), LA_OFFICER),
        ObjectCase("ask for a correction (empty)", "POST",
                   reverse("returns:request_correction", args=[la, r, s1]), LA_OFFICER, ok_status=400,
                   data={"message": ""}),
    ]  # fmt: skip


def _state():
    return (
        Upload.objects.filter(in_use=True).count(),
        Upload.objects.count(),
        Return.objects.count(),
        PublishedReport.objects.count(),
        ReturnRound.objects.count(),
    )


def test_every_persona_is_allowed_or_refused_each_stored_thing_as_written(things):
    world, *rest = things
    wrong = []
    for case in _cases(world, *rest):
        for persona in sorted(ALL):
            client = signed_in(world.person(persona))
            before, audited = _state(), AuditEvent.objects.count()
            response = (
                client.post(case.url, case.data or {}) if case.method == "POST" else client.get(case.url)
            )
            if persona in case.allowed:
                if response.status_code != case.ok_status:
                    wrong.append(
                        f"{case.name}, {persona}: got {response.status_code}, expected {case.ok_status}"
                    )
            else:
                if response.status_code not in case.refused:
                    wrong.append(f"{case.name}, {persona}: got {response.status_code}, expected a refusal")
                assert _state() == before, (case.name, persona)
                assert AuditEvent.objects.count() == audited, (
                    case.name,
                    persona,
                )  # a refusal downloads nothing
    assert not wrong, "\n".join(wrong)
