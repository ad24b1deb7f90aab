"""Nothing of the project's own inside reaches a user: no repository path (``shared/``), no mention of
the seed documents, no module name, and no snake_case key standing as a label, in any page template,
in any results template workbook (its Guidance sheet included), or in a pupil's page of figures."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from keystage.core.results.kinds import KINDS
from keystage.core.results.workbooks import TemplatePupil, write_template
from keystage.results.services import layout_for
from tests.conftest import signed_in
from tests.measures.conftest import ks4_catalogue  # noqa: F401  (a fixture used here)
from tests.reports.conftest import YEAR, reports_world  # noqa: F401  (a fixture used here)

TEMPLATES = Path(__file__).resolve().parents[2] / "keystage" / "templates"
INTERNAL = re.compile(r"shared/|\bseeds?\b|keystage\.core|\.py\b|\.toml\b", re.IGNORECASE)
SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]*[a-z0-9]\b")


def _page_text(source: str) -> str:
    """What a template shows a reader: without template tags, comments, HTML tags or scripts."""
    source = re.sub(r"{#.*?#}|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", " ", source, flags=re.S)
    source = re.sub(r"<(script|style)\b.*?</\1>", " ", source, flags=re.S)
    source = re.sub(r"{%.*?%}|{{.*?}}", " ", source, flags=re.S)
    return re.sub(r"<[^>]*>", " ", source, flags=re.S)


def test_no_page_template_shows_internal_text():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = _page_text(path.read_text())
        found += [f"{path.relative_to(TEMPLATES)}: {m.group(0)}" for m in INTERNAL.finditer(text)]
        found += [f"{path.relative_to(TEMPLATES)}: {m.group(0)}" for m in SNAKE_CASE.finditer(text)]
    assert found == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_results_template_shows_internal_text(kind, ks4_catalogue):  # noqa: F811
    layout = layout_for(kind, YEAR)
    pupil = TemplatePupil(
        "A123456789012", "Ann", "Smith", date(YEAR - 12, 3, 4), "F", KINDS[kind].nc_years[0]
    )
    data = write_template(layout, [pupil], school_name="School One", dfe="9994001", made_on=date(YEAR, 5, 1))
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    # A column's assessment code is a code (the API and CSV files use it), in its own cell: not a label.
    codes = {s.key for s in layout.subjects} | {s.code for s in layout.subjects if s.code}
    found = []
    for name in book.sheet_names:
        if name == "Lists":
            continue  # the dropdowns' hidden valid results
        for row in book.get_sheet_by_name(name).to_python():
            for value in row:
                if not isinstance(value, str) or value in codes:
                    continue
                found += [f"{name}: {m.group(0)} in {value[:80]!r}" for m in INTERNAL.finditer(value)]
                found += [f"{name}: {m.group(0)} in {value[:80]!r}" for m in SNAKE_CASE.finditer(value)]
    assert found == []


def test_a_pupils_page_labels_every_figure_in_words(reports_world):  # noqa: F811
    from keystage.measures.models import PupilFigure

    world = reports_world
    figure = PupilFigure.objects.filter(run__year=YEAR, run__key_stage="ks4", school=world.s1).first()
    html = signed_in(world.person("school_named")).get(
        f"/reports/{world.s1.pk}/ks4/{YEAR}/pupils/{figure.upn}/"
    )
    table = html.content.decode().split('id="pupil-figures"')[1].split("</table>")[0]
    labels = re.findall(r'<th scope="row"[^>]*>(.*?)</th>', table, flags=re.S)
    assert "KS2 prior attainment (average of reading and maths scaled scores)" in labels
    assert [label for label in labels if SNAKE_CASE.search(label) or INTERNAL.search(label)] == []
