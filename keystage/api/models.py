"""Personal API tokens: a script or a school's MIS acts as the person who made the token.

Only a SHA-256 hash of the token is kept; the token itself is shown once, when it is made. A token
carries no roles of its own: every request is checked against its owner's roles at that moment.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, in the owner's words.")
    prefix = models.CharField(max_length=8, help_text="The first characters of the token, to recognise it.")
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the whole token.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} (ks_{self.prefix}…)"

    @property
    def shown(self) -> str:
        """How the token is named on pages: its first characters."""
        return f"ks_{self.prefix}…"

    def is_expired(self, at: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (at or timezone.now())

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired()

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "Revoked"
        if self.is_expired():
            return "Expired"
        return "Active"


class ApiCheck(models.Model):
    """A file checked through POST /api/v1/validate: a small one in the request, a larger one by the
    background worker while the caller polls. The per-person limits count these. A queued check keeps
    its file only until it is checked (services.API_CHECKS); the outcome is kept a day, for the caller
    to read."""

    class Status(models.TextChoices):
        CHECKING = "checking", "Being checked"
        DONE = "done", "Checked"
        FAILED = "failed", "Could not be checked"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_checks")
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CHECKING)
    queued = models.BooleanField(default=False, help_text="Checked by the background worker.")
    kind = models.CharField(max_length=20, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    school = models.ForeignKey("organisations.School", null=True, blank=True, on_delete=models.SET_NULL)
    file = models.FileField(upload_to="api-checks/", blank=True)
    outcome = models.JSONField(null=True, blank=True, help_text="The check's answer, as the API gives it.")
    answer_status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="200, 409 or 422.")
    # A queued check's life, as the worker's checks of uploads and LA returns have it (stored_checks).
    validation_queued_at = models.DateTimeField(null=True, blank=True)
    validation_started_at = models.DateTimeField(null=True, blank=True)
    # Checks of this file started and never finished (their worker died): a file that kills every
    # worker that checks it is refused after a few, not queued for ever.
    validation_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = "API file check"

    def __str__(self) -> str:
        return f"check {self.pk} by {self.user_id} at {self.started_at:%Y-%m-%d %H:%M:%S}"
