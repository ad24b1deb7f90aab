"""Each school's roll per academic year. Pupils who leave stay, marked off roll, for the year's history."""

from __future__ import annotations

from django.db import models

from keystage.core.pupils.model import Pupil as CorePupil
from keystage.core.pupils.model import SenProvision, Sex
from keystage.organisations.models import School


class Pupil(models.Model):
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="pupils")
    academic_year = models.PositiveSmallIntegerField(help_text="The year the academic year ends, e.g. 2025.")
    upn = models.CharField("UPN", max_length=13)
    surname = models.CharField(max_length=100)
    forename = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=1, choices=[(s.value, s.name.title()) for s in Sex])
    nc_year = models.SmallIntegerField("NC year")
    fsm6 = models.BooleanField(default=False)
    looked_after = models.BooleanField(default=False)
    adopted_from_care = models.BooleanField(default=False)
    sen = models.CharField(max_length=1, choices=[(s.value, s.label) for s in SenProvision], default="N")
    eal = models.BooleanField(null=True)
    ethnicity = models.CharField(max_length=4, blank=True)
    joined_on = models.DateField(null=True, blank=True)
    ks2_reading = models.FloatField(null=True, blank=True)
    ks2_maths = models.FloatField(null=True, blank=True)
    ks1_reading = models.CharField(max_length=4, blank=True)
    ks1_writing = models.CharField(max_length=4, blank=True)
    ks1_maths = models.CharField(max_length=4, blank=True)
    on_roll = models.BooleanField(default=True)
    left_on = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=100, blank=True, help_text="The file the pupil last came from.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school", "academic_year", "upn"], name="one_pupil_per_school_year"
            )
        ]
        indexes = [models.Index(fields=["academic_year", "upn"])]
        ordering = ["surname", "forename"]

    def __str__(self) -> str:
        return f"{self.forename} {self.surname} ({self.upn})"

    # The fields that come from a roster file; what an import compares and copies.
    ROSTER_FIELDS = (
        "surname", "forename", "date_of_birth", "sex", "nc_year", "fsm6", "looked_after", "adopted_from_care",
        "sen", "eal", "ethnicity", "joined_on", "ks2_reading", "ks2_maths", "ks1_reading", "ks1_writing",
        "ks1_maths",
    )  # fmt: skip

    @staticmethod
    def values_from(pupil: CorePupil) -> dict[str, object]:
        values = {name: getattr(pupil, name) for name in Pupil.ROSTER_FIELDS}
        for name in ("ethnicity", "ks1_reading", "ks1_writing", "ks1_maths"):
            values[name] = values[name] or ""
        values["sex"] = pupil.sex.value
        values["sen"] = pupil.sen.value
        return values
