"""The KS4 catalogue is in every test database (loaded from DfE's shipped files at migrate); a test of
what happens without one empties it first."""

from __future__ import annotations


def without_ks4_catalogue() -> None:
    from keystage.reference_data.models import DiscountCode, Qualification, ReferenceImport

    Qualification.objects.all().delete()  # grades, years and syllabuses go with their qualification
    DiscountCode.objects.all().delete()
    # Its log too: what is cached from reference data is keyed by the latest load.
    ReferenceImport.objects.filter(kind="ks4-catalogue").delete()
