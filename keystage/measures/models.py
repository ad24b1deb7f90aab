"""Stored measures: each computation is a run, with its school and national figures and every pupil's
figures and explanation, so reports read them without recomputing.

A run is queued (by a confirmed upload), running, then complete or failed. Its figures are written in
one transaction together with the change to complete, so a reader never sees half a run; reports read
the latest complete run of a key stage and year (``keystage.measures.services.latest_run``).

KS4 figures are columns rather than one JSON value: the set of measures is fixed by DfE's methodology,
and reports sort, filter and count by them in the database (an LA's schools by Progress 8, how many are
well below), which JSON values would make slow and untyped. Primary figures (EYFSP, phonics, KS1, KS2)
are one JSON object per row instead, because their measures follow each year's framework. Readers
need not know which: both rows answer ``measure(key)`` with a StoredMeasure, and ``figure_model``
names the table of a key stage's figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from django.db import models
from django.db.models import Q

from keystage.core.reports.catalogue import KS4_KS1_VA_MEASURES
from keystage.organisations.models import Organisation, School


@dataclass(frozen=True)
class StoredMeasure:
    """One measure of a stored figure row, whichever key stage's: the figure, whom it counts, and what
    goes with it where the measure has it (an interval, significance, banding, the school's place)."""

    figure: float | None
    pupils: int
    ci_low: float | None = None
    ci_high: float | None = None
    significance: str = ""
    banding: str = ""
    percentile: int | None = None
    quintile: int | None = None
    # KS1-based value added: the pupils left out with no KS1 assessment, and for another reason.
    left_out: tuple[int, int] | None = None


class KeyStage(models.TextChoices):
    EYFSP = "eyfsp", "EYFSP"
    PHONICS = "phonics", "Phonics"
    KS1 = "ks1", "KS1"
    KS2 = "ks2", "KS2"
    KS4 = "ks4", "KS4"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETE = "complete", "Complete"
    FAILED = "failed", "Failed"


class MeasureRun(models.Model):
    key_stage = models.CharField(max_length=8, choices=KeyStage.choices, default=KeyStage.KS4)
    year = models.PositiveSmallIntegerField(help_text="The academic year by its end, e.g. 2026 for 2025/26.")
    school = models.ForeignKey(
        School,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Set when only this school's figures were stored; empty for every school.",
    )
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    source = models.CharField(max_length=20, blank=True, help_text="What started it: refresh or command.")
    estimates = models.CharField(
        max_length=120, blank=True, help_text="KS4: the label of the estimates used; primary: the framework."
    )
    points_year = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The catalogue year the results were scored with."
    )
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True, help_text="When the figures were stored.")
    duration = models.DurationField(null=True, blank=True)
    pupils = models.PositiveIntegerField(default=0)
    schools = models.PositiveIntegerField(default=0)
    pupils_adjusted = models.PositiveIntegerField(
        default=0, help_text="Pupils whose Progress 8 was raised to their group's floor."
    )
    subjects_basis = models.CharField(
        max_length=200, blank=True, help_text="What subject value added was measured against."
    )
    task_id = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True, help_text="Why a run failed.")
    national_pupils = models.PositiveIntegerField(
        default=0, help_text="Pupils the national figures count (the platform's and any background)."
    )
    national_schools = models.PositiveIntegerField(default=0)
    background = models.CharField(
        max_length=200, blank=True, help_text="The synthetic background counted nationally, if any."
    )
    ks1_groups = models.JSONField(
        null=True,
        blank=True,
        help_text="KS4 in a year without Progress 8: the national KS1 groups keystage's KS1-based value "
        "added was measured against (keystage.core.measures.ks4.ks1_value_added.Ks1Groups.to_json).",
    )

    class Meta:
        constraints = [
            # The debounce: at most one refresh waits to start per key stage and year.
            models.UniqueConstraint(
                fields=["key_stage", "year"],
                condition=Q(status="queued"),
                name="one_queued_measure_run_per_year",
            )
        ]
        indexes = [models.Index(fields=["key_stage", "year", "status", "computed_at"])]
        ordering = ["-pk"]

    def __str__(self) -> str:
        scope = f" school {self.school_id}" if self.school_id else ""
        return f"{self.get_key_stage_display()} {self.year}{scope} run {self.pk} ({self.status})"


_Figure = TypeVar("_Figure", bound=models.Model)


class FigureQuerySet(models.QuerySet[_Figure]):
    def national(self) -> FigureQuerySet[_Figure]:
        """The nation's rows: neither a school's nor a trust's or LA's."""
        return self.filter(school__isnull=True, organisation__isnull=True)


class SchoolFigure(models.Model):
    """One school's figures for one pupil group value, e.g. ("all", "all"), ("disadvantaged",
    "disadvantaged"), ("sex", "female"); or a trust's or LA's (``organisation`` set, no school: the
    same measures over the pupils of all its schools); or, with neither, the nation's."""

    run = models.ForeignKey(MeasureRun, on_delete=models.CASCADE, related_name="school_figures")
    school = models.ForeignKey(School, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The trust or LA of an aggregate row; empty for school and national rows.",
    )
    group = models.CharField(max_length=30)
    value = models.CharField(max_length=40)
    cohort = models.PositiveIntegerField()
    p8_pupils = models.PositiveIntegerField()
    not_counted = models.JSONField(
        default=list,
        blank=True,
        help_text='A school\'s ("all" row only) results not counted in performance measures at all, per '
        "reason: reason, results, pupils. Kept with the school so a trust, LA or the nation adds up "
        "its schools' rows rather than reading every pupil.",
    )
    a8 = models.FloatField(null=True)
    a8_english = models.FloatField(null=True)
    a8_maths = models.FloatField(null=True)
    a8_ebacc = models.FloatField(null=True)
    a8_open = models.FloatField(null=True)
    p8 = models.FloatField(null=True, help_text="The mean of pupils' adjusted Progress 8: the headline.")
    p8_unadjusted = models.FloatField(null=True)
    p8_english = models.FloatField(null=True)
    p8_maths = models.FloatField(null=True)
    p8_ebacc = models.FloatField(null=True)
    p8_open = models.FloatField(null=True)
    p8_ci_low = models.FloatField(null=True)
    p8_ci_high = models.FloatField(null=True)
    p8_english_ci_low = models.FloatField(null=True)
    p8_english_ci_high = models.FloatField(null=True)
    p8_maths_ci_low = models.FloatField(null=True)
    p8_maths_ci_high = models.FloatField(null=True)
    p8_ebacc_ci_low = models.FloatField(null=True)
    p8_ebacc_ci_high = models.FloatField(null=True)
    p8_open_ci_low = models.FloatField(null=True)
    p8_open_ci_high = models.FloatField(null=True)
    banding = models.CharField(max_length=12, blank=True)
    significance = models.CharField(max_length=16, blank=True)
    pupils_adjusted = models.PositiveIntegerField(default=0)
    ebacc_entry = models.FloatField(null=True, help_text="Share of the cohort entered, 0 to 1.")
    ebacc_aps = models.FloatField(null=True)
    em_4plus = models.FloatField(null=True, help_text="Share with grade 4 or above in English and maths.")
    em_5plus = models.FloatField(null=True, help_text="Share with grade 5 or above in English and maths.")
    # keystage's KS1-based value added (not DfE's Progress 8), in the years DfE publishes no Progress 8
    # (keystage.core.measures.ks4.prior_attainment); empty in every other year.
    ks1_va_pupils = models.PositiveIntegerField(default=0, help_text="Pupils in the KS1-based value added.")
    ks1_none = models.PositiveIntegerField(default=0, help_text="Pupils with no KS1 assessment.")
    ks1_other = models.PositiveIntegerField(
        default=0, help_text="Pupils not in the KS1-based value added for another reason (no point score)."
    )
    ks1_va = models.FloatField(null=True)
    ks1_va_ci_low = models.FloatField(null=True)
    ks1_va_ci_high = models.FloatField(null=True)
    ks1_va_english = models.FloatField(null=True)
    ks1_va_english_ci_low = models.FloatField(null=True)
    ks1_va_english_ci_high = models.FloatField(null=True)
    ks1_va_maths = models.FloatField(null=True)
    ks1_va_maths_ci_low = models.FloatField(null=True)
    ks1_va_maths_ci_high = models.FloatField(null=True)
    ks1_va_ebacc = models.FloatField(null=True)
    ks1_va_ebacc_ci_low = models.FloatField(null=True)
    ks1_va_ebacc_ci_high = models.FloatField(null=True)
    ks1_va_open = models.FloatField(null=True)
    ks1_va_open_ci_low = models.FloatField(null=True)
    ks1_va_open_ci_high = models.FloatField(null=True)
    ks1_va_significance = models.CharField(max_length=16, blank=True)
    # The school's place among all schools by all-pupil P8 (on its ("all", "all") row only).
    rank = models.PositiveIntegerField(null=True)
    percentile = models.PositiveSmallIntegerField(null=True)
    quintile = models.PositiveSmallIntegerField(null=True)

    objects = FigureQuerySet["SchoolFigure"].as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "school", "group", "value"],
                condition=Q(school__isnull=False),
                name="one_school_figure_per_group_value",
            ),
            models.UniqueConstraint(
                fields=["run", "organisation", "group", "value"],
                condition=Q(organisation__isnull=False),
                name="one_aggregate_figure_per_group_value",
            ),
            models.UniqueConstraint(
                fields=["run", "group", "value"],
                condition=Q(school__isnull=True, organisation__isnull=True),
                name="one_national_figure_per_group_value",
            ),
        ]
        indexes = [models.Index(fields=["run", "school"]), models.Index(fields=["run", "organisation"])]

    def __str__(self) -> str:
        return f"{_where(self)} {self.group}={self.value}: A8 {self.a8}, P8 {self.p8}"

    def measure(self, key: str) -> StoredMeasure:
        """The measure ``key`` (a column: p8, a8_english, ks1_va, ...) with its pupils and extras."""
        if key in KS4_KS1_VA_MEASURES:  # their pupils, intervals and significance are columns of their own
            return StoredMeasure(
                getattr(self, key),
                self.ks1_va_pupils,
                ci_low=getattr(self, f"{key}_ci_low"),
                ci_high=getattr(self, f"{key}_ci_high"),
                significance=self.ks1_va_significance if key == "ks1_va" else "",
                left_out=(self.ks1_none, self.ks1_other),
            )
        if not key.startswith("p8"):
            return StoredMeasure(getattr(self, key), self.cohort)
        if key == "p8_unadjusted":
            return StoredMeasure(getattr(self, key), self.p8_pupils)
        suffix = key[2:]  # "" for P8, "_english" for its English element
        low, high = getattr(self, f"p8{suffix}_ci_low"), getattr(self, f"p8{suffix}_ci_high")
        if key != "p8":
            return StoredMeasure(getattr(self, key), self.p8_pupils, ci_low=low, ci_high=high)
        return StoredMeasure(
            getattr(self, key),
            self.p8_pupils,
            ci_low=low,
            ci_high=high,
            significance=self.significance,
            banding=self.banding,
            percentile=self.percentile,
            quintile=self.quintile,
        )


def _where(figure: SchoolFigure | SubjectFigure | PrimaryFigure) -> str:
    if figure.school_id:
        return f"school {figure.school_id}"
    if figure.organisation_id:
        return f"organisation {figure.organisation_id}"
    return "national"


class SubjectFigure(models.Model):
    """One subject's figures (keystage.core.measures.ks4.subjects) for a school, a trust or LA
    (``organisation``) or the nation (neither), and one pupil group value."""

    run = models.ForeignKey(MeasureRun, on_delete=models.CASCADE, related_name="subject_figures")
    school = models.ForeignKey(School, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    group = models.CharField(max_length=30)
    value = models.CharField(max_length=40)
    subject = models.CharField(
        max_length=20, help_text="DfE's discount code, or the QAN of a qualification without one."
    )
    subject_name = models.CharField(max_length=300)
    cohort = models.PositiveIntegerField(help_text="Pupils in the group value.")
    entries = models.PositiveIntegerField()
    entry_share = models.FloatField(help_text="Share of the cohort entered, 0 to 1.")
    average_points = models.FloatField()
    va_pupils = models.PositiveIntegerField(help_text="Entries whose pupil has a prior attainment group.")
    va = models.FloatField(null=True, help_text="Mean subject value added, in points.")
    va_ci_low = models.FloatField(null=True)
    va_ci_high = models.FloatField(null=True)
    significance = models.CharField(max_length=16, blank=True)
    grades = models.JSONField(
        null=True,
        blank=True,
        help_text="[grade, entries] for each grade entered, highest points first; all-pupil rows only.",
    )

    objects = FigureQuerySet["SubjectFigure"].as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "school", "group", "value", "subject"],
                condition=Q(school__isnull=False),
                name="one_school_subject_figure",
            ),
            models.UniqueConstraint(
                fields=["run", "organisation", "group", "value", "subject"],
                condition=Q(organisation__isnull=False),
                name="one_aggregate_subject_figure",
            ),
            models.UniqueConstraint(
                fields=["run", "group", "value", "subject"],
                condition=Q(school__isnull=True, organisation__isnull=True),
                name="one_national_subject_figure",
            ),
        ]
        indexes = [models.Index(fields=["run", "school"]), models.Index(fields=["run", "organisation"])]

    def __str__(self) -> str:
        figures = f"{self.entries} entries, VA {self.va}"
        return f"{_where(self)} {self.group}={self.value} {self.subject_name}: {figures}"


class PupilFigure(models.Model):
    """One pupil's figures (keystage.core.measures.ks4.pupils.PUPIL_COLUMNS) and the explanation of
    them, line by line: which result filled which slot, which did not count and why, the estimate."""

    run = models.ForeignKey(MeasureRun, on_delete=models.CASCADE, related_name="pupil_figures")
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+")
    upn = models.CharField("UPN", max_length=13)
    a8 = models.FloatField()
    a8_english = models.FloatField()
    a8_maths = models.FloatField()
    a8_ebacc = models.FloatField()
    a8_open = models.FloatField()
    ebacc_slots_filled = models.PositiveSmallIntegerField()
    open_slots_filled = models.PositiveSmallIntegerField()
    ebacc_entered = models.BooleanField()
    ebacc_aps = models.FloatField()
    em_4plus = models.BooleanField()
    em_5plus = models.BooleanField()
    ks2_pa = models.FloatField(null=True)
    pag = models.PositiveSmallIntegerField(null=True)
    p8 = models.FloatField(null=True)
    p8_english = models.FloatField(null=True)
    p8_maths = models.FloatField(null=True)
    p8_ebacc = models.FloatField(null=True)
    p8_open = models.FloatField(null=True)
    p8_adjusted = models.FloatField(null=True)
    p8_was_adjusted = models.BooleanField(null=True)
    ks4_aps = models.FloatField(
        null=True, help_text="KS4 average point score: the mean points of the pupil's subjects (KS5's prior)."
    )
    # keystage's KS1-based value added (not DfE's Progress 8), in the years without Progress 8.
    ks1_aps = models.FloatField(null=True, help_text="KS1 average point score (KS1-based value added).")
    ks1_pag = models.PositiveSmallIntegerField(null=True, help_text="KS1 prior attainment group.")
    ks1_va = models.FloatField(null=True)
    ks1_va_english = models.FloatField(null=True)
    ks1_va_maths = models.FloatField(null=True)
    ks1_va_ebacc = models.FloatField(null=True)
    ks1_va_open = models.FloatField(null=True)
    characteristics = models.JSONField(
        default=dict, blank=True, help_text="The pupil groups the pupil was counted in, e.g. sex, sen."
    )
    explanation = models.JSONField(default=list, blank=True)
    not_counted = models.JSONField(
        default=list,
        blank=True,
        help_text="The pupil's results not counted in performance measures at all (off DfE's list, not a "
        "grade of the qualification, an unknown qualification number): qan, title, grade, series, reason.",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "upn"], name="one_pupil_figure_per_run")]
        indexes = [models.Index(fields=["run", "school"])]
        ordering = ["upn"]

    def __str__(self) -> str:
        return f"{self.upn}: A8 {self.a8}, P8 {self.p8}"


class PrimaryFigure(models.Model):
    """A primary key stage's figures (keystage.core.measures.primary) for one school, trust or LA
    (``organisation``), or the nation (neither), and one pupil group value.

    Unlike KS4's columns, the figures are one JSON object: the measures follow the year's framework
    (EYFSP's goals and areas are the framework's), so their set changes with it. Each measure's entry:
    ``figure`` (a share 0 to 1, or a mean), ``pupils`` (whom it counts), ``national`` (the comparator
    figure), and where they apply ``percentile`` and ``quintile`` (school all-pupil rows: its place
    among schools, 1 the top), and ``ci_low``, ``ci_high``, ``significance`` (KS2 progress)."""

    run = models.ForeignKey(MeasureRun, on_delete=models.CASCADE, related_name="primary_figures")
    school = models.ForeignKey(School, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    group = models.CharField(max_length=30)
    value = models.CharField(max_length=40)
    cohort = models.PositiveIntegerField()
    figures = models.JSONField(default=dict)

    objects = FigureQuerySet["PrimaryFigure"].as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "school", "group", "value"],
                condition=Q(school__isnull=False),
                name="one_primary_school_figure",
            ),
            models.UniqueConstraint(
                fields=["run", "organisation", "group", "value"],
                condition=Q(organisation__isnull=False),
                name="one_primary_aggregate_figure",
            ),
            models.UniqueConstraint(
                fields=["run", "group", "value"],
                condition=Q(school__isnull=True, organisation__isnull=True),
                name="one_primary_national_figure",
            ),
        ]
        indexes = [models.Index(fields=["run", "school"]), models.Index(fields=["run", "organisation"])]

    def __str__(self) -> str:
        return f"{_where(self)} {self.group}={self.value}: {self.cohort} pupils"

    def figure(self, measure: str) -> float | None:
        entry = self.figures.get(measure) or {}
        value = entry.get("figure")
        return None if value is None else float(value)

    def measure(self, key: str) -> StoredMeasure:
        """The measure ``key`` (an entry of ``figures``) with its pupils and extras."""
        entry = self.figures.get(key) or {}
        return StoredMeasure(
            entry.get("figure"),
            entry.get("pupils") or 0,
            ci_low=entry.get("ci_low"),
            ci_high=entry.get("ci_high"),
            significance=entry.get("significance") or "",
            percentile=entry.get("percentile"),
            quintile=entry.get("quintile"),
        )


class PrimaryPupilFigure(models.Model):
    """One pupil's primary figures, with what they came from: ``results`` (assessment -> result, as
    confirmed) and ``figures`` (measure -> yes, no, a score, or null when the pupil does not count)."""

    run = models.ForeignKey(MeasureRun, on_delete=models.CASCADE, related_name="primary_pupil_figures")
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+")
    upn = models.CharField("UPN", max_length=13)
    nc_year = models.SmallIntegerField(null=True)
    results = models.JSONField(default=dict, blank=True)
    figures = models.JSONField(default=dict, blank=True)
    characteristics = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "upn"], name="one_primary_pupil_per_run")]
        indexes = [models.Index(fields=["run", "school"])]
        ordering = ["upn"]

    def __str__(self) -> str:
        return f"{self.upn}: {len(self.figures)} figures"


def figure_model(key_stage: str) -> type[SchoolFigure] | type[PrimaryFigure]:
    """The table of a key stage's school, trust, LA and national figures."""
    return SchoolFigure if key_stage == "ks4" else PrimaryFigure


class SyntheticBackground(models.Model):
    """Synthetic schools and pupils counted in a year's national figures beside the platform's own
    confirmed results: for a demonstration or a trial, where a handful of schools would otherwise be
    "the nation". Every run that counts one names it (``MeasureRun.background``), and so does every
    page that shows its figures.

    The pupils are not stored: they are generated again from (year, scale, seed), which always gives
    the same ones (keystage.core.synth). Platform schools in ``schools`` get synthetic pupils too, the
    same as their synthetic roster for the year, until they confirm results of their own."""

    year = models.PositiveSmallIntegerField(unique=True, help_text="The academic year by its end.")
    scale = models.CharField(max_length=10, help_text="The synthetic year's scale: national, mid or small.")
    seed = models.PositiveIntegerField()
    schools = models.ManyToManyField(
        School,
        blank=True,
        related_name="+",
        help_text="Platform schools given synthetic results until they confirm their own.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["year"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return f"Synthetic {self.scale}-scale background (seed {self.seed})"
