"""LA returns through their service functions: sending, checking CTFs with the results engine,
superseding, the head teacher's confirmation, the LA's corrections, acceptance and reports, the
movers check, and the worker."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from keystage.audit.models import AuditAction, AuditEvent
from keystage.core.results import rules
from keystage.returns import checking, la_actions, pages, rounds, services
from keystage.returns.demo import load_demo_returns
from keystage.returns.errors import ReturnsError
from keystage.returns.models import (
    CorrectionRequest,
    HeadTeacherConfirmation,
    PublishedReport,
    Return,
    ReturnedPupil,
    ReturnRound,
    ReturnStatus,
    Validation,
)
from keystage.web import stored_checks
from tests.factories import LocalAuthorityFactory, member
from tests.returns.conftest import YEAR, as_file, ctf, on_roll, open_round, teaching_primary, upn


def send(
    world,
    data: bytes,
    *,
    tag: str = "phonics",
    name: str = "return.xml",
    who: str = "manage_data",
    school=None,
):
    return services.send_return(
        school or world.s1,
        tag=tag,
        source=as_file(data, name),
        filename=name,
        comment="Year 1 phonics",
        actor=world.person(who),
    )


def sent_and_checked(world, data: bytes, **kwargs) -> Return:
    sent = send(world, data, **kwargs)
    return checking.validate_return(sent.pk)


def test_a_ctf_with_errors_is_checked_by_the_results_engine_and_keeps_every_issue(world):
    open_round(world.la)
    data = ctf(
        world.s1,
        [(upn(world.s1, 1), "Ann", "35"), (upn(world.s1, 2), "Bea", "41"), (upn(world.s1, 3), "Cy", "x")],
    )
    sent = send(world, data)
    assert sent.validation == Validation.PENDING and sent.status == ReturnStatus.SENT
    assert len(sent.sha256) == 64 and sent.size == len(data) and sent.file.name.startswith("la-returns/")
    checked = checking.validate_return(sent.pk)
    assert checked.validation == Validation.ERRORS and checked.status == ReturnStatus.VALIDATED
    assert checked.file_format == "ctf" and checked.pupil_count == 3
    assert [i["code"] for i in checked.issues if i["severity"] == "error"] == [
        "result.score_range",
        "result.score_range",
    ]
    assert checked.error_count == 2
    assert [i["row"] for i in checked.issues if i["severity"] == "error"] == [2, 3]
    assert ReturnedPupil.objects.filter(sent_return=checked).count() == 3
    assert AuditEvent.objects.filter(action=AuditAction.RETURN_SENT, organisation=world.s1).exists()
    assert AuditEvent.objects.filter(action=AuditAction.RETURN_VALIDATED, organisation=world.s1).exists()
    # Running the check twice (a worker restarted) changes nothing.
    assert checking.validate_return(sent.pk).validated_at == checked.validated_at


def test_a_valid_ctf_is_validated_with_its_pupils(world):
    open_round(world.la)
    on_roll(world.s1, 1)
    checked = sent_and_checked(world, ctf(world.s1, [(upn(world.s1, 1), "Pupil1", "32")]))
    assert checked.validation == Validation.VALID and checked.error_count == 0
    assert ReturnedPupil.objects.get(sent_return=checked).results == {"phonics_mark": "32"}


def test_a_spreadsheet_sent_as_a_ctf_return_is_told_to_send_a_ctf(world):
    open_round(world.la)
    checked = sent_and_checked(world, b"UPN,Forename\nA123,Ann\n", name="phonics.csv")
    assert checked.validation == Validation.ERRORS
    assert "takes Phonics returns as a CTF (an XML file)" in checked.issues[0]["message"]
    assert not ReturnedPupil.objects.exists()


def test_a_ctf_the_engine_cannot_check_ends_with_a_message_not_for_ever_being_checked(world, monkeypatch):
    open_round(world.la)
    sent = send(world, ctf(world.s1, [(upn(world.s1, 1), "Ann", "30")]))

    def broken(*args, **kwargs):
        raise RuntimeError("engine fault")

    monkeypatch.setattr(checking, "check_file", broken)
    checked = checking.validate_return(sent.pk)
    assert checked.validation == Validation.ERRORS and not checked.being_checked
    assert checked.issues[0]["message"].startswith("This file could not be checked. Send it again")


def test_a_census_file_is_sent_as_it_is(world):
    open_round(world.la, "census")
    sent = send(world, b"%PDF-1.4 census", tag="Census", name="census.pdf")
    assert sent.validation == Validation.NOT_NEEDED and sent.status == ReturnStatus.SENT
    assert sent.tag == "census" and sent.comment == "Year 1 phonics"


def test_a_newer_file_replaces_the_older_and_answers_the_correction_request(world):
    open_round(world.la)
    first = sent_and_checked(world, ctf(world.s1, [(upn(world.s1, 1), "Ann", "44")]))
    correction = la_actions.request_correction(
        first, message="Pupil 1's mark is over 40.", actor=world.person("la_data_officer")
    )
    second = send(world, ctf(world.s1, [(upn(world.s1, 1), "Ann", "40")]))
    first.refresh_from_db()
    correction.refresh_from_db()
    assert not first.current and first.status == ReturnStatus.SUPERSEDED and first.superseded_at
    assert second.current and correction.resolved and correction.resolved_by == second
    assert list(Return.objects.filter(school=world.s1)) == [second, first]  # history kept
    with pytest.raises(ReturnsError, match="newer file"):
        la_actions.request_correction(first, message="Again", actor=world.person("la_data_officer"))


def test_sending_the_same_file_again_is_refused_with_a_clear_message(world):
    open_round(world.la, "census")
    send(world, b"census data", tag="census")
    with pytest.raises(
        ReturnsError,
        match=r"You already sent this file \(return.xml\) on .*, so it was not sent again",
    ):
        send(world, b"census data", tag="census")
    assert Return.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_double_click_sends_the_file_once_and_two_different_files_leave_one_current(world, settings):
    open_round(world.la, "census")
    user = world.person("manage_data")

    def at_once(contents: list[bytes]) -> list[Exception]:
        barrier = threading.Barrier(len(contents))
        errors: list[Exception] = []

        def one(data: bytes) -> None:
            try:
                barrier.wait()
                services.send_return(
                    world.s1, tag="census", source=as_file(data, "c.csv"), filename="c.csv", actor=user
                )
            except Exception as error:
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=one, args=(data,)) for data in contents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return errors

    errors = at_once([b"same", b"same"])
    assert len(errors) == 1 and "You already sent this file" in str(errors[0])
    assert Return.objects.count() == 1
    stored = [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
    assert len(stored) == 1  # the refused copy was not kept
    assert at_once([b"first", b"second"]) == []
    assert Return.objects.count() == 3 and Return.objects.filter(current=True).count() == 1


def test_bad_files_and_tags_are_refused_with_a_message(world, settings):
    open_round(world.la)
    with pytest.raises(ReturnsError, match=r"empty\.xml is empty"):
        send(world, b"", name="empty.xml")
    settings.KEYSTAGE_MAX_UPLOAD_BYTES = 1024
    with pytest.raises(
        ReturnsError,
        match=r"big\.xml is larger than 0 MB, the largest file accepted, so it was not sent",
    ) as refused:
        send(world, b"x" * 2048, name="big.xml")
    assert refused.value.field == "file"
    settings.KEYSTAGE_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
    with pytest.raises(ReturnsError, match="“KS9” is not a tag"):
        send(world, b"data", tag="KS9")
    with pytest.raises(ReturnsError, match="has not opened a KS3 TA return"):
        send(world, b"data", tag="ks3-ta")
    assert not Return.objects.exists()


def test_only_people_who_submit_for_the_school_can_send(world):
    open_round(world.la, "census")
    # As for results uploads, the trust administrator submits for the trust's schools.
    assert send(world, b"from the trust", tag="census", who="trust_admin", school=world.s2).school == world.s2
    for name in (
        "school_named",
        "school_anon",
        "governor",
        "la_data_officer",
        "other_school_admin",
        "other_trust_admin",
        "other_la_data_officer",
    ):
        with pytest.raises(PermissionDenied):
            send(world, b"data", tag="census", who=name)
    assert Return.objects.count() == 1


def test_an_earlier_years_round_takes_no_files(world):
    open_round(world.la, "census", year=YEAR - 1, deadline=date(YEAR - 1, 6, 1))
    with pytest.raises(ReturnsError, match="has not opened a Census return"):
        send(world, b"data", tag="census")


# The head teacher's confirmation ----------------------------------------------------------------


def confirm(world, round_, who="school_named", **changes):
    values = dict(
        moderation_done=True,
        agreed=True,
        name="Helen Marsh",
        role="Head teacher",
        confirmed_on=timezone.localdate(),
    )
    values.update(changes)
    return services.confirm_as_head_teacher(round_, world.s1, actor=world.person(who), **values)


def test_the_head_teacher_confirms_once_per_file(world):
    round_ = open_round(world.la, "census")
    first_file = send(world, b"one", tag="census")
    confirmation = confirm(world, round_)
    assert confirmation.for_return == first_file and confirmation.signed_by == world.person("school_named")
    assert AuditEvent.objects.filter(action=AuditAction.RETURN_CONFIRMED, organisation=world.s1).exists()
    with pytest.raises(ReturnsError, match="Helen Marsh \\(Head teacher\\) already confirmed this return"):
        confirm(world, round_)
    send(world, b"two", tag="census")
    confirm(world, round_)  # a new file is confirmed again
    assert HeadTeacherConfirmation.objects.count() == 2


def test_the_confirmation_needs_both_ticks_a_name_and_a_date_not_in_the_future(world):
    round_ = open_round(world.la, "census")
    for changes, message in (
        ({"moderation_done": False}, "internal moderation"),
        ({"agreed": False}, "agreed the assessments"),
        ({"name": "  "}, "head teacher's name"),
        ({"confirmed_on": timezone.localdate() + timedelta(days=1)}, "cannot be in the future"),
    ):
        with pytest.raises(ReturnsError, match=message):
            confirm(world, round_, **changes)
    assert not HeadTeacherConfirmation.objects.exists()


def test_only_someone_who_signs_for_the_school_can_confirm(world):
    round_ = open_round(world.la, "census")
    for name in ("manage_data", "school_admin", "trust_admin", "la_data_officer", "other_school_named"):
        with pytest.raises(PermissionDenied):
            confirm(world, round_, who=name)


# The LA's side ----------------------------------------------------------------------------------


def test_opening_a_round_checks_its_dates(world):
    officer = world.person("la_data_officer")
    args = dict(actor=officer, year=YEAR, deadline=date(YEAR, 6, 26))
    with pytest.raises(ReturnsError, match="first and last days of the KS1 test period"):
        rounds.open_round(world.la, tag="ks1", **args)
    with pytest.raises(ReturnsError, match="must end on or after its first day"):
        rounds.open_round(
            world.la, tag="ks2-ta", period_starts=date(YEAR, 5, 14), period_ends=date(YEAR, 5, 11), **args
        )
    with pytest.raises(ReturnsError, match="second half of the summer term"):
        rounds.open_round(world.la, tag="eyfsp", **args)
    with pytest.raises(ReturnsError, match="The deadline must be in"):
        rounds.open_round(world.la, tag="census", actor=officer, year=YEAR, deadline=date(YEAR, 9, 1))
    with pytest.raises(ReturnsError, match="Open a return for"):
        rounds.open_round(world.la, tag="census", actor=officer, year=YEAR - 1, deadline=date(YEAR - 1, 6, 1))
    opened = rounds.open_round(
        world.la,
        tag="KS1",
        period_starts=date(YEAR, 5, 1),
        period_ends=date(YEAR, 5, 31),
        summer_second_half_starts=date(YEAR, 6, 1),
        **args,
    )
    assert str(opened) == f"KS1 {YEAR - 1}/{YEAR % 100:02d}" and opened.summer_second_half_starts is None
    with pytest.raises(ReturnsError, match="has already opened the KS1 return"):
        rounds.open_round(
            world.la, tag="ks1", period_starts=date(YEAR, 5, 1), period_ends=date(YEAR, 5, 31), **args
        )
    for name in ("la_named", "la_anon", "trust_admin", "school_admin", "other_la_data_officer"):
        with pytest.raises(PermissionDenied):
            rounds.open_round(
                world.la, tag="census", actor=world.person(name), year=YEAR, deadline=date(YEAR, 6, 1)
            )
    assert ReturnRound.objects.count() == 1


def test_the_la_accepts_a_valid_file_but_not_one_with_errors(world):
    open_round(world.la)
    officer = world.person("la_data_officer")
    bad = sent_and_checked(world, ctf(world.s1, [(upn(world.s1, 1), "Ann", "44")]))
    with pytest.raises(ReturnsError, match="has 1 error; ask the school for a correction"):
        la_actions.accept_return(bad, actor=officer)
    on_roll(world.s1, 1)
    good = sent_and_checked(world, ctf(world.s1, [(upn(world.s1, 1), "Pupil1", "40")]))
    accepted = la_actions.accept_return(good, actor=officer)
    assert accepted.status == ReturnStatus.ACCEPTED and accepted.accepted_by == officer
    assert la_actions.accept_return(good, actor=officer).status == ReturnStatus.ACCEPTED  # a second click
    again = checking.check_again(good, actor=officer)  # the new check decides again
    assert again.status == ReturnStatus.SENT and again.accepted_at is None
    assert AuditEvent.objects.filter(
        action=AuditAction.RETURN_VALIDATED, actor=officer, detail__decision="accepted"
    ).exists()
    with pytest.raises(PermissionDenied):
        la_actions.accept_return(good, actor=world.person("other_la_data_officer"))


def test_a_correction_request_needs_a_message_and_is_not_sent_twice(world):
    open_round(world.la, "census")
    sent = send(world, b"census", tag="census")
    officer = world.person("la_data_officer")
    with pytest.raises(ReturnsError, match="Write what the school needs to correct"):
        la_actions.request_correction(sent, message="  ", actor=officer)
    la_actions.request_correction(sent, message="Wrong term.", actor=officer)
    with pytest.raises(ReturnsError, match="already sent the school this request"):
        la_actions.request_correction(sent, message="Wrong term.", actor=officer)
    sent.refresh_from_db()
    assert sent.status == ReturnStatus.CORRECTION_REQUESTED and CorrectionRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.CORRECTION_REQUESTED, actor=officer).count() == 1
    for name in ("la_named", "other_la_data_officer", "trust_admin", "manage_data"):
        with pytest.raises(PermissionDenied):
            la_actions.request_correction(sent, message="No", actor=world.person(name))


def test_the_la_publishes_a_report_to_one_of_its_schools_only(world):
    round_ = open_round(world.la, "ks1")
    officer = world.person("la_data_officer")
    report = la_actions.publish_report(
        round_, world.s1, source=as_file(b"%PDF-1.7 report", "r.pdf"), filename="r.pdf", actor=officer
    )
    assert report.title == f"{round_} report" and report.size == 15
    assert AuditEvent.objects.filter(action=AuditAction.REPORT_PUBLISHED, organisation=world.s1).exists()
    with pytest.raises(ReturnsError, match="already published to School One"):
        la_actions.publish_report(
            round_, world.s1, source=as_file(b"%PDF-1.7 report", "r.pdf"), filename="r.pdf", actor=officer
        )
    with pytest.raises(ReturnsError, match="not one of Home Authority's schools"):
        la_actions.publish_report(
            round_, world.s4, source=as_file(b"x", "r.pdf"), filename="r.pdf", actor=officer
        )
    with pytest.raises(PermissionDenied):
        la_actions.publish_report(
            round_,
            world.s1,
            source=as_file(b"y", "r.pdf"),
            filename="r.pdf",
            actor=world.person("other_la_data_officer"),
        )
    assert PublishedReport.objects.count() == 1


# Movers -----------------------------------------------------------------------------------------


def test_pupils_returned_by_two_schools_are_flagged_with_the_school_that_should_submit(world):
    round_ = open_round(world.la)  # phonics check period 7 to 11 June
    s1, s3 = world.s1, teaching_primary(world.s3)
    autumn = date(YEAR - 1, 9, 3)
    # Pupil 1 moved from School Three to School One on 9 June, during the check, and took it at School Three.
    on_roll(s3, 1, issued_by=s3, joined=autumn, left=date(YEAR, 6, 8))
    on_roll(s1, 1, issued_by=s3, joined=date(YEAR, 6, 9))
    # Pupil 2 moved to School One on 4 May, before the check.
    on_roll(s3, 2, issued_by=s3, joined=autumn, left=date(YEAR, 5, 1))
    on_roll(s1, 2, issued_by=s3, joined=date(YEAR, 5, 4))
    # Pupil 3 is on neither roster.
    s3_sender = member("manage_data", s3, email="data@school-three.example", full_name="Sam Three")
    from_s3 = ctf(
        s3, [(upn(s3, 1), "Pupil1", "32"), (upn(s3, 2), "Pupil2", "A"), (upn(s3, 3), "Pupil3", "20")]
    )
    checking.validate_return(
        services.send_return(
            s3, tag="phonics", source=as_file(from_s3), filename="s3.xml", actor=s3_sender
        ).pk
    )
    from_s1 = ctf(
        s1, [(upn(s3, 1), "Pupil1", "A"), (upn(s3, 2), "Pupil2", "30"), (upn(s3, 3), "Pupil3", "21")]
    )
    sent_and_checked(world, from_s1)
    movers = {m.upn: m for m in pages.movers(round_)}
    assert set(movers) == {upn(s3, 1), upn(s3, 2), upn(s3, 3)}
    took_it = movers[upn(s3, 1)]
    assert took_it.submits == s3 and took_it.schools == [s1, s3] and took_it.name == "Pupil1 Brown"
    assert (
        "during the phonics check period" in took_it.reason
        and "had already taken the check at School Three" in took_it.reason
    )
    before = movers[upn(s3, 2)]
    assert before.submits == s1 and "before the phonics check period" in before.reason
    unknown = movers[upn(s3, 3)]
    assert unknown.submits is None and "not on their rosters" in unknown.reason


# The worker and the demo ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_worker_checks_a_sent_ctf(world):
    open_round(world.la)
    sent = send(world, ctf(world.s1, [(upn(world.s1, 1), "Ann", "41")]))
    call_command("worker", "--batch", "--interval", "0")
    sent.refresh_from_db()
    assert sent.validation == Validation.ERRORS and sent.error_count == 1


@pytest.mark.django_db(transaction=True)  # the check is queued when the sending commits
def test_checks_whose_task_was_lost_are_queued_again_and_no_others(world):
    open_round(world.la)
    sent = send(world, ctf(world.s1, [(upn(world.s1, 1), "Ann", "41")]))
    Return.objects.filter(pk=sent.pk).update(validation_queued_at=timezone.now() - timedelta(minutes=5))
    assert checking.requeue_stalled_validations() == 0  # its check is still in the queue (a backlog)
    DBTaskResult.objects.all().delete()  # the task was lost
    assert checking.requeue_stalled_validations() == 1
    assert checking.requeue_stalled_validations() == 0  # just queued


@pytest.mark.django_db(transaction=True)  # the check is queued when the sending commits
def test_a_ctf_that_kills_every_check_is_refused_after_three_not_checked_for_ever(world):
    open_round(world.la)
    sent = send(world, ctf(world.s1, [(upn(world.s1, 1), "Ann", "41")]))
    # Three checks started and died with their workers (each start is counted before the check).
    Return.objects.filter(pk=sent.pk).update(validation_attempts=stored_checks.CHECK_ATTEMPTS)
    call_command("worker", "--batch", "--interval", "0")
    sent.refresh_from_db()
    assert sent.validation == Validation.ERRORS
    assert sent.issues[0]["message"] == rules.RETURN_UNCHECKABLE.message


@pytest.mark.django_db(transaction=True)
def test_the_sweep_that_finds_a_ctfs_last_check_dead_refuses_it_at_once(world):
    open_round(world.la)
    sent = send(world, ctf(world.s1, [(upn(world.s1, 1), "Ann", "41")]))
    Return.objects.filter(pk=sent.pk).update(validation_attempts=stored_checks.CHECK_ATTEMPTS)
    DBTaskResult.objects.update(status="FAILED")  # its third worker died: the task was failed
    assert checking.requeue_stalled_validations() == 0  # not queued again, and no wait for it to look stalled
    sent.refresh_from_db()
    assert sent.validation == Validation.ERRORS
    assert sent.issues[0]["message"] == rules.RETURN_UNCHECKABLE.message


def test_the_demo_opens_every_return_of_the_year_once(db):
    assert load_demo_returns() == []  # no demo LA loaded
    LocalAuthorityFactory(code="990", name="Riverside (demo LA)")
    opened = load_demo_returns()
    assert len(opened) == 7 and ReturnRound.objects.filter(year=YEAR).count() == 7
    ks2 = ReturnRound.objects.get(tag="ks2-ta")
    assert ks2.period_starts.weekday() == 0 and ks2.period_starts.month == 5
    assert ReturnRound.objects.get(tag="eyfsp").summer_second_half_starts.month == 6
    first = list(ReturnRound.objects.values_list("pk", "deadline"))
    assert load_demo_returns() == opened
    assert list(ReturnRound.objects.values_list("pk", "deadline")) == first


def test_the_parts_of_a_returned_ctf_keystage_does_not_read_are_named_in_its_check(world):
    open_round(world.la)
    on_roll(world.s1, 1)
    data = ctf(world.s1, [(upn(world.s1, 1), "Pupil1", "32")])
    data = data.replace(b"</Pupil>", b"<Address><PostCode>AB1 2CD</PostCode></Address></Pupil>")
    checked = sent_and_checked(world, data)
    assert checked.validation == Validation.VALID and checked.error_count == 0
    (named,) = [i for i in checked.issues if i["code"] == "file.ctf_not_read"]
    assert named["severity"] == "warning" and named["message"].endswith("whose record has it): Address (1).")
