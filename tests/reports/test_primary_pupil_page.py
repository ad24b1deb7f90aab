"""A primary pupil's page names each confirmed result as the framework does, and says what a code
means: a multiplication tables check code (STA's B, J, X …) is not a score, and no average counts it."""

from __future__ import annotations

import pytest

from keystage.measures import services
from tests.conftest import signed_in
from tests.measures.test_primary_database import figure, ks2_values, upload_confirmed, year_group
from tests.results.conftest import YEAR


@pytest.fixture(autouse=True)
def _uploads_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"


def test_an_mtc_code_is_explained_on_the_pupils_page_and_left_out_of_the_average(world):
    pupils = year_group(world.s1, 6, 3)
    values = ks2_values([100, 104, 108], [110] * 3, ["EXS"] * 3)
    values.update(
        {(1, "Multiplication tables check score"): "B", (2, "Multiplication tables check score"): 24}
    )
    values[(3, "Multiplication tables check score")] = 20
    upload_confirmed("ks2-ta", world.s1, world.person("manage_data"), values)
    run, _figures = services.compute_and_store_primary("ks2", YEAR)
    assert figure(run, "ks2_mtc_score", school=world.s1)["figure"] == pytest.approx(22)

    page = signed_in(world.person("school_named")).get(
        f"/reports/{world.s1.pk}/ks2/{YEAR}/pupils/{pupils[0].upn}/"
    )
    assert page.status_code == 200
    results = page.content.decode().split('id="results"')[1].split("</dl>")[0]
    assert "Multiplication tables check score" in results and "ks2_mtc" not in results
    assert "Working below the expected standard of the check" in results
    assert "a code, not a score, so no average score counts it" in results
    assert "Reading test scaled score" in results
