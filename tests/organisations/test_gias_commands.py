"""`keystage organisations import-gias` and `keystage organisations list`, as platform staff run them."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from keystage.cli import main
from keystage.organisations.models import School
from tests.core.organisations.gias_files import england_sample, gias_bytes


@pytest.fixture
def gias_file(tmp_path):
    path = tmp_path / "edubasealldata20260301.csv"
    path.write_bytes(gias_bytes(england_sample()))
    return path


def test_import_gias_prints_the_summary_and_a_second_run_changes_nothing(db, gias_file, capsys):
    call_command("organisations", "import-gias", str(gias_file))
    out = capsys.readouterr().out
    assert "Schools: 9 created, 0 updated (0 of them closed), 0 unchanged, 9 rows skipped." in out
    assert "Local authorities: 5 created, 0 renamed. Trusts: 2 created, 0 renamed." in out
    assert "Imported edubasealldata20260301.csv." in out
    call_command("organisations", "import-gias", str(gias_file))
    assert "Schools: 0 created, 0 updated (0 of them closed), 9 unchanged" in capsys.readouterr().out


def test_import_gias_prints_every_problem_by_row_column_and_value_and_changes_nothing(db, tmp_path, capsys):
    records = england_sample()
    records[2]["StatutoryLowAge"] = "eleven"
    records[6]["EstablishmentNumber"] = "12345"
    path = tmp_path / "bad.csv"
    path.write_bytes(gias_bytes(records))
    with pytest.raises(CommandError, match=r"bad\.csv: 2 problems, so nothing was imported"):
        call_command("organisations", "import-gias", str(path))
    err = capsys.readouterr().err
    assert "row 4, StatutoryLowAge “eleven”: An age must be a whole number of years, or blank." in err
    assert "row 8, EstablishmentNumber “12345”: The establishment number must be up to 4 digits" in err
    assert not School.objects.exists()


def test_import_gias_of_a_file_that_is_not_there(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("organisations", "import-gias", str(tmp_path / "missing.csv"))


def test_list_json_gives_every_kind_with_its_identifiers(db, gias_file, capsys):
    call_command("organisations", "import-gias", str(gias_file))
    capsys.readouterr()
    call_command("organisations", "list", "--json")
    rows = json.loads(capsys.readouterr().out)
    assert {r["kind"] for r in rows} == {"la", "trust", "school"}
    assert {"kind": "la", "name": "Cumberland", "la_code": "942"} in rows
    trust = next(r for r in rows if r["kind"] == "trust" and r["gias_uid"] == "5001")
    assert trust == {
        "kind": "trust",
        "name": "Nene Valley Learning Trust",
        "la_code": None,
        "gias_uid": "5001",
        "companies_house_number": None,
    }
    academy = next(r for r in rows if r.get("urn") == "100002")
    assert {k: academy[k] for k in ("name", "la_code", "dfe_number", "trust", "phase", "open")} == {
        "name": "Café Lumière Academy",
        "la_code": "941",
        "dfe_number": "9414001",
        "trust": "Nene Valley Learning Trust",
        "phase": "secondary",
        "open": True,
    }
    assert next(r for r in rows if r.get("urn") == "100001")["trust"] is None


def test_list_by_la_and_kind(db, gias_file, capsys):
    call_command("organisations", "import-gias", str(gias_file))
    capsys.readouterr()
    call_command("organisations", "list", "--json", "--la", "941")
    rows = json.loads(capsys.readouterr().out)
    assert sorted((r["kind"], r["name"]) for r in rows) == [
        ("la", "West Northamptonshire"),
        ("school", "Brackley Nursery School"),
        ("school", "Café Lumière Academy"),
        ("trust", "Nene Valley Learning Trust"),
    ]
    call_command("organisations", "list", "--json", "--kind", "school", "--la", "838")
    assert {r["urn"] for r in json.loads(capsys.readouterr().out)} == {"100003", "100017"}
    call_command("organisations", "list", "--kind", "la")
    assert "LA      943      Westmorland and Furness" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No local authority 999"):
        call_command("organisations", "list", "--la", "999")


@pytest.mark.parametrize("action", ["import-gias", "list"])
def test_every_subcommand_has_help(action, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["keystage", "organisations", action, "--help"])
    assert stopped.value.code == 0
    assert "usage: keystage organisations" in capsys.readouterr().out
