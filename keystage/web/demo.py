"""The demo: one local authority, one trust with three schools, three more schools in the LA,
and a person for every role. Loading it twice changes nothing.

The organisations come from a small file in GIAS's format (demo_data/gias-demo.csv), through the
same importer as DfE's national file; SCHOOLS says what it holds (tests check the two agree)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.db import transaction

from keystage.accounts.models import Membership, User
from keystage.core.organisations.gias import read_gias_file
from keystage.core.roles import Role
from keystage.organisations.models import LocalAuthority, Organisation, School, Trust
from keystage.organisations.services import import_gias

DEMO_PASSWORD = "keystage-demo-2026"  # noqa: S105  (printed at start; demo only)


@dataclass(frozen=True)
class DemoSchool:
    name: str
    urn: str
    dfe_number: str
    phase: str
    school_type: str
    in_trust: bool


DEMO_GIAS_FILE = Path(__file__).parent / "demo_data" / "gias-demo.csv"
LA = ("990", "Riverside (demo LA)")
TRUST = ("Oakfield Learning Trust (demo)", "09876543")
TRUST_GIAS_UID = "990001"  # far beyond GIAS's own group UIDs
SCHOOLS = [
    DemoSchool("Oakfield Academy", "190001", "9904001", "secondary", "academy", True),
    DemoSchool("Oakfield Primary Academy", "190002", "9902001", "primary", "academy", True),
    DemoSchool("Meadow Brook Free School", "190003", "9902002", "primary", "free_school", True),
    DemoSchool("St Mary's CE Primary School", "190004", "9903001", "primary", "maintained", False),
    DemoSchool("Riverside High School", "190005", "9904002", "secondary", "maintained", False),
    DemoSchool("Hillcrest Special School", "190006", "9907001", "special", "maintained", False),
]

# (email, full name, role, organisation key): "la", "trust", or a school's URN.
PEOPLE = [
    ("admin@oakfield-academy.example", "Amira Khan", Role.SCHOOL_ADMIN, "190001"),
    ("data@oakfield-academy.example", "Dan Okafor", Role.MANAGE_DATA, "190001"),
    ("head@oakfield-academy.example", "Helen Marsh", Role.SCHOOL_NAMED, "190001"),
    ("teacher@oakfield-academy.example", "Tom Reilly", Role.SCHOOL_ANON, "190001"),
    ("governor@oakfield-academy.example", "Grace Lee", Role.GOVERNOR, "190001"),
    ("admin@st-marys.example", "Sam Patel", Role.SCHOOL_ADMIN, "190004"),
    ("data@st-marys.example", "Ben Carter", Role.MANAGE_DATA, "190004"),
    # A primary head teacher, who signs the LA's KS1, KS2 TA, phonics and EYFSP confirmations.
    ("head@st-marys.example", "Ruth Adeyemi", Role.SCHOOL_NAMED, "190004"),
    ("trust-admin@oakfield-trust.example", "Tariq Aziz", Role.TRUST_ADMIN, "trust"),
    ("trust-named@oakfield-trust.example", "Nina Brooks", Role.TRUST_NAMED, "trust"),
    ("trust-anon@oakfield-trust.example", "Owen Hart", Role.TRUST_ANON, "trust"),
    ("la-officer@riverside-la.example", "Lucy Evans", Role.LA_DATA_OFFICER, "la"),
    ("la-named@riverside-la.example", "Noor Ahmed", Role.LA_NAMED, "la"),
    ("la-anon@riverside-la.example", "Alex Moore", Role.LA_ANON, "la"),
]
PLATFORM_ADMIN = ("platform@keystage.example", "Pat Admin")


@dataclass(frozen=True)
class DemoLogin:
    email: str
    full_name: str
    role: str
    organisation: str


def load_demo() -> list[DemoLogin]:
    """Create whatever of the demo is missing; never change what is there."""
    with transaction.atomic():
        _load_demo_organisations()
        la = LocalAuthority.objects.get(code=LA[0])
        trust = Trust.objects.get(gias_uid=TRUST_GIAS_UID)
        orgs: dict[str, Organisation] = {"la": la, "trust": trust}
        for spec in SCHOOLS:
            orgs[spec.urn] = School.objects.get(urn=spec.urn)
        logins: list[DemoLogin] = []
        for email, name, role, key in PEOPLE:
            user = _user(email, name)
            Membership.objects.get_or_create(user=user, organisation=orgs[key], role=role.value)
            logins.append(DemoLogin(email, name, role.label, orgs[key].name))
        staff = _user(*PLATFORM_ADMIN, is_staff=True, is_superuser=True)
        logins.append(DemoLogin(staff.email, staff.full_name, "Platform administrator", "(Django admin)"))
    return logins


def _load_demo_organisations() -> None:
    """The demo LA, trust and schools from the demo's GIAS file, adding only what is missing."""
    # A demo loaded before the GIAS import knew its trust by company number only: link it first.
    Trust.objects.filter(companies_house_number=TRUST[1], gias_uid__isnull=True).exclude(
        pk__in=Trust.objects.filter(gias_uid=TRUST_GIAS_UID).values("pk")
    ).update(gias_uid=TRUST_GIAS_UID)
    present = School.objects.filter(urn__in=[s.urn for s in SCHOOLS]).count()
    if present < len(SCHOOLS) or not Trust.objects.filter(gias_uid=TRUST_GIAS_UID).exists():
        parsed = read_gias_file(DEMO_GIAS_FILE)
        if parsed.problems:
            raise RuntimeError(f"{DEMO_GIAS_FILE}: {parsed.problems[0]}")
        import_gias(parsed, actor_email="demo", source=DEMO_GIAS_FILE.name, create_only=True)
    Trust.objects.filter(gias_uid=TRUST_GIAS_UID, companies_house_number__isnull=True).update(
        companies_house_number=TRUST[1]
    )


def _user(email: str, name: str, **flags: bool) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email, DEMO_PASSWORD, full_name=name, **flags)
    return user


def current_academic_year(today: date | None = None) -> int:
    """The academic year in progress, by the year it ends (from September)."""
    today = today or date.today()
    return today.year + (1 if today.month >= 9 else 0)


def load_demo_rosters(year: int | None = None, seed: int = 990) -> int:
    """A realistic synthetic year of pupils for every demo school (the same each time: seeded)."""
    import polars as pl

    from keystage.core.synth import SynthSpec, generate
    from keystage.core.synth.output import rosters_by_school
    from keystage.pupils.services import import_roster

    year = year or current_academic_year()
    schools = list(School.objects.filter(urn__in=[s.urn for s in SCHOOLS]).order_by("urn"))
    frame = pl.DataFrame(
        {
            "urn": [int(s.urn) for s in schools],
            "dfe_number": [s.dfe_number for s in schools],
            "name": [s.name for s in schools],
            "phase": [s.phase for s in schools],
        }
    )
    rosters = rosters_by_school(generate(SynthSpec(year=year, seed=seed), schools=frame))
    loaded = 0
    for school in schools:
        read = rosters[school.dfe_number]
        import_roster(
            school=school, academic_year=year, pupils=read.pupils, full=True, source="demo (synthetic)"
        )
        loaded += len(read.pupils)
    return loaded


DEMO_TERMS = (
    "Results you submit are used to produce your school's reports and the platform's national figures, "
    "and are shared with your trust and local authority. You confirm that the results are complete and "
    "accurate for every pupil in the file."
)


def load_demo_collections(year: int | None = None) -> list[str]:
    """Every collection of the current year, open for uploads (the KS4 ones with DfE's catalogue as
    keystage ships it, loaded here if migrate did not). Made once; a later run leaves their dates
    alone."""
    from datetime import timedelta

    from django.utils import timezone

    from keystage.core.reference.ks4_catalogue import CatalogueFileError
    from keystage.core.results.kinds import KINDS
    from keystage.reference_data.services import ensure_ks4_catalogue
    from keystage.results.models import Collection
    from keystage.results.services import CollectionError, create_collection

    year = year or current_academic_year()
    # Unreadable files (a broken KEYSTAGE_REFERENCE_DIR) leave the KS4 collections out; the demo says
    # which collections are open.
    with contextlib.suppress(CatalogueFileError, OSError):
        ensure_ks4_catalogue()
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    opened = []
    for kind in KINDS.values():
        existing = Collection.objects.filter(kind=kind.key, year=year).first()
        if existing is not None:
            opened.append(str(existing))
            continue
        try:
            collection = create_collection(
                kind=kind.key,
                year=year,
                opens_at=now - timedelta(days=7),
                provisional_deadline=now + timedelta(days=30),
                final_deadline=now + timedelta(days=60),
                terms=DEMO_TERMS,
                provisional_reports_due=(now + timedelta(days=37)).date(),
                final_reports_due=(now + timedelta(days=75)).date(),
            )
        except CollectionError:
            continue
        opened.append(str(collection))
    return opened
