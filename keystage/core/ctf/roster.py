"""Pupils for a roster from a CTF's pupil data, with a problem for anything a roster cannot take.

A CTF carries different details for different pupils; ``supplied`` says, per UPN, which roster
fields this file actually gave, so an import updates those and leaves the rest alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keystage.core.ctf.model import CTFPupil
from keystage.core.pupils.model import (
    InvalidUPNError,
    Pupil,
    SenProvision,
    Sex,
    check_upn,
    ethnic_group_of,
    nc_year_by_birth,
)
from keystage.core.pupils.roster_csv import parse_nc_year
from keystage.core.results import rules
from keystage.core.results.rules import Issue

ALWAYS = frozenset({"surname", "forename", "date_of_birth", "sex", "nc_year"})


@dataclass
class CTFRoster:
    pupils: list[Pupil] = field(default_factory=list)
    problems: list[Issue] = field(default_factory=list)  # each keeps its pupil out
    warnings: list[Issue] = field(default_factory=list)  # the pupil is imported, as each says
    upns_in_file: set[str] = field(default_factory=set)
    supplied: dict[str, frozenset[str]] = field(default_factory=dict)


def roster_from_ctf(pupils: list[CTFPupil], academic_year: int | None = None) -> CTFRoster:
    """With ``academic_year``, a pupil the file gives no NC year for (STA's multiplication check
    and other assessment-only files write none) is placed by age, with a warning; a pupil already
    on the roster keeps the year group it has."""
    roster = CTFRoster()
    first_seen: dict[str, int] = {}
    for number, ctf in enumerate(pupils, start=1):
        path = f"CTfile/CTFpupilData/Pupil[{number}]"
        problems: list[Issue] = []
        try:
            upn = check_upn(ctf.upn)
        except InvalidUPNError as error:
            upn = ctf.upn.strip().upper().replace(" ", "")
            problems.append(rules.CTF_UPN_INVALID.issue(path=f"{path}/UPN", for_upn=upn, reason=error))
        roster.upns_in_file.add(upn)
        if upn in first_seen:
            problems.append(
                rules.CTF_UPN_DUPLICATE.issue(path=f"{path}/UPN", for_upn=upn, first=first_seen[upn])
            )
        first_seen.setdefault(upn, number)
        by_age = not ctf.nc_year.strip() and academic_year is not None and ctf.date_of_birth is not None
        nc_year: int | None = None
        where = f"{path}/BasicDetails/NCyearActual"
        if by_age:
            assert academic_year is not None and ctf.date_of_birth is not None
            nc_year = nc_year_by_birth(ctf.date_of_birth, academic_year)
            if 0 <= nc_year <= 14:
                group = "Reception" if nc_year == 0 else f"Year {nc_year}"
                roster.warnings.append(rules.CTF_NC_YEAR_BY_AGE.issue(path=where, for_upn=upn, group=group))
            else:
                nc_year = None
                problems.append(rules.CTF_NC_YEAR_NOT_OF_SCHOOL_AGE.issue(path=where, for_upn=upn))
        else:
            try:
                nc_year = parse_nc_year(ctf.nc_year)
            except ValueError:
                problems.append(rules.CTF_NC_YEAR_INVALID.issue(path=where, for_upn=upn, value=ctf.nc_year))
        if ctf.date_of_birth is None:
            problems.append(rules.CTF_ROSTER_DOB_MISSING.issue(path=f"{path}/DOB", for_upn=upn))
        if ctf.sex not in {"M", "F"} or not ctf.surname or not ctf.forename:
            problems.append(rules.CTF_ROSTER_DETAILS_MISSING.issue(path=path, for_upn=upn))
        ethnicity = ctf.ethnicity.strip().upper()
        if ethnicity and ethnic_group_of(ethnicity) is None:
            where = f"{path}/BasicDetails/Ethnicity"
            problems.append(rules.CTF_ETHNICITY_INVALID.issue(path=where, for_upn=upn, value=ctf.ethnicity))
        if ctf.sen_provision and ctf.sen_provision not in {"E", "K", "N"}:
            where = f"{path}/SENhistory/SEN/SENprovision"
            problems.append(rules.CTF_SEN_INVALID.issue(path=where, for_upn=upn, value=ctf.sen_provision))
        if problems or ctf.date_of_birth is None or nc_year is None:
            roster.problems.extend(problems)
            continue
        given = set(ALWAYS) - ({"nc_year"} if by_age else set())
        given |= {"ethnicity"} if ethnicity else set()
        given |= {"sen"} if ctf.sen_provision else set()
        given |= {"eal"} if ctf.first_language else set()
        given |= {"fsm6"} if ctf.fsm_eligible is not None else set()
        given |= {"looked_after"} if ctf.in_care is not None else set()
        roster.supplied[upn] = frozenset(given)
        roster.pupils.append(
            Pupil(
                upn=upn,
                surname=ctf.surname,
                forename=ctf.forename,
                date_of_birth=ctf.date_of_birth,
                sex=Sex(ctf.sex),
                nc_year=nc_year,
                fsm6=bool(ctf.fsm_eligible),
                looked_after=bool(ctf.in_care),
                sen=SenProvision(ctf.sen_provision) if ctf.sen_provision else SenProvision.NONE,
                eal=(ctf.first_language.upper() != "ENG") if ctf.first_language else None,
                ethnicity=ethnicity or None,
            )
        )
    return roster
