"""`keystage synth`: a small synthetic year written as files, CTFs that check clean, and loaded rosters."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from keystage.core.ctf.reader import check_ctf
from keystage.core.pupils.roster_csv import read_roster_csv
from keystage.organisations.models import School
from keystage.pupils.models import Pupil


@pytest.mark.django_db
def test_a_synthetic_year_is_written_checked_and_loaded(tmp_path: Path):
    out = StringIO()
    call_command(
        "synth", "--scale", "small", "-o", str(tmp_path), "--per-school", "--ctf", "--load", stdout=out
    )
    assert "Loaded 52 schools" in out.getvalue()
    rosters = sorted((tmp_path / "rosters").glob("*.csv"))
    assert len(rosters) == 52
    read = read_roster_csv(rosters[0].read_bytes())
    assert read.problems == [] and read.pupils
    ctfs = sorted((tmp_path / "ctf").glob("*_CTF_*LLLL_001.xml"))
    assert len(ctfs) == 40  # one per primary school
    assert check_ctf(ctfs[0]).problems == []
    assert School.objects.count() == 52
    assert Pupil.objects.count() == sum(len(read_roster_csv(p.read_bytes()).pupils) for p in rosters)
    header = (tmp_path / "ks4_results.csv").read_text().splitlines()[0]
    assert header == "upn,qan,grade,exam_date"
    call_command("synth", "--scale", "small", "--load", stdout=StringIO())  # again: nothing duplicated
    assert School.objects.count() == 52


def test_synth_says_where_the_year_should_go():
    with pytest.raises(CommandError, match="Say where the year goes"):
        call_command("synth", "--scale", "school")
