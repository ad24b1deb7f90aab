"""GIAS-format files written by the tests: DfE's real column names (all 139, plus a few the reader
has never heard of) in a shuffled order, so that reading by position would fail, Windows-1252 encoded
as DfE publishes them."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

from keystage.core.organisations.gias_format import ESTABLISHMENT_TYPES, GIAS_COLUMNS, write_gias_csv

EXTRA_COLUMNS = ("SomethingGIASAddsNext (name)", "AnotherNewColumn (code)")
SHUFFLED_COLUMNS = tuple(random.Random(2026).sample([*GIAS_COLUMNS, *EXTRA_COLUMNS], len(GIAS_COLUMNS) + 2))
STATUS_CODES = {"Open": 1, "Closed": 2, "Open, but proposed to close": 3, "Proposed to open": 4}

LA_NAMES = {
    "940": "North Northamptonshire",
    "941": "West Northamptonshire",
    "838": "Dorset",
    "839": "Bournemouth, Christchurch and Poole",
    "942": "Cumberland",
    "943": "Westmorland and Furness",
    "208": "Lambeth",
    "660": "Isle of Anglesey",
}


def row(
    urn: str,
    name: str,
    *,
    la: str = "940",
    number: str = "2001",
    type_name: str = "Community school",
    phase: str = "Primary",
    status: str = "Open",
    ages: tuple[object, object] = (4, 11),
    trust: tuple[str, str] | None = None,
    closed: str = "",
    opened: str = "",
    group: str | None = None,
    more: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """One establishment as GIAS writes it; ``more`` sets any other column by name."""
    type_code, group_code, known_group = ESTABLISHMENT_TYPES.get(type_name, ("", "", "Other types"))
    group = known_group if group is None else group
    record: dict[str, object] = {
        "URN": urn,
        "LA (code)": la,
        "LA (name)": LA_NAMES.get(la, f"LA {la}"),
        "EstablishmentNumber": number,
        "EstablishmentName": name,
        "TypeOfEstablishment (code)": type_code,
        "TypeOfEstablishment (name)": type_name,
        "EstablishmentTypeGroup (code)": group_code,
        "EstablishmentTypeGroup (name)": group,
        "EstablishmentStatus (code)": STATUS_CODES.get(status, 9),
        "EstablishmentStatus (name)": status,
        "PhaseOfEducation (name)": phase,
        "StatutoryLowAge": ages[0],
        "StatutoryHighAge": ages[1],
        "Trusts (code)": trust[0] if trust else "",
        "Trusts (name)": trust[1] if trust else "",
        "CloseDate": closed,
        "OpenDate": opened,
        "Gender (name)": "Mixed",
        "Town": "Kettering",
        "Postcode": "NN16 0AA",
        "SomethingGIASAddsNext (name)": "whatever, with a comma",
    }
    record.update(more or {})
    return record


def gias_bytes(
    records: Iterable[Mapping[str, object]],
    *,
    encoding: str = "cp1252",
    columns: tuple[str, ...] = SHUFFLED_COLUMNS,
) -> bytes:
    return write_gias_csv(records, columns=columns, encoding=encoding)


NENE = ("5001", "Nene Valley Learning Trust")
ROCKINGHAM = ("5002", "Rockingham Schools Trust")


def england_sample() -> list[dict[str, object]]:
    """A little of England: LAs made since 2011, academies in trusts, a closed school, names that need
    Windows-1252 (é, a curly apostrophe), and establishments keystage does not take."""
    return [
        row("100001", "Brook Primary School", la="940", number="2001"),
        row(
            "100002",
            "Café Lumière Academy",
            la="941",
            number="4001",
            type_name="Academy converter",
            phase="Secondary",
            ages=(11, 18),
            trust=NENE,
            opened="01-09-2012",
        ),
        row(
            "100003",
            "St Peter\u2019s Free School",
            la="838",
            number="2003",
            type_name="Free schools",
            trust=NENE,
        ),
        row(
            "100004", "Old Mill Primary School", la="839", number="2004", status="Closed", closed="31-08-2023"
        ),
        row(
            "100005",
            "Fellside Special School",
            la="942",
            number="7001",
            type_name="Community special school",
            phase="Not applicable",
            ages=(2, 19),
        ),
        row(
            "100006",
            "Lakes Pupil Referral Unit",
            la="943",
            number="1100",
            type_name="Pupil referral unit",
            phase="Not applicable",
            ages=(11, 16),
        ),
        row(
            "100013",
            "Kettering Middle School",
            la="940",
            number="5201",
            type_name="Academy sponsor led",
            phase="Middle deemed secondary",
            ages=(9, 13),
            trust=ROCKINGHAM,
            status="Open, but proposed to close",
            closed="31-08-2027",
        ),
        row(
            "100014",
            "Brackley Nursery School",
            la="941",
            number="1001",
            type_name="Local authority nursery school",
            phase="Nursery",
            ages=(2, 5),
        ),
        row(
            "100016",
            "Emmanuel City Technology College",
            la="940",
            number="6905",
            type_name="City technology college",
            phase="Secondary",
            ages=(11, 18),
        ),
        row(
            "100017",
            "Wessex Studio School",
            la="838",
            number="4101",
            type_name="Studio schools",
            phase="Secondary",
            ages=(14, 19),
            trust=ROCKINGHAM,
        ),
        # Not taken.
        row(
            "100007",
            "Hilltop Independent School",
            la="940",
            number="6001",
            type_name="Other independent school",
            phase="Not applicable",
            ages=(3, 18),
        ),
        row(
            "100008",
            "Northampton College",
            la="941",
            number="8001",
            type_name="Further education",
            phase="16 plus",
            ages=(16, 99),
        ),
        row("100009", "Ysgol Gymraeg", la="660", number="2001", type_name="Welsh establishment"),
        row(
            "100010",
            "Corby Children\u2019s Centre",
            la="940",
            number="",
            type_name="Children's centre",
            phase="Not applicable",
            ages=("", ""),
            group="Children's centres",
        ),
        row(
            "100011",
            "Learn Online Ltd",
            la="000",
            number="",
            type_name="Online provider",
            phase="Not applicable",
            ages=("", ""),
        ),
        row(
            "100012",
            "New Horizons Academy",
            la="940",
            number="2002",
            type_name="Free schools",
            status="Proposed to open",
            opened="01-09-2027",
        ),
        row(
            "100015",
            "Greenfield School",
            la="941",
            number="7002",
            type_name="Non-maintained special school",
            phase="Not applicable",
            ages=(5, 19),
        ),
        row(
            "100018",
            "University of Northampton",
            la="941",
            number="",
            type_name="Higher education institutions",
            phase="Not applicable",
            ages=("", ""),
        ),
    ]
