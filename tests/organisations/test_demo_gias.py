"""The demo's organisations come from a small file in GIAS's format, through the same importer as the
national file: it holds exactly the demo's schools, and loading the demo again changes nothing."""

from __future__ import annotations

import csv
import io

from keystage.audit.models import AuditAction, AuditEvent
from keystage.core.organisations.gias import read_gias_file
from keystage.organisations.models import LocalAuthority, School, Trust
from keystage.web.demo import DEMO_GIAS_FILE, LA, SCHOOLS, TRUST, load_demo


def test_the_demo_file_holds_exactly_the_demo_schools_and_looks_like_gias():
    data = DEMO_GIAS_FILE.read_bytes()
    data.decode("cp1252")  # DfE's encoding
    header = next(csv.reader(io.StringIO(data.decode("cp1252"))))
    assert len(header) >= 130 and "Postcode" in header and "Gender (name)" in header
    parsed = read_gias_file(DEMO_GIAS_FILE)
    assert parsed.ok and parsed.skipped == []
    assert [(la.code, la.name) for la in parsed.las] == [LA]
    assert [t.name for t in parsed.trusts] == [TRUST[0]]
    assert [
        (s.name, s.urn, s.dfe_number, s.phase, s.school_type, s.trust_uid is not None) for s in parsed.schools
    ] == [(s.name, s.urn, s.dfe_number, s.phase, s.school_type, s.in_trust) for s in SCHOOLS]


def test_the_demo_loads_its_organisations_through_the_importer_with_their_ages(db):
    load_demo()
    trust = Trust.objects.get()
    assert (trust.name, trust.companies_house_number, trust.gias_uid) == (TRUST[0], TRUST[1], "990001")
    ages = dict((s.urn, (s.statutory_low_age, s.statutory_high_age)) for s in School.objects.all())
    assert ages == {
        "190001": (11, 18),
        "190002": (3, 11),
        "190003": (4, 11),
        "190004": (4, 11),
        "190005": (11, 16),
        "190006": (2, 19),
    }
    assert School.objects.get(urn="190006").establishment_type == "Community special school"
    assert AuditEvent.objects.filter(action=AuditAction.ORGANISATIONS_IMPORTED).count() == 1
    load_demo()
    assert AuditEvent.objects.filter(action=AuditAction.ORGANISATIONS_IMPORTED).count() == 1


def test_a_demo_loaded_before_the_gias_file_is_left_as_it_is(db):
    la = LocalAuthority.objects.create(code=LA[0], name=LA[1])
    trust = Trust.objects.create(name=TRUST[0], companies_house_number=TRUST[1])
    for spec in SCHOOLS:
        School.objects.create(
            name=spec.name,
            urn=spec.urn,
            dfe_number=spec.dfe_number,
            phase=spec.phase,
            school_type=spec.school_type,
            la=la,
            trust=trust if spec.in_trust else None,
        )
    load_demo()
    assert Trust.objects.get().pk == trust.pk and Trust.objects.get().gias_uid == "990001"
    assert LocalAuthority.objects.get().pk == la.pk
    assert set(School.objects.values_list("statutory_low_age", flat=True)) == {None}  # never changed
    assert School.objects.count() == len(SCHOOLS)
