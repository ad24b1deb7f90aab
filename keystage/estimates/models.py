"""A fitted set of estimates: one transition (e.g. KS2 to KS4) fitted on the national data of one or more
years, its models, ambition levels and calibration report stored as JSON (``keystage.core.estimates``).

A fit is queued (by an administrator or the command), running, then complete or failed. Pages score
pupils with the newest complete fit of a transition, so a new fit takes over only once it is whole.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from keystage.core.results.kinds import academic_year_name


class Transition(models.TextChoices):
    KS2_KS4 = "ks2-ks4", "KS2 to KS4"
    KS1_KS2 = "ks1-ks2", "KS1 to KS2"
    KS4_KS5 = "ks4-ks5", "KS4 to KS5"


class FitStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETE = "complete", "Complete"
    FAILED = "failed", "Failed"


class EstimatesFit(models.Model):
    transition = models.CharField(max_length=10, choices=Transition.choices, default=Transition.KS2_KS4)
    years = models.JSONField(
        help_text="The academic years (by their end) whose national data it is fitted on."
    )
    contextual = models.BooleanField(
        default=False, help_text="Whether disadvantage is one of its covariates."
    )
    status = models.CharField(max_length=10, choices=FitStatus.choices, default=FitStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(
        max_length=20, blank=True, help_text="What started it: the page or the command."
    )
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    pupils = models.PositiveIntegerField(
        default=0, help_text="Pupils with prior attainment it was fitted on."
    )
    schools = models.PositiveIntegerField(default=0)
    background = models.CharField(
        max_length=200, blank=True, help_text="Synthetic backgrounds counted, if any."
    )
    outcomes = models.JSONField(
        default=list, help_text="Each outcome's fitted model (FittedOutcome.to_dict)."
    )
    skipped = models.JSONField(default=list, help_text="Outcomes the data could not fit, with the reason.")
    message = models.TextField(blank=True, help_text="Why a fit failed.")
    task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            # A double click (or two administrators) queues one fit of the same thing.
            models.UniqueConstraint(
                fields=["transition", "contextual"],
                condition=Q(status__in=["queued", "running"]),
                name="one_waiting_estimates_fit",
            )
        ]

    def __str__(self) -> str:
        years = ", ".join(academic_year_name(y) for y in self.years)
        kind = " (contextual)" if self.contextual else ""
        return f"{self.get_transition_display()}{kind} on {years}: fit {self.pk} ({self.status})"

    @property
    def is_complete(self) -> bool:
        """Fitted whole: pages score pupils with it."""
        return self.status == FitStatus.COMPLETE


class Ks5Dataset(models.Model):
    """A year's national KS5 (A level) outcomes, imported from a file in the documented format
    (``keystage.core.estimates.ks5``), checked, and kept as Parquet for fitting KS4 to KS5 estimates."""

    year = models.PositiveSmallIntegerField(
        unique=True, help_text="The academic year of the A levels, by its end."
    )
    file = models.FileField(upload_to="estimates/ks5/", max_length=300)
    source = models.CharField(max_length=300, help_text="The file it was imported from.")
    results = models.PositiveIntegerField()
    students = models.PositiveIntegerField()
    institutions = models.PositiveIntegerField()
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-year"]

    def __str__(self) -> str:
        counts = f"{self.students:,} students, {self.results:,} A levels"
        return f"KS5 outcomes {academic_year_name(self.year)}: {counts}"
