"""Text a person typed stays text in every workbook keystage writes. Pupils named like formulas
(``=HYPERLINK(...)``, ``+44``, ``-1``, ``@SUM``, a leading tab or carriage return) are downloaded in
every Excel file a user can get: the reports' workbooks, the pupil list, the scatter plot's pupils, the
estimates, the results template and the error workbook of a real upload. Each file is opened as Excel
stores it: no cell anywhere holds a formula, and each name is there as the text it was."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.urls import reverse
from python_calamine import CalamineWorkbook

from keystage.pupils.models import Pupil
from keystage.results.models import Upload
from tests.audit.test_download_coverage import DOWNLOADS, FILES_WITHOUT_PUPILS, _body, _client, _fetch, made  # noqa: F401
from tests.conftest import signed_in
from tests.measures.conftest import ks4_catalogue  # noqa: F401  (a fixture used here)
from tests.reports.conftest import reports_world  # noqa: F401  (a fixture used here)
from tests.results.conftest import YEAR, filled, open_collection, roster
from tests.results.test_pages import MARK, _post_upload, _run_worker, _template

# What a spreadsheet would take as something other than text, were it not written as text.
NAMES_LIKE_FORMULAS = [
    '=HYPERLINK("http://evil.example/","x")',
    "+44 7700 900123",
    "-1+1",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "=1+1",
    "http://evil.example/",
]


def _sheets(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        return {n: book.read(n).decode() for n in book.namelist() if n.startswith("xl/worksheets/sheet")}


def _formulas(data: bytes) -> list[str]:
    """Every cell formula in the workbook (an <f> element inside a cell), by sheet."""
    return [
        f"{name}: {found}"
        for name, xml in _sheets(data).items()
        for found in re.findall(r"<f[ >].*?</f>", xml)
    ]


def _texts(data: bytes) -> set[str]:
    """Every value the workbook's cells hold as text, as a spreadsheet reads it (calamine, as Excel,
    decodes escapes such as _x000D_ for a carriage return)."""
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return {
        value
        for name in book.sheet_names
        for row in book.get_sheet_by_name(name).to_python()
        for value in row
        if isinstance(value, str)
    }


def _holds_every_name(data: bytes) -> bool:
    """Each name begins a cell's text ("Surname, Forename" or the name alone)."""
    texts = _texts(data)
    return all(any(text.startswith(name) for text in texts) for name in NAMES_LIKE_FORMULAS)


def _is_workbook(data: bytes) -> bool:
    if not data.startswith(b"PK"):
        return False
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        return "xl/workbook.xml" in book.namelist()


def _name_the_pupils_like_formulas(school) -> list[Pupil]:
    pupils = list(Pupil.objects.filter(school=school).order_by("pk"))
    for index, pupil in enumerate(pupils):
        pupil.surname = NAMES_LIKE_FORMULAS[index % len(NAMES_LIKE_FORMULAS)]
        pupil.forename = NAMES_LIKE_FORMULAS[(index + 3) % len(NAMES_LIKE_FORMULAS)]
    Pupil.objects.bulk_update(pupils, ["surname", "forename"])
    return pupils


@pytest.mark.django_db(transaction=True)  # fitting estimates commits as it goes
def test_every_report_download_keeps_pupils_names_as_text(made, reports_world):  # noqa: F811
    world = reports_world
    _name_the_pupils_like_formulas(world.s1)
    workbooks = {}
    for download in DOWNLOADS:
        response = _fetch(_client(world, download), world, made, download)
        body = _body(response)
        if response.status_code == 200 and _is_workbook(body):
            workbooks[download.label] = body
    head = signed_in(world.person("la_named"))
    for name in FILES_WITHOUT_PUPILS:
        whose = world.la if name == "reports:schools" else world.s1  # schools side by side: the LA's
        url = reverse(name, args=[whose.pk, "ks4", YEAR])
        response = head.get(url + "?format=xlsx")
        assert response.status_code == 200 and _is_workbook(response.content), name
        workbooks[name] = response.content
    # The downloads that list pupils by name, each with the names as they were typed.
    for label in ("the pupil list as Excel", "the scatter plot's pupils as Excel"):
        assert _holds_every_name(workbooks[label]), label
    assert _holds_every_name(workbooks["the school's estimates with each pupil's, as Excel"])
    assert len(workbooks) >= 9
    for label, data in workbooks.items():
        assert _formulas(data) == [], label


@pytest.mark.django_db(transaction=True)  # the worker checks the upload in its own transactions
def test_the_template_and_the_error_workbook_keep_names_as_text(world):
    collection = open_collection()
    roster(world.s1, count=len(NAMES_LIKE_FORMULAS))
    _name_the_pupils_like_formulas(world.s1)
    client = signed_in(world.person("manage_data"))
    template = _template(client, collection, world.s1)
    assert _formulas(template) == []
    assert _holds_every_name(template)

    _post_upload(client, collection, world.s1, filled(template, "phonics", {(1, MARK): 41}))
    _run_worker()
    upload = Upload.objects.get()
    assert upload.error_workbook
    errors = client.get(reverse("results:download_errors", args=[upload.pk]))
    data = b"".join(errors.streaming_content)
    assert _formulas(data) == []
    assert _holds_every_name(data)
