"""The demo: one local authority, one trust with three schools, three more schools in the LA,
and a person for every role. Loading it twice changes nothing."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date

from django.db import transaction

from keystage.accounts.models import Membership, User
from keystage.core.roles import Role
from keystage.organisations.models import LocalAuthority, Organisation, School, Trust

DEMO_PASSWORD = "keystage-demo-2026"  # noqa: S105  (printed at start; demo only)


@dataclass(frozen=True)
class DemoSchool:
    name: str
    urn: str
    dfe_number: str
    phase: str
    school_type: str
    in_trust: bool


LA = ("990", "Riverside (demo LA)")
TRUST = ("Oakfield Learning Trust (demo)", "09876543")
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
        la, _ = LocalAuthority.objects.get_or_create(code=LA[0], defaults={"name": LA[1]})
        trust, _ = Trust.objects.get_or_create(companies_house_number=TRUST[1], defaults={"name": TRUST[0]})
        orgs: dict[str, Organisation] = {"la": la, "trust": trust}
        for spec in SCHOOLS:
            school, created = School.objects.get_or_create(
                urn=spec.urn,
                defaults={
                    "name": spec.name,
                    "dfe_number": spec.dfe_number,
                    "phase": spec.phase,
                    "school_type": spec.school_type,
                    "la": la,
                    "trust": trust if spec.in_trust else None,
                },
            )
            if created:
                school.full_clean()
            orgs[spec.urn] = school
        logins: list[DemoLogin] = []
        for email, name, role, key in PEOPLE:
            user = _user(email, name)
            Membership.objects.get_or_create(user=user, organisation=orgs[key], role=role.value)
            logins.append(DemoLogin(email, name, role.label, orgs[key].name))
        staff = _user(*PLATFORM_ADMIN, is_staff=True, is_superuser=True)
        logins.append(DemoLogin(staff.email, staff.full_name, "Platform administrator", "(Django admin)"))
    return logins


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
    """Every collection of the current year, open for uploads (the KS4 ones once DfE's catalogue is
    loaded from the reference folder). Made once; a later run leaves their dates alone."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from keystage.core.reference.ks4_catalogue import CatalogueFileError, import_dfe_2019_folder
    from keystage.core.results.kinds import KINDS
    from keystage.reference_data.models import Qualification
    from keystage.reference_data.services import load_ks4_catalogue
    from keystage.results.models import Collection
    from keystage.results.services import CollectionError, create_collection

    year = year or current_academic_year()
    folder = settings.KEYSTAGE_REFERENCE_DIR / "ks4" / "dfe-2019"
    if not Qualification.objects.exists() and folder.is_dir():
        # A broken folder leaves the KS4 collections out; the demo says which collections are open.
        with contextlib.suppress(CatalogueFileError):
            load_ks4_catalogue(import_dfe_2019_folder(folder), source=str(folder))
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
