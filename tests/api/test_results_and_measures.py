"""Reading back through the API: the uploads a school made, the results kept from one, and the
school's headline measures beside national."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from keystage.audit.models import AuditAction, AuditEvent
from keystage.measures.models import SchoolFigure
from keystage.results import downloads, uploading
from keystage.results.models import Upload, UploadStatus
from tests.api.conftest import api, upload_file
from tests.measures.conftest import ks4_catalogue  # noqa: F401  (a fixture used here)
from tests.reports.conftest import YEARS, reports_world  # noqa: F401  (a fixture used here)
from tests.results.conftest import YEAR, filled, open_collection, roster

MARK = "Phonics screening check mark"


@pytest.fixture
def sent(world):
    """School One sent a good phonics file (confirmed) and one with a mistake; the worker checked both."""
    collection = open_collection()
    roster(world.s1)
    template = downloads.download_template(collection, world.s1, actor=world.person("manage_data"))
    client = api(world.person("manage_data"))
    form = {"collection": "phonics", "year": str(YEAR), "school": world.s1.dfe_number}
    good = client.post(
        "/api/v1/uploads",
        {**form, "file": upload_file(filled(template, "phonics", {(1, MARK): 35, (2, MARK): "A"}))},
    ).json()
    bad = client.post(
        "/api/v1/uploads",
        {**form, "file": upload_file(filled(template, "phonics", {(1, MARK): 99}), "bad.xlsx")},
    ).json()
    call_command("worker", "--batch", "--interval", "0", verbosity=0)
    confirmed = client.post(
        good["links"]["self"] + "/confirm", {"agree_to_terms": True}, content_type="application/json"
    )
    assert confirmed.status_code == 200
    return {"good": good["id"], "bad": bad["id"], "client": client}


@pytest.mark.django_db(transaction=True)
def test_a_school_lists_its_uploads_and_finds_its_submission(world, sent):
    client = sent["client"]
    everything = client.get("/api/v1/uploads").json()
    assert [u["id"] for u in everything["uploads"]] == [sent["bad"], sent["good"]]  # newest first
    assert everything["more"] is False
    assert all("issues" not in u for u in everything["uploads"])  # GET the upload for those

    in_use = client.get(f"/api/v1/uploads?collection=phonics&year={YEAR}&in_use=true").json()["uploads"]
    assert [(u["id"], u["in_use"]) for u in in_use] == [(sent["good"], True)]
    assert "results" in in_use[0]["links"]
    assert client.get("/api/v1/uploads?limit=1").json() == {
        "uploads": [client.get("/api/v1/uploads").json()["uploads"][0]],
        "more": True,
    }
    assert client.get(f"/api/v1/uploads?collection=phonics&year={YEAR - 1}").json()["uploads"] == []

    for query, code in [
        ("in_use=maybe", "invalid_filter"),
        ("limit=0", "invalid_limit"),
        ("limit=lots", "invalid_limit"),
        ("limit=%C2%B2", "invalid_limit"),  # "²": a digit to str.isdigit(), not to int()
        ("collection=ks9", "unknown_collection"),
        ("year=", "invalid_year"),
    ]:
        refused = client.get(f"/api/v1/uploads?{query}")
        assert refused.status_code == 400 and refused.json()["error"]["code"] == code, query


@pytest.mark.django_db(transaction=True)
def test_others_see_none_of_a_schools_uploads(world, sent):
    for persona in ("other_school_admin", "school_anon", "governor", "la_anon", "other_trust_admin"):
        client = api(world.person(persona))
        assert client.get("/api/v1/uploads").json()["uploads"] == [], persona
        assert client.get(f"/api/v1/uploads/{sent['good']}/results").status_code == 404, persona
    refused = api(world.person("other_school_admin")).get(f"/api/v1/uploads?school={world.s1.dfe_number}")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    # The trust that runs the school submits for it, so sees them.
    trust = api(world.person("trust_admin")).get(f"/api/v1/uploads?school={world.s1.dfe_number}").json()
    assert {u["id"] for u in trust["uploads"]} == {sent["good"], sent["bad"]}


@pytest.mark.django_db(transaction=True)
def test_the_results_kept_from_an_upload_are_its_pupils_as_sent_and_reading_them_is_audited(world, sent):
    user = world.person("manage_data")
    before = AuditEvent.objects.count()
    answer = sent["client"].get(f"/api/v1/uploads/{sent['good']}/results")
    assert answer.status_code == 200
    kept = answer.json()
    assert kept["upload"] == sent["good"] and kept["in_use"] is True
    assert kept["school"]["dfe_number"] == world.s1.dfe_number
    pupils = kept["pupils"]
    assert [p["row"] for p in pupils] == sorted(p["row"] for p in pupils) and len(pupils) == 3
    # The marks the file gave, pupil by pupil: 35, then absent (A).
    assert [p["results"] for p in pupils[:2]] == [{"phonics_mark": "35"}, {"phonics_mark": "A"}]
    assert all(len(p["upn"]) == 13 and p["surname"] for p in pupils)
    audit = AuditEvent.objects.order_by("-id")[: AuditEvent.objects.count() - before]
    assert [(e.action, e.actor_id, e.organisation_id) for e in audit] == [
        (AuditAction.PUPILS_VIEWED, user.pk, world.s1.pk)
    ]

    refused = sent["client"].get(f"/api/v1/uploads/{sent['bad']}/results")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_results"
    assert "has errors" in refused.json()["error"]["message"]
    assert "results" not in sent["client"].get(f"/api/v1/uploads/{sent['bad']}").json()["links"]


@pytest.mark.django_db(transaction=True)
def test_a_deleted_upload_keeps_no_results(world, sent):
    uploading.delete_upload(Upload.objects.get(pk=sent["bad"]), actor=world.person("manage_data"))
    replaced = sent["client"].get(f"/api/v1/uploads/{sent['bad']}/results")
    assert replaced.status_code == 409 and "deleted" in replaced.json()["error"]["message"]
    assert Upload.objects.get(pk=sent["bad"]).status == UploadStatus.DELETED


@pytest.mark.django_db(transaction=True)
def test_a_schools_measures_are_its_stored_figures_beside_national_for_every_reader(reports_world):  # noqa: F811
    world = reports_world
    url = f"/api/v1/schools/{world.s1.dfe_number}/measures"
    answer = api(world.person("school_anon")).get(url)
    assert answer.status_code == 200
    got = answer.json()
    # Unasked, the newest year of KS4 (a secondary school's first key stage).
    assert (got["key_stage"], got["year"], got["years"]) == ("ks4", YEAR, sorted(YEARS, reverse=True))
    stored = SchoolFigure.objects.get(
        run__year=YEAR,
        run__key_stage="ks4",
        run__school__isnull=True,
        school=world.s1,
        group="all",
        value="all",
    )
    national = SchoolFigure.objects.national().get(run=stored.run, group="all", value="all")
    by_key = {m["key"]: m for m in got["measures"]}
    assert by_key["a8"]["figure"] == pytest.approx(stored.a8) and by_key["a8"]["national"] == pytest.approx(
        national.a8
    )
    assert by_key["p8"]["figure"] == pytest.approx(stored.p8) and by_key["p8"]["pupils"] == stored.p8_pupils
    assert by_key["p8"]["ci_low"] < by_key["p8"]["figure"] < by_key["p8"]["ci_high"]
    assert got["cohort"] == stored.cohort and got["provisional"] in (True, False)
    assert by_key["p8"]["percentile"] is not None  # a full reader sees the school's place

    governor = api(world.person("governor")).get(url).json()
    assert {m["key"]: m["figure"] for m in governor["measures"]} == {
        k: m["figure"] for k, m in by_key.items()
    }
    assert all(m["percentile"] is None and m["quintile"] is None for m in governor["measures"])

    earlier = api(world.person("la_anon")).get(f"{url}?key_stage=ks4&year={YEAR - 1}").json()
    assert earlier["year"] == YEAR - 1 and earlier["measures"]
    assert "pupils" not in earlier and "upn" not in str(earlier)  # school figures, no pupil in sight

    for persona in ("other_school_named", "other_trust_admin", "other_la_named"):
        refused = api(world.person(persona)).get(url)
        assert refused.status_code == 403 and refused.json() == {
            "error": {"code": "forbidden", "message": f"You may not read the reports of {world.s1.name}."}
        }, persona
    reader = api(world.person("school_named"))
    for query, status, code in [
        ("key_stage=ks9", 400, "unknown_key_stage"),
        ("key_stage=eyfsp", 404, "no_figures"),  # a secondary school: none
        (f"year={YEAR - 5}", 404, "no_figures"),
        ("year=soon", 400, "invalid_year"),
    ]:
        refused = reader.get(f"{url}?{query}")
        assert refused.status_code == status and refused.json()["error"]["code"] == code, query
