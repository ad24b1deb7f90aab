"""`keystage collections`: platform administrators open collections from the command line and list them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from keystage.audit.models import AuditAction, AuditEvent
from keystage.results.models import Collection
from tests.reference_data.catalogue import without_ks4_catalogue
from tests.results.conftest import open_collection

LONDON = ZoneInfo("Europe/London")


def _run(*args: str) -> str:
    out = StringIO()
    call_command("collections", *args, stdout=out)
    return out.getvalue()


def _create(*extra: str, collection: str = "phonics", year: str = "2026") -> str:
    return _run(
        "create",
        "--collection",
        collection,
        "--year",
        year,
        "--opens",
        "2026-06-01",
        "--provisional-deadline",
        "2026-07-03T17:00",
        "--final-deadline",
        "2026-09-25",
        *extra,
    )


@pytest.mark.django_db
def test_create_opens_the_collection_with_local_times_and_queues_its_deadlines(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        out = _create(
            "--terms",
            "  Results are used for your reports.  ",
            "--provisional-reports-due",
            "2026-07-10",
            "--final-reports-due",
            "2026-10-01",
        )
    assert "Opened Phonics 2025/26" in out and "provisional deadline 03/07/2026 17:00" in out
    collection = Collection.objects.get()
    assert (collection.kind, collection.year) == ("phonics", 2026)
    # A date alone opens at 00:00; a deadline given as a date alone is at 23:59, UK time.
    assert collection.opens_at == datetime(2026, 6, 1, 0, 0, tzinfo=LONDON)
    assert collection.provisional_deadline == datetime(2026, 7, 3, 17, 0, tzinfo=LONDON)
    assert collection.final_deadline == datetime(2026, 9, 25, 23, 59, tzinfo=LONDON)
    assert collection.terms == "Results are used for your reports."
    assert (collection.provisional_reports_due, collection.final_reports_due) == (
        date(2026, 7, 10),
        date(2026, 10, 1),
    )
    assert collection.created_by is None
    assert AuditEvent.objects.filter(action=AuditAction.COLLECTION_CREATED, subject=str(collection)).exists()
    queued = DBTaskResult.objects.filter(task_path__endswith="collect_at_deadline")
    assert sorted(t.run_after for t in queued) == [collection.provisional_deadline, collection.final_deadline]


@pytest.mark.django_db
def test_terms_come_from_a_file_and_a_time_with_an_offset_is_kept(tmp_path: Path):
    terms = tmp_path / "terms.txt"
    terms.write_text("Les résultats servent aux rapports.\n", encoding="utf-8")
    _run(
        "create",
        "--collection",
        "ks1",
        "--year",
        "2026",
        "--opens",
        "2026-06-01T08:30+00:00",
        "--provisional-deadline",
        "2026-07-03",
        "--final-deadline",
        "2026-07-03",
        "--terms-file",
        str(terms),
    )
    collection = Collection.objects.get(kind="ks1")
    assert collection.terms == "Les résultats servent aux rapports."
    assert collection.opens_at == datetime(2026, 6, 1, 9, 30, tzinfo=LONDON)  # 08:30 UTC is 09:30 BST
    assert collection.provisional_deadline == collection.final_deadline  # on the same day is allowed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--opens", "first of June"), "--opens “first of June” is not a date or time"),
        (("--final-deadline", "2026-02-30"), "--final-deadline “2026-02-30” is not a date or time"),
        (("--final-deadline", "2026-06-30"), "must open before the provisional deadline"),
        (("--provisional-reports-due", "soon"), "--provisional-reports-due “soon” is not a date"),
        (("--terms", "   "), "terms and conditions are empty"),
    ],
)
def test_wrong_input_is_a_clear_error_and_opens_nothing(args, message):
    values = {
        "--opens": "2026-06-01",
        "--provisional-deadline": "2026-07-03",
        "--final-deadline": "2026-09-25",
        "--terms": "Terms.",
    }
    extra: list[str] = []
    for name, value in zip(args[::2], args[1::2], strict=True):
        if name in values:
            values[name] = value
        else:
            extra += [name, value]
    with pytest.raises(CommandError, match=message):
        _run(
            "create",
            "--collection",
            "phonics",
            "--year",
            "2026",
            *[part for pair in values.items() for part in pair],
            *extra,
        )
    assert not Collection.objects.exists()


@pytest.mark.django_db
def test_a_collection_that_exists_or_has_no_reference_data_is_refused(tmp_path: Path):
    _create("--terms", "Terms.")
    with pytest.raises(CommandError, match="Phonics 2025/26 already exists"):
        _create("--terms", "Other terms.")
    without_ks4_catalogue()
    with pytest.raises(CommandError, match="KS4 qualification catalogue has not been loaded"):
        _create("--terms", "Terms.", collection="ks4-gcse")
    with pytest.raises(CommandError, match="not an academic year"):
        _create("--terms", "Terms.", year="26")
    missing = tmp_path / "missing.txt"
    with pytest.raises(CommandError, match="Cannot read"):
        _create("--terms-file", str(missing), collection="eyfsp")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Données".encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        _create("--terms-file", str(latin1), collection="eyfsp")
    assert list(Collection.objects.values_list("kind", flat=True)) == ["phonics"]


@pytest.mark.django_db
def test_list_shows_each_collections_window_and_state_and_filters_by_year():
    assert "No collections" in _run("list")
    now = timezone.now()
    open_collection("phonics")
    open_collection(
        "ks1",
        year=2025,
        opens_at=now - timedelta(days=400),
        provisional_deadline=now - timedelta(days=380),
        final_deadline=now - timedelta(days=370),
    )
    open_collection(
        "eyfsp",
        opens_at=now + timedelta(days=5),
        provisional_deadline=now + timedelta(days=10),
        final_deadline=now + timedelta(days=20),
    )
    lines = _run("list").splitlines()
    assert lines[0].startswith("COLLECTION")
    states = {line.split()[0]: line for line in lines[1:]}
    assert set(states) == {"phonics", "ks1", "eyfsp"}
    assert states["phonics"].endswith("open") and "2025/26" in states["phonics"]
    assert states["ks1"].endswith("closed") and "2024/25" in states["ks1"]
    assert states["eyfsp"].endswith("not yet open")
    only = _run("list", "--year", "2025").splitlines()
    assert [line.split()[0] for line in only[1:]] == ["ks1"]
    assert "No collections for 2029/30" in _run("list", "--year", "2030")
