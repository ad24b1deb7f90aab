"""Results collections: a kind of collection in an academic year with its window, the files
schools upload to it, and the pupils and results that a valid upload holds.

An upload's life: Processing (validation queued or running) -> Upload error, or Successful
(valid, awaiting confirmation) -> confirmed: in use (the tick), and the one in use before it
Overwritten. Deleted keeps the row, not the file. At each deadline the upload in use is frozen.
"""

from __future__ import annotations

from datetime import date, datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from keystage.core.results.kinds import KINDS, CollectionKind, academic_year_name
from keystage.organisations.models import School


class Collection(models.Model):
    kind = models.CharField(max_length=20, choices=[(k.key, k.title) for k in KINDS.values()])
    year = models.PositiveSmallIntegerField(
        help_text="The year the academic year ends, e.g. 2026 for 2025/26."
    )
    opens_at = models.DateTimeField()
    provisional_deadline = models.DateTimeField()
    final_deadline = models.DateTimeField()
    provisional_reports_due = models.DateField(null=True, blank=True)
    final_reports_due = models.DateField(null=True, blank=True)
    terms = models.TextField(help_text="The terms a school agrees to when it confirms a submission.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "year"], name="one_collection_per_kind_and_year"),
            models.CheckConstraint(
                condition=Q(opens_at__lt=models.F("provisional_deadline"))
                & Q(provisional_deadline__lte=models.F("final_deadline")),
                name="collection_window_in_order",
            ),
        ]
        ordering = ["-year", "kind"]

    def __str__(self) -> str:
        return f"{self.kind_info.title} {academic_year_name(self.year)}"

    @property
    def kind_info(self) -> CollectionKind:
        return KINDS[self.kind]

    @property
    def title(self) -> str:
        return str(self)

    def is_open(self, at: datetime | None = None) -> bool:
        at = at or timezone.now()
        return self.opens_at <= at <= self.final_deadline

    def report_due(self, at: datetime | None = None) -> date | None:
        """When reports from an upload made at ``at`` are due: after the next deadline."""
        at = at or timezone.now()
        return self.provisional_reports_due if at <= self.provisional_deadline else self.final_reports_due


class UploadStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    ERROR = "error", "Upload error"
    SUCCESSFUL = "successful", "Successful"
    REPORTS = "reports", "Reports available"
    OVERWRITTEN = "overwritten", "Overwritten"
    DELETED = "deleted", "Deleted"


class Upload(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="uploads")
    school = models.ForeignKey(
        School, on_delete=models.PROTECT, related_name="uploads", null=True, blank=True
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    uploaded_by_email = models.CharField(max_length=254, blank=True)
    uploaded_at = models.DateTimeField(default=timezone.now, db_index=True)
    via_organisation = models.ForeignKey(
        "organisations.Organisation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The trust that uploaded it in a bulk upload, if any.",
    )
    batch = models.CharField(max_length=32, blank=True, help_text="Bulk uploads made together share a batch.")
    filename = models.CharField(max_length=255)
    file = models.FileField(upload_to="uploads/%Y/%m/", max_length=300, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    file_format = models.CharField(max_length=8, blank=True)
    status = models.CharField(max_length=12, choices=UploadStatus.choices, default=UploadStatus.PROCESSING)
    pupil_count = models.PositiveIntegerField(null=True, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(default=0)
    issues = models.JSONField(default=list, blank=True)
    error_workbook = models.FileField(upload_to="error-workbooks/%Y/%m/", max_length=300, blank=True)
    validation_queued_at = models.DateTimeField(null=True, blank=True)
    validation_started_at = models.DateTimeField(null=True, blank=True)
    # Checks of this upload started and never finished (their worker died): a file that kills every
    # worker that checks it is refused after a few, not queued for ever.
    validation_attempts = models.PositiveSmallIntegerField(default=0)
    validated_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    in_use = models.BooleanField(default=False, help_text="The school's confirmed upload that counts now.")
    overwritten_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "school"], condition=Q(in_use=True), name="one_upload_in_use_per_school"
            )
        ]
        indexes = [models.Index(fields=["collection", "school", "status"])]
        ordering = ["-uploaded_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"

    @property
    def report_due(self) -> date | None:
        return self.collection.report_due(self.uploaded_at)

    @property
    def can_download(self) -> bool:
        return self.status != UploadStatus.DELETED and bool(self.file)

    @property
    def first_error(self) -> str:
        """The message of the file's first error ("" with none), for a list of files."""
        return next((i.get("message", "") for i in self.issues or [] if i.get("severity") == "error"), "")


class Deadline(models.TextChoices):
    PROVISIONAL = "provisional", "Provisional deadline"
    FINAL = "final", "Final deadline"


class FrozenSubmission(models.Model):
    """The upload of a school that a deadline's data collection took."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="frozen")
    deadline = models.CharField(max_length=12, choices=Deadline.choices)
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+")
    upload = models.ForeignKey(Upload, on_delete=models.PROTECT, related_name="frozen_as")
    frozen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "deadline", "school"], name="one_frozen_upload_per_deadline"
            )
        ]

    def __str__(self) -> str:
        return f"{self.collection} {self.deadline}: upload {self.upload_id}"


class DeadlineRun(models.Model):
    """A deadline's data collection, once it has run."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="runs")
    deadline = models.CharField(max_length=12, choices=Deadline.choices)
    ran_at = models.DateTimeField(default=timezone.now)
    schools = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["collection", "deadline"], name="one_run_per_deadline")
        ]

    def __str__(self) -> str:
        return f"{self.collection} {self.deadline} collected at {self.ran_at:%Y-%m-%d %H:%M}"


class SubmittedPupil(models.Model):
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="pupils")
    row = models.PositiveIntegerField(help_text="Where the pupil was in the file (row, or place in a CTF).")
    upn = models.CharField("UPN", max_length=13)
    forename = models.CharField(max_length=100)
    surname = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True)
    sex = models.CharField(max_length=1)
    nc_year = models.SmallIntegerField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["upload", "upn"], name="one_pupil_per_upload")]
        ordering = ["row"]

    def __str__(self) -> str:
        return f"{self.forename} {self.surname} ({self.upn})"


class Result(models.Model):
    """One pupil's result in one subject or assessment, as a valid upload gave it."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="results")
    pupil = models.ForeignKey(SubmittedPupil, on_delete=models.CASCADE, related_name="results")
    subject = models.CharField(max_length=40, help_text="The assessment code, or the QAN for KS4.")
    qan = models.CharField(max_length=8, blank=True)
    discount_code = models.CharField(max_length=20, blank=True)
    value = models.CharField(max_length=10)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pupil", "subject"], name="one_result_per_subject")]
        indexes = [models.Index(fields=["upload", "subject"])]

    def __str__(self) -> str:
        return f"{self.subject}: {self.value}"


class TemplateDownload(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+")
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    downloaded_at = models.DateTimeField(default=timezone.now)
    pupils = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-downloaded_at"]

    def __str__(self) -> str:
        return f"{self.collection} template for school {self.school_id}"
