"""`keystage template` and `keystage validate`, as an analyst or MIS script runs them."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.results.conftest import YEAR, filled, open_collection, roster

MARK = "Phonics screening check mark"


def _run_validate(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        call_command("validate", *args)
        raise SystemExit(0)
    return exit_info.value.code, capsys.readouterr().out


def test_template_then_validate_with_json_and_exit_status(world, tmp_path, capsys):
    open_collection()
    pupils = roster(world.s1)
    template = tmp_path / "t.xlsx"
    call_command(
        "template", "--collection", "phonics", "--year", str(YEAR), "--school", "8004001", "-o", template
    )
    assert "3 pupils" in capsys.readouterr().out
    good = tmp_path / "good.xlsx"
    good.write_bytes(filled(template.read_bytes(), "phonics", {(1, MARK): 35}))
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(filled(template.read_bytes(), "phonics", {(1, MARK): 35, (2, MARK): 41}))
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(template.read_bytes()[:500])

    base = ["--collection", "phonics", "--year", str(YEAR), "--school", "8004001", "--json"]
    status, out = _run_validate(capsys, good, *base)
    assert status == 0
    assert json.loads(out) == {"valid": True, "pupils": 3, "issues": []}

    status, out = _run_validate(capsys, bad, *base)
    report = json.loads(out)
    assert status == 1 and report["valid"] is False and report["pupils"] == 3
    assert report["issues"] == [
        {
            "row": 5,
            "column": "L",
            "column_header": MARK,
            "value": "41",
            "pupil": "",
            "code": "result.score_range",
            "message": (
                "Range must be between 0 to 40 and be whole numbers, or A, D, Q, L. Allows empty field."
            ),
            "severity": "error",
        }
    ]
    assert pupils[1].upn  # the second rostered pupil is row 5

    status, out = _run_validate(capsys, broken, *base)
    assert status == 2 and json.loads(out)["issues"][0]["code"] == "file.unreadable"

    status, out = _run_validate(capsys, bad, "--collection", "phonics", "--year", str(YEAR))
    assert status == 1 and "row 5, column L (Phonics screening check mark)" in out and "NOT valid" in out


def test_template_for_a_collection_not_opened_says_so(world, tmp_path):
    with pytest.raises(CommandError, match="no KS1 collection for 2026"):
        call_command(
            "template", "--collection", "ks1", "--year", "2026", "--school", "8004001", "-o", tmp_path / "x"
        )
