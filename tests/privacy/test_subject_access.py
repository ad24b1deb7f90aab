"""A subject access request: a school's data person downloads everything keystage holds about one pupil
at the school, and nothing about any other pupil or from any other school; others are refused."""

from __future__ import annotations

import io
import json
import re
import zipfile
from html import escape

import pytest
from django.urls import reverse

from keystage.accounts.models import Membership
from keystage.audit.log import record
from keystage.audit.models import AuditAction, AuditEvent
from keystage.estimates import services as estimates
from keystage.privacy.subject_access import WHO_LEFT_OUT, WHO_WITHHELD
from keystage.results.models import UploadStatus
from tests.conftest import signed_in
from tests.estimates.conftest import fitted, national  # noqa: F401  (fixtures used here)
from tests.factories import member
from tests.measures.conftest import ks4_catalogue  # noqa: F401  (a fixture used here)
from tests.privacy.conftest import (
    THIS_YEAR,
    closed_collection,
    ks4_run,
    phonics_run,
    return_round,
    roster_pupil,
    sent_return,
    upload,
    upn_of,
)

UPN_PATTERN = re.compile(r"\b[A-Z][0-9]{11}[0-9A-Z]\b")
ALLOWED = {"manage_data", "school_named", "trust_admin", "trust_named", "la_data_officer", "la_named"}


@pytest.fixture
def pupils(world):
    """Ann (the pupil asked about) and Bea at School One, in the same files and runs; and a pupil
    with Ann's UPN at School Three, whose record is School Three's and never School One's."""
    s1, s3 = world.s1, world.s3
    ann, bea = upn_of(s1, 1), upn_of(s1, 2)
    for year in (THIS_YEAR - 1, THIS_YEAR):
        roster_pupil(s1, year, ann, forename="Ann")
        roster_pupil(s1, year, bea, forename="Bea")
    roster_pupil(s3, THIS_YEAR, ann, forename="Elsewhere")
    collection = closed_collection("phonics", THIS_YEAR - 1)
    upload(collection, s1, [ann, bea], status=UploadStatus.REPORTS, in_use=True, value="WA")
    upload(collection, s3, [ann], in_use=True, value="LEFT-AT-S3")
    ks4_run(s1, THIS_YEAR - 1, [ann, bea])
    phonics_run(s1, THIS_YEAR - 1, [ann, bea])
    sent_return(s1, return_round(world.la, THIS_YEAR - 1), [ann, bea])
    named = world.person("school_named")
    record(AuditAction.PUPILS_VIEWED, actor=named, organisation=s1, subject=f"KS4 2025/26 pupil {ann}")
    record(AuditAction.PUPILS_VIEWED, actor=named, organisation=s1, subject=f"KS4 2025/26 pupil {bea}")
    record(AuditAction.PUPILS_VIEWED, actor=named, organisation=s3, subject=f"KS4 2025/26 pupil {ann}")
    return ann, bea


def _url(school) -> str:
    return reverse("privacy:subject_access", args=[school.pk])


def _unzipped(response) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def _exports():
    return AuditEvent.objects.filter(action=AuditAction.SUBJECT_ACCESS_EXPORTED)


def test_the_data_person_downloads_everything_held_about_the_pupil_and_no_one_else(world, pupils):
    ann, _bea = pupils
    client = signed_in(world.person("manage_data"))
    page = client.get(_url(world.s1))
    assert page.status_code == 200 and "Export a pupil's data" in page.content.decode()

    response = client.post(_url(world.s1), {"upn": ann.lower()})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    base = f"subject-access-{ann}-{world.s1.dfe_number}"
    assert response["Content-Disposition"] == f'attachment; filename="{base}.zip"'
    files = _unzipped(response)
    assert set(files) == {f"{base}/pupil-data.json", f"{base}/summary.html"}

    data = json.loads(files[f"{base}/pupil-data.json"])
    assert data["about"]["upn"] == ann and data["about"]["school"] == "School One"
    assert [r["forename"] for r in data["roster"]] == ["Ann", "Ann"]
    assert data["roster"][0]["fsm6"] is True and data["roster"][0]["sen"] == "No SEN"
    assert len(data["results"]) == 1
    assert data["results"][0]["results"] == [
        {"subject": "PHONICS", "qan": "", "discount_code": "", "value": "WA"}
    ]
    assert data["results"][0]["pupil"]["upn"] == ann
    assert sorted(f["key_stage"] for f in data["figures"]) == ["KS4", "Phonics"]
    ks4 = next(f for f in data["figures"] if f["key_stage"] == "KS4")
    assert ks4["figures"]["a8"] == 44.5 and ks4["figures"]["characteristics"]["disadvantaged"] is True
    assert [r["pupil"]["results"] for r in data["returns"]] == [{"PHONICS": "WA"}]
    assert [e["about"] for e in data["audit"]] == [f"KS4 2025/26 pupil {ann}"]
    assert data["estimates"] == []  # nothing fitted in this world

    for name, content in files.items():
        # Ann's UPN and no other pupil's; nothing of School Three's pupil with the same UPN.
        assert set(UPN_PATTERN.findall(content)) == {ann}, name
        assert "Bea" not in content and "Elsewhere" not in content and "LEFT-AT-S3" not in content, name
    summary = files[f"{base}/summary.html"]
    assert "Data held about Ann Jones, UPN" in summary
    assert "Results: PHONICS</th><td>WA" in summary

    event = _exports().get()
    assert event.actor == world.person("manage_data") and event.organisation.pk == world.s1.pk
    assert ann in event.subject and event.detail["upn"] == ann and event.detail["results"] == 1


def test_who_looked_is_named_only_to_those_who_may_read_the_schools_audit_log(world, pupils):
    ann, _bea = pupils
    staff = {world.person(p).email for p in ("school_named", "manage_data", "la_named", "trust_named")}
    for persona in ("manage_data", "la_named", "trust_named"):
        files = _unzipped(signed_in(world.person(persona)).post(_url(world.s1), {"upn": ann}))
        data = json.loads(next(content for name, content in files.items() if name.endswith(".json")))
        # What was done with the pupil's data, and when, but not by whom: that is the audit log's.
        assert data["audit"] and {e["by"] for e in data["audit"]} == {WHO_WITHHELD}, persona
        assert data["about"]["audit_names_left_out"] == WHO_LEFT_OUT
        others = staff - {world.person(persona).email}
        assert not any(email in content for email in others for content in files.values()), persona
        assert escape(WHO_LEFT_OUT) in files[next(n for n in files if n.endswith("summary.html"))]
    # A head who administers the school and sees its pupils exports the names too.
    head = member("school_admin", world.s1, email="head@school-one.example")
    Membership.objects.create(user=head, organisation=world.s1, role="school_named")
    files = _unzipped(signed_in(head).post(_url(world.s1), {"upn": ann}))
    data = json.loads(next(content for name, content in files.items() if name.endswith(".json")))
    assert world.person("school_named").email in {e["by"] for e in data["audit"]}
    assert "audit_names_left_out" not in data["about"]


def test_a_bad_or_unknown_upn_is_explained_and_nothing_is_exported(world, pupils):
    client = signed_in(world.person("school_named"))
    empty = client.post(_url(world.s1), {"upn": ""})
    assert empty.status_code == 400 and "Enter the pupil&#x27;s UPN." in empty.content.decode()
    wrong_letter = pupils[0].replace(pupils[0][0], "B" if pupils[0][0] != "B" else "C", 1)
    bad = client.post(_url(world.s1), {"upn": wrong_letter})
    assert bad.status_code == 400 and "has the wrong check letter" in bad.content.decode()
    short = client.post(_url(world.s1), {"upn": "A12"})
    assert short.status_code == 400 and "UPN must be 13 characters" in short.content.decode()
    unknown = upn_of(world.s1, 99)
    missing = client.post(_url(world.s1), {"upn": unknown})
    assert missing.status_code == 404
    assert (
        f"keystage holds nothing about a pupil with UPN {unknown} at School One" in missing.content.decode()
    )
    assert not _exports().exists()


def test_only_those_who_see_the_schools_pupils_may_export_and_only_the_schools_data(world, pupils):
    ann, _bea = pupils
    for persona in sorted(world.people):
        response = signed_in(world.person(persona)).post(_url(world.s1), {"upn": ann})
        expected = 200 if persona in ALLOWED else 403
        assert response.status_code == expected, persona
    assert _exports().count() == len(ALLOWED)
    # School Three's own named person exports School Three's record of the UPN, never School One's.
    files = _unzipped(signed_in(world.person("other_school_named")).post(_url(world.s3), {"upn": ann}))
    content = "".join(files.values())
    assert "Elsewhere" in content and "School One" not in content and '"value": "WA"' not in content
    # Only schools answer subject access requests here; a trust's page is not found.
    assert signed_in(world.person("trust_admin")).get(_url(world.trust)).status_code == 404


def test_the_schools_page_links_to_the_export_for_those_who_may_use_it(world):
    page = reverse("organisations:detail", args=[world.s1.pk])
    link = _url(world.s1)
    assert link in signed_in(world.person("manage_data")).get(page).content.decode()
    assert link in signed_in(world.person("la_named")).get(page).content.decode()
    for persona in ("school_admin", "school_anon", "governor", "trust_anon"):
        assert link not in signed_in(world.person(persona)).get(page).content.decode(), persona
    trust_page = signed_in(world.person("trust_admin")).get(
        reverse("organisations:detail", args=[world.trust.pk])
    )
    assert "subject-access" not in trust_page.content.decode()


@pytest.mark.django_db(transaction=True)  # fitting estimates commits as it goes
def test_the_export_holds_the_pupils_estimates_as_they_stand(fitted):  # noqa: F811
    world = fitted
    pupil = estimates.school_pupils(world.s1)[1].row(0, named=True)
    files = _unzipped(signed_in(world.person("school_named")).post(_url(world.s1), {"upn": pupil["upn"]}))
    data = json.loads(next(content for name, content in files.items() if name.endswith(".json")))
    found = {entry["estimates"]: entry for entry in data["estimates"]}
    ks4 = found["KS4 estimates"]
    page = estimates.pupil_estimates(world.s1, pupil["upn"])
    assert page is not None
    a8 = next(o for o in page[2] if o.key == "a8")
    shown = next(o for o in ks4["outcomes"] if o["outcome"] == a8.name)
    assert shown["expected"]["Average progress (50th percentile)"] == pytest.approx(a8.expected[50])
    assert shown["chances_at_average_progress"] == pytest.approx(dict(a8.chances))
    assert set(UPN_PATTERN.findall("".join(files.values()))) == {pupil["upn"]}
