"""A report PDF too big to draw within a request: queued, drawn by the worker, kept for its requester."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from keystage.organisations.models import Organisation
from keystage.returns.models import ReturnRound


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Being prepared"
    READY = "ready", "Ready"
    FAILED = "failed", "Could not be prepared"


class ReportExport(models.Model):
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    # The report's own address and query: the worker draws it as the requester, so every check of role
    # and organisation runs again when it is drawn.
    path = models.CharField(max_length=2000)
    title = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    file = models.FileField(upload_to="report-exports/%Y/%m/", max_length=300, blank=True)
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    message = models.TextField(blank=True)
    # Pupil-level (names or UPNs): each download of it goes in the audit log.
    personal = models.BooleanField(default=False)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["requested_by", "path"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"

    @property
    def is_queued(self) -> bool:
        return self.status == ExportStatus.QUEUED

    @property
    def is_ready(self) -> bool:
        return self.status == ExportStatus.READY

    @property
    def downloadable(self) -> bool:
        """Drawn and its file kept."""
        return self.is_ready and bool(self.file)


@receiver(post_delete, sender=ReportExport)
def _export_file_goes_too(sender: type[ReportExport], instance: ReportExport, **kwargs: object) -> None:
    """A PDF of pupils' data is not left on disk when its record goes (pruned, or its person deleted)."""
    if instance.file:
        instance.file.delete(save=False)


class SummaryPublication(models.Model):
    """An LA publishing each school's summary report of a return round's key stage back to the school
    (seed 002): queued by the LA, drawn and published by the worker, one PDF per school with figures."""

    round = models.ForeignKey(ReturnRound, on_delete=models.CASCADE, related_name="+")
    key_stage = models.CharField(max_length=10)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    published = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Summary reports of {self.round} ({self.get_status_display()})"

    @property
    def is_queued(self) -> bool:
        return self.status == ExportStatus.QUEUED

    @property
    def is_ready(self) -> bool:
        return self.status == ExportStatus.READY
