"""LA returns: the rounds a local authority opens (one per tag and academic year), the files its
schools send into them, the head teacher's confirmation, the LA's correction requests, and the
reports it publishes back.

A school's file for a round is sent one at a time: a newer file supersedes the one before (the row
stays, as history). A file's life: Sent -> (a CTF is checked by the worker) Validated -> Correction
requested (the school sends a new file) or Accepted; Superseded once a newer file arrives.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from keystage.core.results.kinds import academic_year_name
from keystage.core.returns import KeyDates, ReturnTag, academic_year_of
from keystage.organisations.models import LocalAuthority, School

TAG_CHOICES = [(tag.value, tag.label) for tag in ReturnTag]


class ReturnRound(models.Model):
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="return_rounds")
    tag = models.CharField(max_length=10, choices=TAG_CHOICES)
    year = models.PositiveSmallIntegerField(
        help_text="The year the academic year ends, e.g. 2026 for 2025/26."
    )
    deadline = models.DateField(help_text="Files sent after this day are marked late.")
    period_starts = models.DateField(
        null=True, blank=True, help_text="KS1 test period, phonics check period or KS2 test week: first day."
    )
    period_ends = models.DateField(null=True, blank=True, help_text="The last day of that period.")
    summer_second_half_starts = models.DateField(
        null=True, blank=True, help_text="EYFSP: the first day of the second half of the summer term."
    )
    instructions = models.TextField(blank=True, help_text="What the LA tells its schools about this return.")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    opened_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["la", "tag", "year"], name="one_return_round_per_tag_and_year"),
            models.CheckConstraint(
                condition=Q(period_starts__isnull=True)
                | Q(period_ends__isnull=True)
                | Q(period_starts__lte=F("period_ends")),
                name="return_round_period_in_order",
            ),
        ]
        ordering = ["-year", "deadline", "tag"]

    def __str__(self) -> str:
        return f"{self.tag_info.label} {academic_year_name(self.year)}"

    @property
    def title(self) -> str:
        return str(self)

    @property
    def tag_info(self) -> ReturnTag:
        return ReturnTag(self.tag)

    def is_for(self, school: School) -> bool:
        """Whether the return is asked of the school: an open school of the LA teaching one of the
        return's year groups (a KS1 return is for schools with Year 2, not the LA's secondaries)."""
        if school.la_id != self.la_id:
            return False
        years = self.tag_info.nc_years
        return school.is_open if years is None else school.takes_part_in(years)

    @property
    def key_dates(self) -> KeyDates:
        return KeyDates(self.period_starts, self.period_ends, self.summer_second_half_starts)

    def accepts_files(self, today: date | None = None) -> bool:
        """Files are sent to rounds of this academic year or later; earlier rounds are history."""
        return self.year >= academic_year_of(today or timezone.localdate())

    def is_late(self, at: date | None = None) -> bool:
        return (at or timezone.localdate()) > self.deadline


class ReturnStatus(models.TextChoices):
    SENT = "sent", "Sent"
    VALIDATED = "validated", "Validated"
    CORRECTION_REQUESTED = "correction", "Correction requested"
    ACCEPTED = "accepted", "Accepted"
    SUPERSEDED = "superseded", "Replaced by a newer file"


class Validation(models.TextChoices):
    NOT_NEEDED = "not_needed", "Not checked (not a CTF return)"
    PENDING = "pending", "Being checked"
    VALID = "valid", "No errors"
    ERRORS = "errors", "Errors found"


class Return(models.Model):
    """One file a school sent to its LA."""

    round = models.ForeignKey(ReturnRound, on_delete=models.PROTECT, related_name="returns")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="la_returns")
    tag = models.CharField(max_length=10, choices=TAG_CHOICES)
    comment = models.TextField(blank=True)
    filename = models.CharField(max_length=255)
    file = models.FileField(upload_to="la-returns/%Y/%m/", max_length=300)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sent_by_email = models.CharField(max_length=254, blank=True)
    sent_at = models.DateTimeField(default=timezone.now, db_index=True)
    current = models.BooleanField(default=True, help_text="The school's latest file for the round.")
    status = models.CharField(max_length=12, choices=ReturnStatus.choices, default=ReturnStatus.SENT)
    superseded_at = models.DateTimeField(null=True, blank=True)
    validation = models.CharField(max_length=12, choices=Validation.choices, default=Validation.NOT_NEEDED)
    file_format = models.CharField(max_length=8, blank=True)
    pupil_count = models.PositiveIntegerField(null=True, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(default=0)
    issues = models.JSONField(default=list, blank=True)
    validation_queued_at = models.DateTimeField(null=True, blank=True)
    validation_started_at = models.DateTimeField(null=True, blank=True)
    # Checks started and never finished (their worker died): a file that kills every worker that checks
    # it is refused after a few, not queued for ever.
    validation_attempts = models.PositiveSmallIntegerField(default=0)
    validated_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["round", "school"], condition=Q(current=True), name="one_current_return_per_school"
            )
        ]
        indexes = [models.Index(fields=["round", "school", "current"])]
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"

    @property
    def tag_info(self) -> ReturnTag:
        return ReturnTag(self.tag)

    @property
    def is_late(self) -> bool:
        return timezone.localdate(self.sent_at) > self.round.deadline

    @property
    def being_checked(self) -> bool:
        return self.validation == Validation.PENDING

    @property
    def first_issues(self) -> list[dict[str, object]]:
        return list(self.issues[:10])


class ReturnedPupil(models.Model):
    """A pupil a checked CTF holds, with the outcomes read: what the movers check compares."""

    sent_return = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="pupils")
    upn = models.CharField("UPN", max_length=13, db_index=True)
    forename = models.CharField(max_length=100, blank=True)
    surname = models.CharField(max_length=100, blank=True)
    results = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sent_return", "upn"], name="one_pupil_per_return")]

    def __str__(self) -> str:
        return f"{self.forename} {self.surname} ({self.upn})"


class HeadTeacherConfirmation(models.Model):
    """The head teacher's confirmation form of seed 002: moderation done, agreed with the staff."""

    round = models.ForeignKey(ReturnRound, on_delete=models.PROTECT, related_name="confirmations")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+")
    for_return = models.ForeignKey(
        Return,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="confirmations",
        help_text="The school's latest file when the form was signed.",
    )
    moderation_done = models.BooleanField()
    agreed_by_head_and_staff = models.BooleanField()
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=200)
    confirmed_on = models.DateField()
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    signed_by_email = models.CharField(max_length=254, blank=True)
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-signed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.round} confirmed by {self.name} ({self.role})"


class CorrectionRequest(models.Model):
    sent_return = models.ForeignKey(Return, on_delete=models.PROTECT, related_name="corrections")
    message = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by_email = models.CharField(max_length=254, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        Return,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The newer file the school sent in answer.",
    )

    class Meta:
        ordering = ["-requested_at", "-pk"]

    def __str__(self) -> str:
        return f"Correction to {self.sent_return}"

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None


class PublishedReport(models.Model):
    """A report file the LA publishes back to a school (the summary PDF of seed 002)."""

    round = models.ForeignKey(ReturnRound, on_delete=models.PROTECT, related_name="reports")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    filename = models.CharField(max_length=255)
    file = models.FileField(upload_to="la-reports/%Y/%m/", max_length=300)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_by_email = models.CharField(max_length=254, blank=True)
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-published_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.title} for {self.school}"
