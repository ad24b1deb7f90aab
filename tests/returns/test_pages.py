"""LA returns as people use them: a school sends files and confirms, the LA sees who has sent and
confirmed, asks for a correction and publishes a report; pupils two schools returned are flagged;
everyone else is refused; bad input gets a clear message, never a 500."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keystage.audit.models import AuditAction, AuditEvent
from keystage.returns import la_actions, services
from keystage.returns.checking import validate_return
from keystage.returns.models import (
    CorrectionRequest,
    HeadTeacherConfirmation,
    PublishedReport,
    Return,
    ReturnRound,
    ReturnStatus,
)
from tests.conftest import signed_in
from tests.factories import member
from tests.returns.conftest import YEAR, as_file, ctf, on_roll, open_round, teaching_primary, upn


def text(response) -> str:
    return response.content.decode()


def school_url(world) -> str:
    return reverse("returns:school", args=[world.s1.pk])


def send_url(world) -> str:
    return reverse("returns:send", args=[world.s1.pk])


def post_file(client, world, data: bytes, *, tag="phonics", name="phonics.xml", comment=""):
    return client.post(send_url(world), {"tag": tag, "file": as_file(data, name), "comment": comment})


def test_a_data_officer_sends_a_ctf_with_errors_and_sees_them(world):
    open_round(world.la)
    client = signed_in(world.person("manage_data"))
    page = client.get(school_url(world))
    assert page.status_code == 200
    assert f"Phonics {YEAR - 1}/{YEAR % 100:02d}" in text(page) and "Nothing sent yet" in text(page)
    form = client.get(send_url(world))
    assert form.status_code == 200 and 'value="phonics"' in text(form)
    data = ctf(world.s1, [(upn(world.s1, 1), "Ann", "44"), (upn(world.s1, 2), "Bea", "x")])
    response = post_file(client, world, data, comment="Year 1 and retakes")
    assert response.status_code == 302 and response.url == school_url(world)
    waiting = client.get(school_url(world))
    assert "phonics.xml was sent to Home Authority. It is being checked now." in text(waiting)
    assert "A file is being checked" in text(waiting) and "data-poll-url" in text(waiting)
    checking = reverse("returns:checking", args=[world.s1.pk])
    assert client.get(checking).json() == {"done": False, "reload": True}
    assert signed_in(world.person("other_school_admin")).get(checking).status_code == 403
    sent = Return.objects.get()
    validate_return(sent.pk)
    assert client.get(checking).json()["done"] is True
    page = text(client.get(school_url(world)))
    assert "A file is being checked" not in page
    assert "Errors found" in page and "2 errors" in page
    messages = [i["message"] for i in Return.objects.get().issues if i["severity"] == "error"]
    assert len(messages) == 2 and all(m in page for m in messages)
    detail = text(client.get(reverse("returns:return_detail", args=[sent.pk])))
    assert "Every problem found" in detail and "Year 1 and retakes" in detail and messages[1] in detail
    # Each problem names its pupil as people know them, at the school and at the LA: not "Pupil 1".
    round_school = reverse("returns:round_school", args=[world.la.pk, sent.round_id, world.s1.pk])
    la_view = text(signed_in(world.person("la_data_officer")).get(round_school))
    for seen in (page, detail, la_view):
        assert f"UPN {upn(world.s1, 1)}, Brown, Ann" in seen and f"UPN {upn(world.s1, 2)}, Brown, Bea" in seen
        assert "Pupil 1" not in seen
    # The comment may name pupils: people who never see pupils do not see it.
    for persona in ("governor", "school_anon"):
        assert "Year 1 and retakes" not in text(signed_in(world.person(persona)).get(school_url(world)))


def test_a_data_officer_sends_a_plain_census_file(world):
    open_round(world.la, "census")
    client = signed_in(world.person("manage_data"))
    response = post_file(client, world, b"%PDF-1.4 census", tag="census", name="census.pdf")
    assert response.status_code == 302
    page = text(client.get(school_url(world)))
    assert "census.pdf was sent to Home Authority." in page and "census.pdf" in page
    assert 'govuk-tag--blue">Sent</strong>' in page
    sent = Return.objects.get()
    assert sent.tag == "census" and sent.status == ReturnStatus.SENT
    download = client.get(reverse("returns:return_download", args=[sent.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4 census"


def confirmation_data(**changes):
    data = {
        "moderation_done": "on",
        "agreed": "on",
        "name": "Helen Marsh",
        "role": "Head teacher",
        "confirmed_on": timezone.localdate().isoformat(),
    }
    data.update(changes)
    return data


def test_the_head_teacher_confirms_and_the_data_officer_cannot(world):
    round_ = open_round(world.la, "census")
    url = reverse("returns:confirm", args=[world.s1.pk, round_.pk])
    head = signed_in(world.person("school_named"))
    assert "Confirm<span" in text(head.get(school_url(world)))
    form = head.get(url)
    assert form.status_code == 200 and "All internal moderation processes have been completed" in text(form)
    early = head.post(url, confirmation_data())  # nothing sent yet: nothing to confirm
    assert early.status_code == 400 and "Send the Census file first" in text(early)
    post_file(signed_in(world.person("manage_data")), world, b"census data", tag="census", name="census.csv")
    response = head.post(url, confirmation_data())
    assert response.status_code == 302
    page = text(head.get(school_url(world)))
    assert "Confirmed by Helen Marsh, Head teacher" in page
    again = head.post(url, confirmation_data())
    assert again.status_code == 400 and "already confirmed this return" in text(again)
    data_officer = signed_in(world.person("manage_data"))
    assert data_officer.get(url).status_code == 403
    assert data_officer.post(url, confirmation_data(name="Someone Else")).status_code == 403
    assert HeadTeacherConfirmation.objects.count() == 1


def test_the_confirmation_form_says_what_is_missing(world):
    round_ = open_round(world.la, "census")
    url = reverse("returns:confirm", args=[world.s1.pk, round_.pk])
    head = signed_in(world.person("school_named"))
    response = head.post(url, {"name": "", "role": "Head teacher", "confirmed_on": "31/02/2027"})
    page = text(response)
    assert response.status_code == 400 and "There is a problem" in page
    assert "Confirm that all internal moderation has been completed" in page
    assert "Confirm that the head teacher and the staff responsible have agreed the assessments" in page
    assert "Enter the head teacher&#x27;s name" in page and "Enter the date as a real date" in page
    assert not HeadTeacherConfirmation.objects.exists()


def test_the_la_sees_who_sent_and_confirmed_asks_for_a_correction_and_publishes_a_report(world):
    officer = signed_in(world.person("la_data_officer"))
    la_page = officer.get(reverse("returns:la", args=[world.la.pk]))
    assert la_page.status_code == 200 and "No returns opened yet" in text(la_page)
    opened = officer.post(
        reverse("returns:open_round", args=[world.la.pk]),
        {
            "tag": "phonics",
            "year": str(YEAR),
            "deadline": f"{YEAR}-06-25",
            "period_starts": f"{YEAR}-06-07",
            "period_ends": f"{YEAR}-06-11",
            "instructions": "All Year 1 and Year 2 retakes only.",
        },
    )
    round_ = ReturnRound.objects.get()
    assert opened.status_code == 302 and opened.url == reverse("returns:round", args=[world.la.pk, round_.pk])
    assert round_.period_starts == date(YEAR, 6, 7) and round_.opened_by == world.person("la_data_officer")

    school = signed_in(world.person("manage_data"))
    on_roll(world.s1, 1)
    post_file(school, world, ctf(world.s1, [(upn(world.s1, 1), "Pupil1", "31")]))
    sent = Return.objects.get()
    validate_return(sent.pk)
    signed_in(world.person("school_named")).post(
        reverse("returns:confirm", args=[world.s1.pk, round_.pk]), confirmation_data()
    )

    overview = text(officer.get(reverse("returns:round", args=[world.la.pk, round_.pk])))
    # The phonics return is asked of the LA's schools with Year 1 or 2: School One (all-through) and
    # School Two (primary), not School Three (secondary).
    assert "1 of 2 have sent a file; 1 have confirmed" in overview
    assert "by Manage Data" in overview and "Helen Marsh, Head teacher" in overview
    assert "School Two" in overview and "Not sent" in overview and "No errors" in overview
    assert "School Three" not in overview

    school_in_round = reverse("returns:round_school", args=[world.la.pk, round_.pk, world.s1.pk])
    assert officer.get(school_in_round).status_code == 200
    asked = officer.post(
        reverse("returns:request_correction", args=[world.la.pk, round_.pk, world.s1.pk]),
        {"message": "Pupil1's mark looks low: please check."},
    )
    assert asked.status_code == 302
    school_page = text(school.get(school_url(world)))
    assert (
        "Correction requested" in school_page and "Pupil1&#x27;s mark looks low: please check." in school_page
    )
    assert "Send the corrected file" in school_page

    published = officer.post(
        reverse("returns:publish", args=[world.la.pk, round_.pk, world.s1.pk]),
        {"title": "Phonics summary", "file": as_file(b"%PDF-1.7 summary", "summary.pdf")},
    )
    assert published.status_code == 302
    report = PublishedReport.objects.get()
    school_page = text(school.get(school_url(world)))
    assert "Phonics summary" in school_page
    download = school.get(reverse("returns:report_download", args=[report.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.7 summary"
    assert 'filename="summary.pdf"' in download["Content-Disposition"]
    assert AuditEvent.objects.filter(
        action=AuditAction.RETURN_DOWNLOADED, detail__file="published_report"
    ).exists()

    file = officer.get(reverse("returns:return_download", args=[sent.pk]))
    assert file.status_code == 200 and b"<CTfile>" in b"".join(file.streaming_content)
    assert AuditEvent.objects.filter(
        action=AuditAction.RETURN_DOWNLOADED, actor=world.person("la_data_officer"), organisation=world.s1
    ).exists()


def test_the_la_accepts_a_file_or_is_told_why_not(world):
    round_ = open_round(world.la)
    school = signed_in(world.person("manage_data"))
    post_file(school, world, ctf(world.s1, [(upn(world.s1, 1), "Ann", "44")]))
    validate_return(Return.objects.get().pk)
    officer = signed_in(world.person("la_data_officer"))
    accept = reverse("returns:accept", args=[world.la.pk, round_.pk, world.s1.pk])
    refused = officer.post(accept, follow=True)
    assert refused.status_code == 200 and "ask the school for a correction instead" in text(refused)
    on_roll(world.s1, 1)
    post_file(school, world, ctf(world.s1, [(upn(world.s1, 1), "Pupil1", "40")]), name="fixed.xml")
    validate_return(Return.objects.get(current=True).pk)
    accepted = officer.post(accept, follow=True)
    assert "School One&#x27;s file is accepted." in text(accepted)
    assert Return.objects.get(current=True).status == ReturnStatus.ACCEPTED
    again = officer.post(
        reverse("returns:check_again", args=[world.la.pk, round_.pk, world.s1.pk]), follow=True
    )
    assert "being checked again" in text(again)


def test_the_round_flags_a_pupil_two_schools_returned_with_the_school_that_should_submit(world):
    round_ = open_round(world.la)  # check period 7 to 11 June
    s1, s3 = world.s1, teaching_primary(world.s3)
    on_roll(s3, 1, issued_by=s3, joined=date(YEAR - 1, 9, 3), left=date(YEAR, 6, 12))
    on_roll(s1, 1, issued_by=s3, joined=date(YEAR, 6, 15))  # after the check
    s3_sender = member("manage_data", s3, email="data@school-three.example", full_name="Sam Three")
    for school, sender in ((s3, s3_sender), (s1, world.person("manage_data"))):
        sent = services.send_return(
            school,
            tag="phonics",
            source=as_file(ctf(school, [(upn(s3, 1), "Pupil1", "33")])),
            filename="phonics.xml",
            actor=sender,
        )
        validate_return(sent.pk)
    page = text(
        signed_in(world.person("la_data_officer")).get(
            reverse("returns:round", args=[world.la.pk, round_.pk])
        )
    )
    flagged = page.split("Pupils returned by more than one school")[1]
    assert upn(s3, 1) in flagged and "Pupil1 Brown" in flagged
    assert "<strong>School Three</strong>" in flagged
    assert "after the phonics check period" in flagged and "so took the check at School Three" in flagged


# Refusals ---------------------------------------------------------------------------------------

OUTSIDERS = [
    "other_school_admin",
    "other_school_named",
    "other_trust_admin",
    "other_trust_named",
    "other_la_data_officer",
    "other_la_named",
]
NOT_LA_OFFICERS = [
    *OUTSIDERS,
    "school_admin",
    "manage_data",
    "school_named",
    "school_anon",
    "governor",
    "trust_admin",
    "trust_named",
    "trust_anon",
    "la_named",
    "la_anon",
]


@pytest.fixture
def everything(world):
    """A round with a file, a confirmation, a correction and a report: something behind every URL."""
    round_ = open_round(world.la, "census")
    sent = services.send_return(
        world.s1,
        tag="census",
        source=as_file(b"census", "c.csv"),
        filename="c.csv",
        actor=world.person("manage_data"),
    )
    la_actions.request_correction(sent, message="Check it", actor=world.person("la_data_officer"))
    report = la_actions.publish_report(
        round_,
        world.s1,
        source=as_file(b"%PDF-1.7", "r.pdf"),
        filename="r.pdf",
        actor=world.person("la_data_officer"),
    )
    return round_, sent, report


def _counts():
    return (
        Return.objects.count(),
        CorrectionRequest.objects.count(),
        PublishedReport.objects.count(),
        ReturnRound.objects.count(),
        HeadTeacherConfirmation.objects.count(),
        Return.objects.filter(status=ReturnStatus.ACCEPTED).count(),
        AuditEvent.objects.filter(action=AuditAction.RETURN_DOWNLOADED).count(),
    )


def test_people_of_other_organisations_are_refused_every_school_page_and_action(world, everything):
    round_, sent, report = everything
    s1 = world.s1.pk
    pages = [
        ("get", reverse("returns:school", args=[s1]), {}),
        ("get", reverse("returns:send", args=[s1]), {}),
        ("post", reverse("returns:send", args=[s1]), {"tag": "census", "file": as_file(b"other", "o.csv")}),
        ("get", reverse("returns:confirm", args=[s1, round_.pk]), {}),
        ("post", reverse("returns:confirm", args=[s1, round_.pk]), confirmation_data()),
        ("get", reverse("returns:return_detail", args=[sent.pk]), {}),
        ("get", reverse("returns:return_download", args=[sent.pk]), {}),
        ("get", reverse("returns:report_download", args=[report.pk]), {}),
    ]
    before = _counts()
    for name in OUTSIDERS:
        client = signed_in(world.person(name))
        for method, url, data in pages:
            status = getattr(client, method)(url, data).status_code
            assert status in (403, 404), (name, method, url, status)
    assert _counts() == before


def test_school_people_without_the_role_are_refused_what_their_role_does_not_allow(world, everything):
    round_, sent, report = everything
    s1 = world.s1.pk
    for name in ("school_named", "school_anon", "governor", "school_admin", "trust_named"):
        response = signed_in(world.person(name)).post(
            send_url(world), {"tag": "census", "file": as_file(b"n", "n.csv")}
        )
        assert response.status_code == 403, name
    for name in ("manage_data", "school_admin", "school_anon", "trust_admin", "la_data_officer"):
        assert (
            signed_in(world.person(name)).get(reverse("returns:confirm", args=[s1, round_.pk])).status_code
            == 403
        )
    for name in ("school_anon", "governor", "school_admin"):
        client = signed_in(world.person(name))
        assert client.get(reverse("returns:return_download", args=[sent.pk])).status_code == 403
        assert client.get(reverse("returns:report_download", args=[report.pk])).status_code == 403
        page = text(client.get(school_url(world)))  # they see the status, not the files or the message
        assert (
            "Correction requested" in page and "Check it" not in page and "returns:return_detail" not in page
        )
    assert Return.objects.count() == 1


def test_everyone_but_the_las_data_officer_is_refused_every_la_page_and_action(world, everything):
    round_, _sent, _report = everything
    la, r, s1 = world.la.pk, round_.pk, world.s1.pk
    away_round = open_round(world.away_la, "census")
    pages = [
        ("get", reverse("returns:la", args=[la]), {}),
        ("get", reverse("returns:open_round", args=[la]), {}),
        (
            "post",
            reverse("returns:open_round", args=[la]),
            {"tag": "other", "year": YEAR, "deadline": f"{YEAR}-07-01"},
        ),
        ("get", reverse("returns:round", args=[la, r]), {}),
        ("get", reverse("returns:round_school", args=[la, r, s1]), {}),
        ("post", reverse("returns:request_correction", args=[la, r, s1]), {"message": "Fix"}),
        ("post", reverse("returns:accept", args=[la, r, s1]), {}),
        ("post", reverse("returns:check_again", args=[la, r, s1]), {}),
        ("post", reverse("returns:publish", args=[la, r, s1]), {"file": as_file(b"%PDF other", "x.pdf")}),
    ]
    before = _counts()
    for name in NOT_LA_OFFICERS:
        client = signed_in(world.person(name))
        for method, url, data in pages:
            status = getattr(client, method)(url, data).status_code
            assert status in (403, 404), (name, method, url, status)
    # The LA's officer reaches only its own rounds and schools.
    officer = signed_in(world.person("la_data_officer"))
    assert officer.get(reverse("returns:round", args=[world.away_la.pk, r])).status_code == 403
    assert officer.get(reverse("returns:round_school", args=[la, r, world.s4.pk])).status_code == 404
    assert officer.get(reverse("returns:la", args=[world.s1.pk])).status_code == 404
    assert officer.get(reverse("returns:round", args=[la, away_round.pk])).status_code == 404
    assert _counts() == before


def test_signed_out_people_are_sent_to_sign_in(world, everything):
    _round, sent, _report = everything
    for url in (
        school_url(world),
        reverse("returns:la", args=[world.la.pk]),
        reverse("returns:return_download", args=[sent.pk]),
    ):
        response = Client().get(url)
        assert response.status_code == 302 and "/sign-in/" in response.url


# Bad input --------------------------------------------------------------------------------------


def test_bad_sends_get_a_clear_message(world, settings):
    open_round(world.la)
    client = signed_in(world.person("manage_data"))
    cases = [
        ({"tag": "phonics"}, "Select a file to send"),
        ({"tag": "phonics", "file": as_file(b"", "empty.xml")}, "The selected file is empty"),
        ({"tag": "ks9", "file": as_file(b"<CTfile/>", "a.xml")}, "Select one of the tags listed"),
        ({"file": as_file(b"<CTfile/>", "a.xml")}, "Select what the file is (its tag)"),
        ({"tag": "census", "file": as_file(b"<CTfile/>", "a.xml")}, "Select one of the tags listed"),
        (
            {"tag": "phonics", "file": as_file(b"<CTfile/>", "a.xml"), "comment": "x" * 1001},
            "1000 characters or fewer",
        ),
    ]
    for data, message in cases:
        response = client.post(send_url(world), data)
        assert response.status_code == 400 and message in text(response), message
        assert "There is a problem" in text(response)
    settings.KEYSTAGE_MAX_UPLOAD_BYTES = 1024
    too_big = client.post(send_url(world), {"tag": "phonics", "file": as_file(b"x" * 4096, "big.xml")})
    assert (
        too_big.status_code == 400
        and "big.xml is larger than 0 MB, the largest file accepted, so it was not sent" in text(too_big)
    )
    settings.KEYSTAGE_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
    assert not Return.objects.exists()
    first = client.post(send_url(world), {"tag": "phonics", "file": as_file(b"<CTfile/>", "a.xml")})
    assert first.status_code == 302
    double = client.post(send_url(world), {"tag": "phonics", "file": as_file(b"<CTfile/>", "a.xml")})
    assert double.status_code == 400 and "You already sent this file (a.xml)" in text(double)
    assert Return.objects.count() == 1


def test_a_school_whose_la_has_opened_nothing_is_told_so(world):
    client = signed_in(world.person("manage_data"))
    assert "has not opened any returns yet" in text(client.get(school_url(world)))
    assert "has no returns open at the moment" in text(client.get(send_url(world)))


def test_bad_la_input_gets_a_clear_message(world, settings):
    officer = signed_in(world.person("la_data_officer"))
    url = reverse("returns:open_round", args=[world.la.pk])
    cases = [
        (
            {"tag": "ks1", "year": YEAR, "deadline": f"{YEAR}-06-28"},
            "Enter the first and last days of the KS1 test period",
        ),
        ({"tag": "ks9", "year": YEAR, "deadline": f"{YEAR}-06-28"}, "Select one of the returns"),
        ({"tag": "census", "year": YEAR, "deadline": "not a date"}, "Enter the deadline as a real date"),
        (
            {"tag": "census", "year": YEAR + 5, "deadline": f"{YEAR}-06-28"},
            "Select one of the academic years",
        ),
    ]
    for data, message in cases:
        response = officer.post(url, data)
        assert response.status_code == 400 and message in text(response), message
    assert officer.post(url, {"tag": "census", "year": YEAR, "deadline": f"{YEAR}-05-31"}).status_code == 302
    duplicate = officer.post(url, {"tag": "census", "year": YEAR, "deadline": f"{YEAR}-05-31"})
    assert duplicate.status_code == 400 and "has already opened the Census return" in text(duplicate)
    round_ = ReturnRound.objects.get()
    nothing_sent = officer.post(
        reverse("returns:request_correction", args=[world.la.pk, round_.pk, world.s1.pk]), {"message": "x"}
    )
    assert nothing_sent.status_code == 404
    services.send_return(
        world.s1,
        tag="census",
        source=as_file(b"c", "c.csv"),
        filename="c.csv",
        actor=world.person("manage_data"),
    )
    empty = officer.post(
        reverse("returns:request_correction", args=[world.la.pk, round_.pk, world.s1.pk]), {"message": " "}
    )
    assert empty.status_code == 400 and "Write what the school needs to correct" in text(empty)
    no_file = officer.post(
        reverse("returns:publish", args=[world.la.pk, round_.pk, world.s1.pk]), {"title": "Report"}
    )
    assert no_file.status_code == 400 and "Select a file to send" in text(no_file)
    check = officer.post(
        reverse("returns:check_again", args=[world.la.pk, round_.pk, world.s1.pk]), follow=True
    )
    assert "Only CTF returns" in text(check)
    assert not CorrectionRequest.objects.exists() and not PublishedReport.objects.exists()


def test_the_la_publishes_only_files_of_a_kind_served_told_by_content_not_name(world):
    round_ = open_round(world.la)
    officer = signed_in(world.person("la_data_officer"))
    publish = reverse("returns:publish", args=[world.la.pk, round_.pk, world.s1.pk])
    page = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
    for name, data in (("summary.html", page), ("summary.pdf", page), ("run.sh", b"#!/bin/sh\nrm -rf /\n")):
        refused = officer.post(publish, {"title": "Summary", "file": as_file(data, name)})
        assert refused.status_code == 400, name
        assert f"{name} cannot be published to a school: its content is not a PDF, Excel" in text(refused)
    assert not PublishedReport.objects.exists()

    # A real PDF called .html is published, and a school downloads it as the PDF it is.
    published = officer.post(
        publish, {"title": "Summary", "file": as_file(b"%PDF-1.7 summary", "summary.html")}
    )
    assert published.status_code == 302
    report = PublishedReport.objects.get()
    download = signed_in(world.person("school_named")).get(
        reverse("returns:report_download", args=[report.pk])
    )
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert 'filename="summary.html.pdf"' in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"

    # One stored before kinds were checked is not served as what it is not.
    report.file.save("old.html", ContentFile(page), save=True)
    school = signed_in(world.person("school_named"))
    refused = school.get(reverse("returns:report_download", args=[report.pk]), follow=True)
    assert "is not a PDF, Excel" in text(refused) and "Ask your LA to publish it again" in text(refused)
