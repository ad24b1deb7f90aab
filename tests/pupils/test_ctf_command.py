"""`keystage ctf`: a school's roster exported, checked, and imported into another school."""

from __future__ import annotations

from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from keystage.core.pupils.model import Pupil as CorePupil
from keystage.core.pupils.model import SenProvision, Sex, build_upn
from keystage.pupils.models import Pupil
from keystage.pupils.services import import_roster


def _run(*args: str) -> str:
    out = StringIO()
    call_command("ctf", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_export_check_and_import_carry_the_roster_across(world, tmp_path: Path):
    roster = [
        CorePupil(
            upn=build_upn("801", "4001", 20, i),
            surname=f"S{i}",
            forename="F",
            date_of_birth=date(2014, 1, i),
            sex=Sex.MALE if i % 2 else Sex.FEMALE,
            nc_year=6,
            fsm6=i == 1,
            sen=SenProvision.SUPPORT,
            ethnicity="BAFR",
        )
        for i in range(1, 4)
    ]
    import_roster(school=world.s1, academic_year=2026, pupils=roster, full=True, source="r.csv")
    written = _run(
        "export",
        "--school",
        world.s1.dfe_number,
        "--year",
        "2026",
        "--to",
        world.s2.dfe_number,
        "-o",
        str(tmp_path),
    )
    path = tmp_path / f"{world.s1.dfe_number}_CTF_{world.s2.dfe_number}_001.xml"
    assert f"Wrote 3 pupils to {path}" in written
    assert "No problems found" in _run("check", str(path))
    imported = _run("import", str(path), "--school", world.s2.dfe_number, "--year", "2026")
    assert "3 added" in imported
    moved = Pupil.objects.get(school=world.s2, upn=roster[0].upn)
    assert (moved.surname, moved.sex, moved.fsm6, moved.sen, moved.ethnicity) == (
        "S1",
        "M",
        True,
        "K",
        "BAFR",
    )
    _run(
        "export",
        "--school",
        world.s1.dfe_number,
        "--year",
        "2026",
        "--to",
        world.s2.dfe_number,
        "-o",
        str(tmp_path),
    )
    assert (
        tmp_path / f"{world.s1.dfe_number}_CTF_{world.s2.dfe_number}_002.xml"
    ).exists()  # never overwritten


def test_a_broken_or_hostile_file_is_a_clear_error_and_imports_nothing(world, tmp_path: Path):
    hostile = tmp_path / "x.xml"
    hostile.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><CTfile>&a;</CTfile>')
    with pytest.raises(CommandError, match="declares a document type"):
        _run("import", str(hostile), "--school", world.s1.dfe_number, "--year", "2026")
    with pytest.raises(CommandError, match="No school with DfE number 8009999"):
        _run("import", str(hostile), "--school", "8009999", "--year", "2026")
    assert not Pupil.objects.exists()


def _roster_of(world, count):
    pupils = [
        CorePupil(
            upn=build_upn("801", "4001", 20, i),
            surname=f"S{i}",
            forename="F",
            date_of_birth=date(2014, 1, i),
            sex=Sex.FEMALE,
            nc_year=6,
            ks2_reading=None,
        )
        for i in range(1, count + 1)
    ]
    import_roster(school=world.s1, academic_year=2026, pupils=pupils, full=True, source="r.csv")
    return pupils


def test_a_ctf_for_one_new_pupil_does_not_take_the_rest_off_roll(world, tmp_path: Path):
    _roster_of(world, 6)
    _run("export", "--school", world.s1.dfe_number, "--year", "2026", "--to", "la", "-o", str(tmp_path))
    path = next(tmp_path.glob("*.xml"))
    data = path.read_bytes()
    first_pupil_end = data.index(b"</Pupil>") + len(b"</Pupil>")
    one = (
        data[: data.index(b"<Pupil>")]
        + data[data.index(b"<Pupil>") : first_pupil_end]
        + b"\n  </CTFpupilData>\n</CTfile>\n"
    )
    path.write_bytes(
        one.replace(
            b"<DocumentQualifier>partial</DocumentQualifier>", b"<DocumentQualifier>full</DocumentQualifier>"
        )
    )
    out = _run("import", str(path), "--school", world.s1.dfe_number, "--year", "2026")
    assert "0 marked as left" in out
    assert Pupil.objects.filter(school=world.s1, on_roll=True).count() == 6


def test_a_ctf_neither_from_nor_to_the_school_is_refused(world, tmp_path: Path):
    _roster_of(world, 2)
    _run("export", "--school", world.s1.dfe_number, "--year", "2026", "--to", "la", "-o", str(tmp_path))
    path = next(tmp_path.glob("*.xml"))
    with pytest.raises(CommandError, match=f"not from or to {world.s4.dfe_number}"):
        _run("import", str(path), "--school", world.s4.dfe_number, "--year", "2026")
    assert not Pupil.objects.filter(school=world.s4).exists()


def test_exports_never_overwrite_an_earlier_file(world, tmp_path: Path):
    _roster_of(world, 1)
    for _ in range(2):
        _run("export", "--school", world.s1.dfe_number, "--year", "2026", "--to", "la", "-o", str(tmp_path))
    first = tmp_path / f"{world.s1.dfe_number}_CTF_800LLLL_001.xml"
    first.unlink()
    second = (tmp_path / f"{world.s1.dfe_number}_CTF_800LLLL_002.xml").read_bytes()
    _run("export", "--school", world.s1.dfe_number, "--year", "2026", "--to", "la", "-o", str(tmp_path))
    assert (tmp_path / f"{world.s1.dfe_number}_CTF_800LLLL_002.xml").read_bytes() == second
