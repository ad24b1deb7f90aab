"""The audit log: who did what, in which organisation, when and from where. Rows are never edited."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    LOGIN_SUCCEEDED = "login_succeeded", "Signed in"
    LOGIN_FAILED = "login_failed", "Sign-in failed"
    LOGIN_THROTTLED = "login_throttled", "Sign-in refused (too many failures)"
    LOGOUT = "logout", "Signed out"
    PASSWORD_RESET_REQUESTED = "password_reset_requested", "Asked for a password reset link"
    PASSWORD_RESET = "password_reset", "Set a new password from a reset link"
    INVITATION_SENT = "invitation_sent", "Invited a user"
    INVITATION_RESENT = "invitation_resent", "Re-sent an invitation"
    INVITATION_CANCELLED = "invitation_cancelled", "Cancelled an invitation"
    INVITATION_ACCEPTED = "invitation_accepted", "Accepted an invitation"
    ROLES_CHANGED = "roles_changed", "Changed a user's roles"
    ACCESS_REVOKED = "access_revoked", "Removed a user's access"
    ROSTER_IMPORTED = "roster_imported", "Imported a pupil roster"
    COLLECTION_CREATED = "collection_created", "Opened a results collection"
    TEMPLATE_DOWNLOADED = "template_downloaded", "Downloaded a results template"
    RESULTS_UPLOADED = "results_uploaded", "Uploaded results"
    UPLOAD_CONFIRMED = "upload_confirmed", "Confirmed a results submission"
    UPLOAD_DELETED = "upload_deleted", "Deleted an upload"
    UPLOAD_DOWNLOADED = "upload_downloaded", "Downloaded an uploaded file"
    DEADLINE_COLLECTED = "deadline_collected", "Collected results at a deadline"
    RETURN_SENT = "return_sent", "Sent a file to the local authority"
    RETURN_CONFIRMED = "return_confirmed", "Confirmed a return to the local authority"
    RETURN_DOWNLOADED = "return_downloaded", "Downloaded a file sent to the local authority"
    RETURN_VALIDATED = "return_validated", "Validated a return"
    CORRECTION_REQUESTED = "correction_requested", "Asked a school for a correction"
    REPORT_PUBLISHED = "report_published", "Published a report to a school"
    API_TOKEN_CREATED = "api_token_created", "Created an API token"
    API_TOKEN_REVOKED = "api_token_revoked", "Revoked an API token"
    PUPILS_VIEWED = "pupils_viewed", "Viewed pupil-level results"
    REPORT_DOWNLOADED = "report_downloaded", "Downloaded pupil-level results"
    TWO_FACTOR_ENROLLED = "two_factor_enrolled", "Set up two-factor sign-in"
    TWO_FACTOR_FAILED = "two_factor_failed", "Two-factor code refused"
    TWO_FACTOR_VERIFIED = "two_factor_verified", "Passed two-factor sign-in"
    RECOVERY_CODE_USED = "recovery_code_used", "Signed in with a recovery code"
    RECOVERY_CODES_RENEWED = "recovery_codes_renewed", "Made new recovery codes"
    TWO_FACTOR_RESET = "two_factor_reset", "Reset a user's two-factor sign-in"
    SUBJECT_ACCESS_EXPORTED = "subject_access_exported", "Exported one pupil's data (subject access)"
    RETENTION_PURGED = "retention_purged", "Deleted data past its retention period"
    REFERENCE_LOADED = "reference_loaded", "Loaded new reference data"
    ORGANISATIONS_IMPORTED = "organisations_imported", "Imported organisations from GIAS"


class AuditEvent(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Kept as text so the record survives the account, and records failed sign-ins by unknown emails.
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    subject = models.CharField(max_length=300, blank=True, help_text="Who or what the action was done to.")
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organisation", "-created_at"]),
            models.Index(fields=["action", "actor_email", "created_at"]),
            models.Index(fields=["action", "ip_address", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email} {self.get_action_display()}"
