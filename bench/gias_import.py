"""GIAS's establishment file at national size: the time to read and import it into a fresh database,
and again (which changes nothing), against a baseline measured in the same run: Polars reading the same
file, decoded from the same Windows-1252, every column as text (the least any reader of it does).

    keystage bench gias_import [--rows 50000] [--seed 1] [--repeat 3]

The file is generated: about 50,000 rows of DfE's 139 columns in Windows-1252, a realistic mix of types
and statuses (some 24,000 open state-funded schools, closed predecessors sharing their successors' DfE
numbers, independents, colleges, children's centres, Welsh establishments, ...), 153 LAs and about
2,500 trusts. The import runs in a process of its own against a fresh SQLite database (migrated first,
not timed): parse (core reader) and database import (one transaction), then the same file again.

Goals: the whole national file imported in under 30 s, and within 10x the bare read.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from keystage.core.organisations.gias import read_gias
from keystage.core.organisations.gias_format import ESTABLISHMENT_TYPES, GIAS_COLUMNS, write_gias_csv
from keystage.core.pupils.la_codes import issuing_authorities

GOAL_SECONDS = 30.0
GOAL_RATIO = 10.0
T = TypeVar("T")

# Open state-funded schools by type, about as many as England has.
OPEN_STATE = {
    "Community school": 7000,
    "Voluntary aided school": 2400,
    "Voluntary controlled school": 1800,
    "Foundation school": 700,
    "Local authority nursery school": 380,
    "Community special school": 700,
    "Foundation special school": 50,
    "Pupil referral unit": 150,
    "Academy converter": 7400,
    "Academy sponsor led": 1650,
    "Academy special converter": 250,
    "Academy special sponsor led": 100,
    "Academy alternative provision converter": 60,
    "Academy alternative provision sponsor led": 50,
    "Academy 16-19 converter": 30,
    "Academy 16 to 19 sponsor led": 20,
    "City technology college": 3,
    "Free schools": 700,
    "Free schools special": 150,
    "Free schools alternative provision": 40,
    "Free schools 16 to 19": 40,
    "University technical college": 45,
    "Studio schools": 25,
}
# Everything else GIAS lists that is not an open state-funded school.
OTHERS = {
    "Other independent school": 2400,
    "Other independent special school": 700,
    "Non-maintained special school": 60,
    "Further education": 250,
    "Sixth form centres": 150,
    "Higher education institutions": 150,
    "Welsh establishment": 1800,
    "Children's centre": 3400,
    "Online provider": 20,
    "Secure units": 15,
    "Service children's education": 40,
    "Miscellaneous": 300,
    "British schools overseas": 180,
    "Special post 16 institution": 100,
}
PROPOSED_TO_OPEN = 300
PHASE_OF = {
    "Local authority nursery school": ("Nursery", 2, 5),
    "Pupil referral unit": ("Not applicable", 11, 16),
    "Academy alternative provision converter": ("Not applicable", 11, 16),
    "Academy alternative provision sponsor led": ("Not applicable", 11, 16),
    "Free schools alternative provision": ("Not applicable", 11, 16),
    "Academy 16-19 converter": ("16 plus", 16, 19),
    "Academy 16 to 19 sponsor led": ("16 plus", 16, 19),
    "Free schools 16 to 19": ("16 plus", 16, 19),
    "University technical college": ("Secondary", 14, 19),
    "Studio schools": ("Secondary", 14, 19),
}
MAINSTREAM_PHASES = [
    ("Primary", 4, 11, 0.78),
    ("Secondary", 11, 18, 0.17),
    ("All-through", 4, 18, 0.02),
    ("Middle deemed secondary", 9, 13, 0.01),
    ("Middle deemed primary", 8, 12, 0.02),
]
PREFIX = {"Nursery": 1, "Primary": 2, "Middle deemed primary": 3, "Middle deemed secondary": 3,
          "Secondary": 4, "All-through": 4, "16 plus": 4, "Not applicable": 1}  # fmt: skip
PLACES = ["Ashford", "Brampton", "Carlton", "Denby", "Eastwood", "Fairfield", "Grange", "Hilltop",
          "Kingsley", "Langley", "Marston", "Newbold", "Oakley", "Parkside", "Queensbury",
          "Redhill"]  # fmt: skip
NAMES = ["Primary School", "Academy", "High School", "Church of England Primary School", "Infant School",
         "Junior School", "Catholic Primary School", "School", "College"]  # fmt: skip


# What the columns keystage does not read hold, so that a row is as long as in DfE's file (about 1.3 kB).
FILLER = {
    column: "0" if column.endswith("(code)") else "Not applicable" if column.endswith("(name)") else ""
    for column in GIAS_COLUMNS
} | {
    "Boarders (name)": "No boarders",
    "NurseryProvision (name)": "No Nursery Classes",
    "OfficialSixthForm (name)": "Does not have a sixth form",
    "ReligiousCharacter (name)": "Does not apply",
    "ReligiousEthos (name)": "Does not apply",
    "AdmissionsPolicy (name)": "Not applicable",
    "SpecialClasses (name)": "No Special Classes",
    "CensusDate": "16-01-2025",
    "TrustSchoolFlag (name)": "Not applicable",
    "SchoolSponsorFlag (name)": "Not applicable",
    "FederationFlag (name)": "Not under a federation",
    "OfstedSpecialMeasures (name)": "Not in special measures",
    "County (name)": "Not recorded",
    "HeadTitle (name)": "Mrs",
    "HeadPreferredJobTitle": "Headteacher",
    "BSOInspectorateName (name)": "Not applicable",
    "Section41Approved (name)": "Not applicable",
    "TypeOfResourcedProvision (name)": "Not applicable",
    "GOR (name)": "East Midlands",
    "UrbanRural (name)": "(England/Wales) Urban city and town",
    "GSSLACode (name)": "E06000061",
    "Country (name)": "United Kingdom",
    "OfstedRating (name)": "Good",
    "InspectorateName (name)": "Ofsted",
}


def _filled(rng: random.Random, place: str) -> dict[str, Any]:
    return FILLER | {
        "SchoolWebsite": f"https://www.{place.lower()}-school-{rng.randrange(1000)}.example.sch.uk/",
        "TelephoneNum": f"01{rng.randrange(100_000_000, 999_999_999)}",
        "HeadFirstName": rng.choice(["Anne", "Ben", "Chloe", "David", "Erin", "Farid"]),
        "HeadLastName": rng.choice(["Smith", "Jones", "Patel", "Okafor", "Nowak", "Evans"]),
        "AdministrativeWard (name)": f"{place} and {rng.choice(PLACES)} Ward",
        "ParliamentaryConstituency (name)": f"{place} {rng.choice(['North', 'South', 'East', 'West'])}",
        "DistrictAdministrative (name)": f"{rng.choice(PLACES)} District",
        "MSOA (name)": f"{place} {rng.randrange(1, 40):03d}",
        "LSOA (name)": f"{place} {rng.randrange(1, 40):03d}{rng.choice('ABCDE')}",
        "MSOA (code)": f"E0{rng.randrange(2000000, 2999999)}",
        "LSOA (code)": f"E0{rng.randrange(1000000, 1999999)}",
        "Easting": rng.randrange(100000, 600000),
        "Northing": rng.randrange(100000, 600000),
        "UPRN": rng.randrange(10**9, 10**11),
        "UKPRN": rng.randrange(10_000_000, 10_099_999),
        "SchoolCapacity": rng.randrange(60, 2000),
        "NumberOfBoys": rng.randrange(20, 900),
        "NumberOfGirls": rng.randrange(20, 900),
        "PercentageFSM": f"{rng.uniform(2, 60):.1f}",
        "FSM": rng.randrange(5, 400),
        "OfstedLastInsp": f"{rng.randrange(1, 28):02d}-{rng.randrange(1, 13):02d}-{rng.randrange(2015, 2026)}",  # noqa: E501
        "Locality": rng.choice(PLACES),
        "Address3": "",
    }


def _ages(type_name: str, rng: random.Random) -> tuple[str, int, int]:
    if type_name in PHASE_OF:
        return PHASE_OF[type_name]
    if "special" in type_name.lower():
        return ("Not applicable", 2, 19)
    roll, total = rng.random(), 0.0
    for phase, low, high, share in MAINSTREAM_PHASES:
        total += share
        if roll < total:
            return (phase, low, high)
    return ("Primary", 4, 11)


def national_records(rows: int = 50_000, seed: int = 1) -> list[dict[str, Any]]:
    """A national-size establishment file's rows (see the module's docstring), in a shuffled order."""
    rng = random.Random(seed)
    scale = rows / 50_000
    current = sorted(code for code, la in issuing_authorities().items() if la.status == "current")
    former = sorted(code for code, la in issuing_authorities().items() if la.status == "former")
    names = {code: la.name for code, la in issuing_authorities().items()}
    trusts = [(str(10_000 + n), f"{rng.choice(PLACES)} {rng.choice(['Learning', 'Education', 'Academies'])} "
               f"Trust {n}") for n in range(max(1, round(2500 * scale)))]  # fmt: skip
    trust_weights = [1 / (n + 5) for n in range(len(trusts))]  # a few large trusts, many small
    next_number: Counter[tuple[str, int]] = Counter()
    urns = rng.sample(range(100_000, 160_000), rows + 10)
    records: list[dict[str, Any]] = []

    def add(type_name: str, status: str, la: str, number: str | None = None, **more: Any) -> dict[str, Any]:
        type_code, group_code, group = ESTABLISHMENT_TYPES.get(type_name, (12, 12, "Children's centres"))
        phase, low, high = _ages(type_name, rng)
        if number is None:
            prefix = (
                7
                if "special" in type_name.lower()
                else 6
                if "independent" in type_name.lower()
                else PREFIX[phase]
            )
            next_number[(la, prefix)] += 1
            number = f"{prefix}{next_number[(la, prefix)]:03d}"
        name = f"{rng.choice(PLACES)} {rng.choice(NAMES)}"
        if rng.random() < 0.03:
            name = f"St Mary\u2019s Café {name}"  # characters only Windows-1252 (not ASCII) holds
        record = _filled(rng, rng.choice(PLACES)) | {
            "URN": urns[len(records)], "LA (code)": la, "LA (name)": names.get(la, f"LA {la}"),
            "EstablishmentNumber": number, "EstablishmentName": name,
            "TypeOfEstablishment (code)": type_code, "TypeOfEstablishment (name)": type_name,
            "EstablishmentTypeGroup (code)": group_code, "EstablishmentTypeGroup (name)": group,
            "EstablishmentStatus (name)": status, "PhaseOfEducation (name)": phase,
            "StatutoryLowAge": low, "StatutoryHighAge": high, "Gender (name)": "Mixed",
            "OpenDate": f"01-09-{rng.randrange(1950, 2025)}", "Town": rng.choice(PLACES),
            "Postcode": f"AB{rng.randrange(1, 99)} {rng.randrange(1, 9)}CD",
            "NumberOfPupils": rng.randrange(40, 1800),
            "LastChangedDate": "01-03-2026", "Street": f"{rng.randrange(1, 200)} High Street",
        }  # fmt: skip
        if status == "Closed":
            record["CloseDate"] = f"31-08-{rng.randrange(1995, 2026)}"
        if (
            group in {"Academies", "Free Schools"}
            and type_name != "City technology college"
            and rng.random() < 0.93
        ):
            uid, trust_name = rng.choices(trusts, trust_weights)[0]
            record["Trusts (code)"], record["Trusts (name)"] = uid, trust_name
        record.update(more)
        records.append(record)
        return record

    state = [t for t, n in OPEN_STATE.items() for _ in range(round(n * scale))]
    for type_name in state:
        la = rng.choice(current)
        opened = add(type_name, "Open" if rng.random() < 0.99 else "Open, but proposed to close", la)
        if type_name == "Academy converter" and rng.random() < 0.8:
            # The maintained school it replaced: closed, with the same DfE number.
            add("Community school", "Closed", la, number=str(opened["EstablishmentNumber"]))
    for type_name, n in OTHERS.items():
        for _ in range(round(n * scale)):
            la = "660" if type_name == "Welsh establishment" else rng.choice(current)
            add(type_name, "Open" if rng.random() < 0.8 else "Closed", la)
    for _ in range(round(PROPOSED_TO_OPEN * scale)):
        add("Free schools", "Proposed to open", rng.choice(current))
    while len(records) < rows:  # the long tail of schools closed over the years, some in former LAs
        la = rng.choice(former) if rng.random() < 0.1 else rng.choice(current)
        add(rng.choice(list(OPEN_STATE)), "Closed", la)
    del records[rows:]
    rng.shuffle(records)
    return records


def baseline_read(path: Path) -> pl.DataFrame:
    """The bare read: the file decoded as DfE encodes it and parsed by Polars, every column as text."""
    text = path.read_bytes().decode("cp1252")
    return pl.read_csv(io.BytesIO(text.encode("utf-8")), infer_schema=False)


def best_of(repeat: int, work: Callable[[], T]) -> tuple[float, T]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        value = work()
        times.append(time.perf_counter() - started)
    return min(times), value


def verdict(first_seconds: float, baseline_seconds: float, second: dict[str, int]) -> list[str]:
    """PASS or FAIL for each goal: under 30 s, within 10x the bare read, a second run changing nothing."""
    ratio = first_seconds / baseline_seconds if baseline_seconds > 0 else float("inf")
    unchanged = second.get("created") == 0 and second.get("updated") == 0
    return [
        f"{'PASS' if first_seconds < GOAL_SECONDS else 'FAIL'}  whole import {first_seconds:.1f} s "
        f"(goal under {GOAL_SECONDS:.0f} s)",
        f"{'PASS' if ratio <= GOAL_RATIO else 'FAIL'}  {ratio:.1f}x the bare read "
        f"(goal within {GOAL_RATIO:.0f}x)",
        f"{'PASS' if unchanged else 'FAIL'}  the second import changed nothing "
        f"({second.get('created')} created, {second.get('updated')} updated)",
    ]


def import_step(path: Path, out: Path) -> None:
    """In a process of its own, against the benchmark's fresh database: import the file twice."""
    from keystage.organisations.models import School
    from keystage.organisations.services import import_gias

    report: dict[str, Any] = {}
    for run in ("first", "second"):
        started = time.perf_counter()
        parsed = read_gias(path.read_bytes())
        parsed_at = time.perf_counter()
        result = import_gias(parsed, actor_email="benchmark", source=path.name)
        done = time.perf_counter()
        if not result.ok:
            sys.exit(f"The generated file has problems: {result.problems[:3]}")
        report[run] = {
            "parse": parsed_at - started,
            "database": done - parsed_at,
            "total": done - started,
            "counts": result.counts(),
            "schools": len(parsed.schools),
        }
    report["in_database"] = School.objects.count()
    out.write_text(json.dumps(report))


def _run(env: dict[str, str], *arguments: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "keystage.cli", *arguments],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        sys.exit(f"keystage {' '.join(arguments[:3])} failed (exit {done.returncode}).")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="keystage bench gias_import")
    parser.add_argument(
        "--rows", type=int, default=50_000, help="rows in the generated file (default 50,000)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the baseline; the fastest counts")
    parser.add_argument("--step", choices=["import"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.step == "import":
        import_step(options.file, options.out)
        return

    with tempfile.TemporaryDirectory(prefix="keystage-gias-bench-") as folder:
        root = Path(folder)
        path = root / "edubasealldata-bench.csv"
        started = time.perf_counter()
        records = national_records(options.rows, options.seed)
        path.write_bytes(write_gias_csv(records))
        kinds = Counter(str(r["EstablishmentStatus (name)"]) for r in records)
        print(
            f"file: {len(records):,} rows, {path.stat().st_size / 1e6:.1f} MB, Windows-1252 "
            f"({', '.join(f'{n:,} {s.lower()}' for s, n in kinds.most_common())}); "
            f"generated in {time.perf_counter() - started:.1f} s"
        )
        baseline, frame = best_of(options.repeat, lambda: baseline_read(path))
        print(f"baseline (Polars read_csv, all {frame.width} columns as text): {baseline:.2f} s")
        del frame
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "keystage.settings",
            "DATABASE_URL": f"sqlite:///{root / 'bench.sqlite3'}",
            "KEYSTAGE_VAR_DIR": str(root / "var"),
            "SECRET_KEY": secrets.token_urlsafe(40),
        }
        started = time.perf_counter()
        _run(env, "migrate", "--no-input")
        print(f"fresh SQLite database migrated in {time.perf_counter() - started:.1f} s (not timed)")
        out = root / "report.json"
        _run(env, "bench", "gias_import", "--step", "import", "--file", str(path), "--out", str(out))
        report = json.loads(out.read_text())
        for run in ("first", "second"):
            r, c = report[run], report[run]["counts"]
            print(
                f"{run} import: {r['total']:.2f} s = parse {r['parse']:.2f} s + database "
                f"{r['database']:.2f} s ({r['total'] / baseline:.1f}x the baseline): "
                f"{c['created']:,} created, {c['updated']:,} updated, {c['unchanged']:,} unchanged, "
                f"{c['skipped']:,} skipped; "
                f"{c['las_created']} LAs and {c['trusts_created']:,} trusts created"
            )
        print(f"schools in the database: {report['in_database']:,}")
        for line in verdict(report["first"]["total"], baseline, report["second"]["counts"]):
            print(line)


if __name__ == "__main__":
    main()
