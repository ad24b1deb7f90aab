"""No pupil's identity reaches a reader whose role is anonymised.

Every report and estimates page of schools with real figures, and their Excel and PDF downloads, are read by
each anonymised persona and searched for every pupil's UPN and name. A named reader of the same pages is the
control: the search finds pupils there, so a search that finds nothing means something."""

from __future__ import annotations

import io

import pypdf
import pytest
from django.core.management import call_command
from django.urls import reverse
from python_calamine import CalamineWorkbook

from keystage.accounts import policy
from keystage.core.roles import Action
from keystage.pupils.models import Pupil
from tests.conftest import signed_in
from tests.measures.conftest import ks4_catalogue  # noqa: F401  (fixtures used here)
from tests.reports.conftest import reports_world  # noqa: F401
from tests.results.conftest import YEAR


def _pages(world) -> list[str]:
    s1, s2 = world.s1.pk, world.s2.pk
    ks4 = [
        reverse(f"reports:{page}", args=[s1, "ks4", YEAR])
        for page in ("dashboard", "explore", "scatter", "subjects", "inspection", "pupils")
    ]
    ks2 = [reverse(f"reports:{page}", args=[s2, "ks2", YEAR]) for page in ("dashboard", "explore", "pupils")]
    some_upn = Pupil.objects.filter(school=world.s1, academic_year=YEAR).values_list("upn", flat=True).first()
    return [
        *ks4,
        reverse("reports:explore", args=[s1, "ks4", YEAR]) + "?disadvantaged=yes&sex=F",
        reverse("reports:subjects", args=[s1, "ks4", YEAR]) + "?subject=2210",
        reverse("reports:pupil", args=[s1, "ks4", YEAR, some_upn]),
        reverse("reports:schools", args=[world.trust.pk, "ks4", YEAR]),
        *ks2,
        reverse("estimates:school", args=[s1]),
        reverse("estimates:school", args=[s1]) + "?stage=ks5",
        reverse("estimates:school", args=[s2]),
        reverse("estimates:pupil", args=[s1, some_upn]),
    ]


def _text(response) -> str:
    """What the reader receives, as text: the page, the JSON, every cell of a workbook, or a PDF's words."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    kind = response.get("Content-Type", "")
    if "spreadsheetml" in kind:
        book = CalamineWorkbook.from_filelike(io.BytesIO(body))
        return "\n".join(
            " ".join(str(cell) for cell in row)
            for name in book.sheet_names
            for row in book.get_sheet_by_name(name).to_python()
        )
    if "pdf" in kind:
        return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages)
    return body.decode()


def _identities(world) -> dict[str, str]:
    """Every pupil's identifying strings at the world's schools: UPN, and name written both ways."""
    found = {}
    for upn, forename, surname in Pupil.objects.filter(school__in=[world.s1, world.s2]).values_list(
        "upn", "forename", "surname"
    ):
        found[upn] = upn
        found[f"{forename} {surname}"] = upn
        found[f"{surname}, {forename}"] = upn
    return found


# Every persona that reads some of School One's or Two's reports without the right to see their pupils.
ANONYMISED = ("school_anon", "governor", "trust_anon", "la_anon")


@pytest.fixture
def estimated_world(reports_world, settings):  # noqa: F811
    settings.KEYSTAGE_PDF_ROWS_IN_REQUEST = 100_000  # every PDF drawn in the request, to be read here
    call_command("estimates", "fit", "--year", str(YEAR), "--now", verbosity=0)
    call_command("estimates", "fit", "--transition", "ks1-ks2", "--year", str(YEAR), "--now", verbosity=0)
    return reports_world


def test_anonymised_readers_never_receive_a_pupils_identity_and_named_readers_do(estimated_world):
    world = estimated_world
    identities = _identities(world)
    assert len(identities) > 300
    for persona in ANONYMISED:
        for school in (world.s1, world.s2):
            assert not policy.can(world.person(persona), Action.VIEW_PUPIL_DATA, school)
    leaks, read = [], 0
    for persona in ANONYMISED:
        client = signed_in(world.person(persona))
        for page in _pages(world):
            joiner = "&" if "?" in page else "?"
            # Downloads for one persona: drawing every PDF for all four would take long and show nothing new.
            variants = ["", "format=xlsx", "format=pdf"] if persona == "school_anon" else ["", "format=xlsx"]
            for variant in variants:
                url = page + (joiner + variant if variant else "")
                response = client.get(url)
                assert response.status_code in (200, 403, 404), (persona, url, response.status_code)
                if response.status_code != 200:
                    continue
                read += 1
                text = _text(response)
                leaks += [f"{persona} {url}: {key}" for key in identities if key in text]
    assert not leaks, "\n".join(leaks[:20])
    assert read > 30  # the pages were really read, not all refused

    # The control: where a named reader may see pupils, the same search finds them.
    named = signed_in(world.person("school_named"))
    for url in (
        reverse("reports:pupils", args=[world.s1.pk, "ks4", YEAR]),
        reverse("reports:pupils", args=[world.s1.pk, "ks4", YEAR]) + "?format=xlsx",
        reverse("estimates:school", args=[world.s1.pk]) + "?format=xlsx",
    ):
        response = named.get(url)
        assert response.status_code == 200, url
        assert sum(key in _text(response) for key in identities) > 20, url
