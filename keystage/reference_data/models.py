"""Reference data as loaded into this installation: assessment frameworks beyond the shipped ones,
the KS4 qualification catalogue, and a log of every load. The rules live in keystage.core.reference."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class FrameworkVersion(models.Model):
    """A framework file loaded by a platform administrator; it takes precedence over a shipped file
    for the same collection and year."""

    collection = models.CharField(max_length=20)
    from_year = models.PositiveSmallIntegerField()
    content = models.JSONField(help_text="The framework file's contents, as parsed from TOML.")
    source_name = models.CharField(max_length=255)
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["collection", "from_year"], name="one_framework_per_year")
        ]
        ordering = ["collection", "from_year"]

    def __str__(self) -> str:
        return f"{self.collection} from {self.from_year}"


class CTFMappingVersion(models.Model):
    """A CTF assessment mapping loaded by a platform administrator; it takes precedence over a
    shipped one from the same year."""

    from_year = models.PositiveSmallIntegerField(unique=True)
    content = models.JSONField(help_text="The mapping file's contents, as parsed from TOML.")
    source_name = models.CharField(max_length=255)
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["from_year"]
        verbose_name = "CTF assessment mapping"

    def __str__(self) -> str:
        return f"CTF mapping from {self.from_year}"


class DiscountCode(models.Model):
    code = models.CharField(max_length=10, primary_key=True)
    description = models.CharField(max_length=255)

    def __str__(self) -> str:
        return f"{self.code}: {self.description}"


class Qualification(models.Model):
    qan = models.CharField("qualification number", max_length=8, primary_key=True)
    title = models.CharField(max_length=300)
    qualification_type = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=100, blank=True)
    gcse_size = models.FloatField(null=True, blank=True)
    guided_learning_hours = models.FloatField(null=True, blank=True)
    science_indicator = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["qan"]

    def __str__(self) -> str:
        return f"{self.qan} {self.title}"


class QualificationGrade(models.Model):
    qualification = models.ForeignKey(Qualification, on_delete=models.CASCADE, related_name="grades")
    grade = models.CharField(max_length=10)
    text = models.CharField(max_length=100)
    points = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["qualification", "grade"], name="one_points_per_grade")
        ]

    def __str__(self) -> str:
        return f"{self.qualification_id} {self.grade}: {self.points}"


class QualificationYear(models.Model):
    """How a qualification counts in one year's performance tables."""

    qualification = models.ForeignKey(Qualification, on_delete=models.CASCADE, related_name="years")
    year = models.PositiveSmallIntegerField()
    discount_code = models.CharField(max_length=10, blank=True)
    ebacc_pillar = models.CharField(max_length=30, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["qualification", "year"], name="one_entry_per_year")]
        indexes = [models.Index(fields=["year", "discount_code"])]

    def __str__(self) -> str:
        return f"{self.qualification_id} in {self.year}: {self.discount_code or '-'} {self.ebacc_pillar}"


class QualificationSyllabus(models.Model):
    """A syllabus of a qualification listed per syllabus, with its own discount code that year."""

    qualification = models.ForeignKey(Qualification, on_delete=models.CASCADE, related_name="syllabuses")
    year = models.PositiveSmallIntegerField()
    syllabus = models.CharField(max_length=20)
    title = models.CharField(max_length=200, blank=True)
    discount_code = models.CharField(max_length=10)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["qualification", "year", "syllabus"], name="one_code_per_syllabus_year"
            )
        ]

    def __str__(self) -> str:
        return f"{self.qualification_id}/{self.syllabus} in {self.year}: {self.discount_code}"


class ReferenceImport(models.Model):
    """A record of every load: what, from where, by whom, and the rows that could not be read."""

    kind = models.CharField(max_length=40)
    source = models.CharField(max_length=500)
    loaded_at = models.DateTimeField(auto_now_add=True)
    loaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    summary = models.JSONField(default=list)
    problems = models.JSONField(default=list)

    class Meta:
        ordering = ["-loaded_at"]

    def __str__(self) -> str:
        return f"{self.kind} from {self.source} at {self.loaded_at:%Y-%m-%d %H:%M}"


class EstimatesRelease(models.Model):
    """A release of DfE's Progress 8 estimates loaded by platform staff (e.g. a year published after
    this keystage was built), kept as the files were received. It is read with the shipped releases
    and takes the place of one of the same name."""

    release = models.CharField(max_length=20, unique=True, help_text="e.g. 2025prov or 2025rev")
    a8_estimates = models.BinaryField(help_text="a8_estimates_RELEASE.csv as received")
    sd = models.BinaryField(help_text="p8_sd_RELEASE.csv as received")
    pillar_estimates = models.BinaryField(
        blank=True, default=b"", help_text="ebacc_pillar_estimates_RELEASE.csv as received, if given"
    )
    source_names = models.JSONField(default=list, help_text="The names of the files as uploaded.")
    loaded_at = models.DateTimeField(auto_now=True)
    loaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["release"]
        verbose_name = "Progress 8 estimates release"

    def __str__(self) -> str:
        return f"Progress 8 estimates {self.release}"


class PendingStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be applied"
    APPLIED = "applied", "Applied"
    DISCARDED = "discarded", "Discarded"


class PendingReferenceLoad(models.Model):
    """New reference files uploaded by platform staff and previewed, kept in storage until they are
    applied or discarded. ``base`` is what was loaded when the preview was worked out: applying
    refuses once that has changed, since the preview no longer says what would happen."""

    kind = models.CharField(max_length=40)  # "ks4-catalogue" or "ks4-progress8"
    release = models.CharField(max_length=20, blank=True)  # Progress 8: e.g. "2025prov"
    # role ("points", "discount_codes", "ebacc", "a8_estimates", "sd", "pillar_estimates") ->
    # {"name": the file's name in storage, "original": its name as uploaded}
    files = models.JSONField(default=dict)
    preview = models.JSONField(default=dict, help_text="The diff as worked out when the files were uploaded.")
    base = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=PendingStatus.choices, default=PendingStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    applied_as = models.ForeignKey(ReferenceImport, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "pending reference data load"

    def __str__(self) -> str:
        what = f"Progress 8 estimates {self.release}" if self.release else "KS4 qualification catalogue"
        return f"{what} uploaded {self.created_at:%Y-%m-%d %H:%M}"
