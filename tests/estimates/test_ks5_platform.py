"""KS5 benchmark estimates in the platform: a national A level dataset is imported (refused whole, with
its problems named, when bad), KS4 to KS5 estimates are fitted on it, and a secondary school reads them
for last summer's Year 11 from their KS4 average points, on the page and through the API."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from keystage.estimates import services
from keystage.estimates.models import EstimatesFit, FitStatus, Ks5Dataset, Transition
from keystage.measures import services as measures
from tests.api.conftest import api
from tests.conftest import signed_in
from tests.results.conftest import YEAR

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ks5_world(national, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "storage"
    measures.compute_and_store_ks4(YEAR)  # School One's KS4 figures, with each pupil's KS4 average points
    path = tmp_path / "ks5.csv"
    call_command(
        "synth", "ks5", "--year", str(YEAR), "--scale", "mid", "--seed", "5", "-o", str(path), verbosity=0
    )
    return national, path


def test_a_bad_file_is_refused_whole_and_a_good_one_kept(ks5_world, tmp_path, capsys):
    _world, good = ks5_world
    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text().replace(",A*\n", ",A**\n", 1))
    with pytest.raises(CommandError, match=r"row\(s\) without a grade A\*, A, B, C, D, E or U \(row \d+\)"):
        call_command("estimates", "import-ks5", str(bad), "--year", str(YEAR))
    assert not Ks5Dataset.objects.exists()
    call_command("estimates", "import-ks5", str(good), "--year", str(YEAR))
    assert "Imported KS5 outcomes" in capsys.readouterr().out
    dataset = Ks5Dataset.objects.get()
    assert dataset.students > 10_000 and dataset.results >= 3 * dataset.students
    call_command("estimates", "import-ks5", str(good), "--year", str(YEAR))  # again: replaces
    assert Ks5Dataset.objects.count() == 1
    with pytest.raises(CommandError, match="There is no file"):
        call_command("estimates", "import-ks5", str(tmp_path / "nothing.csv"), "--year", str(YEAR))


def test_without_a_dataset_the_fit_says_what_to_do(ks5_world):
    with pytest.raises(CommandError, match=r"There are no KS5 outcomes for .* import them with"):
        call_command("estimates", "fit", "--transition", "ks4-ks5", "--year", str(YEAR), "--now")
    assert EstimatesFit.objects.get().status == FitStatus.FAILED


def test_a_secondary_school_reads_ks5_estimates_for_its_year_11_leavers(ks5_world):
    world, path = ks5_world
    call_command("estimates", "import-ks5", str(path), "--year", str(YEAR), verbosity=0)
    call_command("estimates", "fit", "--transition", "ks4-ks5", "--year", str(YEAR), "--now", verbosity=0)
    fit = services.latest_fit(Transition.KS4_KS5)
    assert fit is not None and "KS5 outcomes imported from ks5.csv" in fit.background
    found = services.school_estimates(world.s1, transition=Transition.KS4_KS5)
    assert found.academic_year == YEAR and found.pupils.height > 100
    assert found.pupils.get_column("prior").is_not_null().sum() > 100
    assert (found.pupils.get_column("surname") != "").all()  # named from the roster
    client = signed_in(world.person("school_named"))
    text = client.get(reverse("estimates:school", args=[world.s1.pk]) + "?stage=ks5").content.decode()
    assert '<h1 class="govuk-heading-xl">KS5 benchmark estimates</h1>' in text
    assert "as they start Year 12" in text and "Expected to reach an average of grade C or above" in text
    assert 'aria-current="page">KS5 benchmark estimates</a>' in text  # the stage switch
    body = (
        api(world.person("school_named"))
        .get(f"/api/v1/schools/{world.s1.dfe_number}/estimates?stage=ks5")
        .json()
    )
    assert body["fit"]["transition"] == "ks4-ks5"
    assert body["outcomes"][0]["name"] == "A level average points"
    assert len(body["pupils"]) == found.pupils.height
