"""A school in a local authority created since 2011 (its DfE number and its pupils' UPNs start
with the new LA's code) fills its primary templates and they validate clean."""

from __future__ import annotations

from datetime import date

import pytest

from keystage.core.pupils.model import build_upn
from keystage.core.results.fill import fill_template
from keystage.core.results.roster import RosterPupil, UploadContext
from keystage.core.results.validation import validate_upload
from keystage.core.results.workbooks import TemplatePupil, write_template
from tests.core.results.conftest import YEAR


@pytest.mark.parametrize(("kind", "la"), [("ks1", "940"), ("ks2-ta", "942"), ("phonics", "839")])
def test_a_template_of_a_school_in_a_new_la_filled_with_its_upns_validates_clean(layouts, kind, la):
    layout = layouts[kind]
    dfe = f"{la}2001"
    nc_year = layout.kind.nc_years[0]
    pupils = [
        TemplatePupil(
            build_upn(la, "2001", 21, n),
            f"Child{n}",
            "Jones",
            date(YEAR - nc_year - 5, 2, n),
            "FM"[n % 2],
            nc_year,
        )
        for n in range(1, 21)
    ]
    template = write_template(layout, pupils, school_name="Corby Primary", dfe=dfe, made_on=date(YEAR, 6, 1))
    filled = fill_template(template, layout, seed=940).data
    roster = {p.upn: RosterPupil(p.upn, p.forename, p.surname) for p in pupils}
    report = validate_upload(
        filled, layout, UploadContext(school_dfe=dfe, school_name="Corby Primary", roster=roster)
    )
    assert report.issues == []
    assert report.valid and len(report.pupils) == 20
    assert {p.upn[1:4] for p in report.pupils} == {la}
