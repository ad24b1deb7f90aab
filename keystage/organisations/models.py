"""Local authorities, multi-academy trusts and schools.

Every kind shares one Organisation row (multi-table inheritance) so that memberships and the
audit log point at "an organisation" whatever its kind.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from keystage.core import identifiers, year_groups
from keystage.core.roles import OrgKind


class Organisation(models.Model):
    kind = models.CharField(max_length=8, choices=[(k.value, k.label) for k in OrgKind], editable=False)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def org_kind(self) -> OrgKind:
        return OrgKind(self.kind)

    def specific(self) -> LocalAuthority | Trust | School:
        """This organisation as its own kind, with its own fields."""
        if isinstance(self, LocalAuthority | Trust | School):
            return self
        if self.org_kind is OrgKind.LOCAL_AUTHORITY:
            return LocalAuthority.objects.get(pk=self.pk)
        if self.org_kind is OrgKind.TRUST:
            return Trust.objects.get(pk=self.pk)
        return School.objects.get(pk=self.pk)

    def schools(self) -> models.QuerySet[School]:
        """The schools this organisation answers for: itself, or those of its trust or LA."""
        if self.org_kind is OrgKind.SCHOOL:
            return School.objects.filter(pk=self.pk)
        if self.org_kind is OrgKind.TRUST:
            return School.objects.filter(trust_id=self.pk)
        return School.objects.filter(la_id=self.pk)

    @property
    def identifier(self) -> str:
        """The code people know the organisation by: LA code, DfE number or company number."""
        specific = self.specific()
        if isinstance(specific, LocalAuthority):
            return f"LA {specific.code}"
        if isinstance(specific, School):
            return f"DfE {specific.dfe_number}"
        return f"Company {specific.companies_house_number}" if specific.companies_house_number else ""


def _check(func: Any, value: str, field: str, **kwargs: Any) -> str:
    try:
        return str(func(value, **kwargs))
    except identifiers.InvalidIdentifierError as error:
        raise ValidationError({field: str(error)}) from None


class LocalAuthority(Organisation):
    organisation_ptr = models.OneToOneField(
        Organisation,
        on_delete=models.CASCADE,
        parent_link=True,
        primary_key=True,
        related_name="as_local_authority",
    )
    code = models.CharField("LA code", max_length=3, unique=True)

    class Meta:
        verbose_name = "local authority"
        verbose_name_plural = "local authorities"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.kind = OrgKind.LOCAL_AUTHORITY.value
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.code = _check(identifiers.la_code, self.code, "code")


class Trust(Organisation):
    organisation_ptr = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, parent_link=True, primary_key=True, related_name="as_trust"
    )
    companies_house_number = models.CharField(max_length=8, blank=True, null=True, unique=True)
    gias_uid = models.CharField(
        "GIAS group UID",
        max_length=20,
        blank=True,
        null=True,
        unique=True,
        help_text="The trust's group UID in Get Information about Schools (its Trusts (code)).",
    )

    class Meta:
        verbose_name = "multi-academy trust"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.kind = OrgKind.TRUST.value
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.gias_uid = (self.gias_uid or "").strip() or None
        if self.companies_house_number:
            self.companies_house_number = _check(
                identifiers.companies_house_number, self.companies_house_number, "companies_house_number"
            )
        else:
            self.companies_house_number = None


class SchoolManager(models.Manager["School"]):
    def by_dfe_number(self, number: str) -> School | None:
        """The school with this DfE number: the open one, else the one that closed last. A DfE number
        moves to a school's successor (an academy conversion gives a new URN) and the predecessor keeps
        it in its history, so only one open school holds it at a time."""
        return (
            self.get_queryset()
            .filter(dfe_number=number)
            .order_by("-is_open", models.F("closed_on").desc(nulls_last=True), "-pk")
            .first()
        )


class School(Organisation):
    organisation_ptr = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, parent_link=True, primary_key=True, related_name="as_school"
    )

    class Phase(models.TextChoices):
        NURSERY = "nursery", "Nursery"
        PRIMARY = "primary", "Primary"
        MIDDLE = "middle", "Middle"
        SECONDARY = "secondary", "Secondary"
        SIXTEEN_PLUS = "sixteen_plus", "16 plus"
        ALL_THROUGH = "all_through", "All-through"
        SPECIAL = "special", "Special"

    class Type(models.TextChoices):
        MAINTAINED = "maintained", "Maintained"
        ACADEMY = "academy", "Academy"
        FREE_SCHOOL = "free_school", "Free school"
        INDEPENDENT = "independent", "Independent"

    urn = models.CharField("URN", max_length=6, unique=True)
    # Unique among open schools (Meta.constraints): a closed predecessor keeps the number its
    # successor now holds.
    dfe_number = models.CharField("DfE number", max_length=7, db_index=True)
    phase = models.CharField(max_length=12, choices=Phase.choices)
    school_type = models.CharField("type", max_length=12, choices=Type.choices)
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="la_schools")
    trust = models.ForeignKey(
        Trust, on_delete=models.SET_NULL, null=True, blank=True, related_name="trust_schools"
    )
    statutory_low_age = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The youngest age the school is for (GIAS's StatutoryLowAge)."
    )
    statutory_high_age = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The oldest age the school is for (GIAS's StatutoryHighAge)."
    )
    establishment_type = models.CharField(
        max_length=100, blank=True, help_text="GIAS's type of establishment, e.g. Academy converter."
    )
    is_open = models.BooleanField(
        "open",
        default=True,
        help_text="A closed school keeps its history but takes part in no new collection.",
    )
    closed_on = models.DateField(null=True, blank=True)

    objects: ClassVar[SchoolManager] = SchoolManager()

    class Meta:
        # Open schools first, so that a lookup by DfE number that takes the first finds the open one.
        ordering = ["-is_open", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["dfe_number"],
                condition=models.Q(is_open=True),
                name="school_dfe_number_unique_while_open",
                violation_error_message="Another open school has this DfE number.",
            )
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.kind = OrgKind.SCHOOL.value
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        for field, func in (("urn", identifiers.urn), ("dfe_number", identifiers.dfe_number)):
            try:
                setattr(self, field, func(getattr(self, field)))
            except identifiers.InvalidIdentifierError as error:
                errors[field] = str(error)
        low, high = self.statutory_low_age, self.statutory_high_age
        if low is not None and high is not None and low > high:
            errors["statutory_high_age"] = f"The oldest age ({high}) is below the youngest ({low})."
        if "dfe_number" not in errors and self.la_id is not None:
            try:
                identifiers.dfe_number(self.dfe_number, la=self.la.code)
            except identifiers.InvalidIdentifierError as error:
                errors["dfe_number"] = str(error)
        if errors:
            raise ValidationError(errors)

    @property
    def establishment_number(self) -> str:
        return self.dfe_number[3:]

    @property
    def year_groups(self) -> frozenset[int]:
        """The NC years the school teaches (0 is Reception), from its age range or else its phase."""
        return year_groups.taught(self.statutory_low_age, self.statutory_high_age, self.phase)

    def takes_part_in(self, nc_years: tuple[int, ...]) -> bool:
        """Whether a collection or return of pupils in ``nc_years`` is for this school: it is open and
        teaches one of those years."""
        return self.is_open and year_groups.takes_part(self.year_groups, nc_years)


class GIASImport(models.Model):
    """One upload of GIAS's establishment file by platform staff, imported by a worker."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Importing"
        SUCCEEDED = "succeeded", "Imported"
        FAILED = "failed", "Not imported"

    file = models.FileField(upload_to="gias/", max_length=255, blank=True)
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    include_independent = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.CharField(max_length=300, blank=True)
    # Counts, the summary's lines and what changed per school (JSON: never NaN).
    summary = models.JSONField(default=dict, blank=True)
    # Every problem that stopped the import: [{row, column, value, message}], the first MAX_PROBLEMS.
    problems = models.JSONField(default=list, blank=True)
    problem_count = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_by_email = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    MAX_PROBLEMS = 1000

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "GIAS import"

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display().lower()})"

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}
