"""Pupils for a roster from a CTF's pupil data, with a problem for anything a roster cannot take."""

from __future__ import annotations

from dataclasses import dataclass, field

from keystage.core.ctf.model import CTFPupil
from keystage.core.ctf.reader import CTFProblem
from keystage.core.pupils.model import InvalidUPNError, Pupil, SenProvision, Sex, check_upn, ethnic_group_of


@dataclass
class CTFRoster:
    pupils: list[Pupil] = field(default_factory=list)
    problems: list[CTFProblem] = field(default_factory=list)
    upns_in_file: set[str] = field(default_factory=set)


def roster_from_ctf(pupils: list[CTFPupil]) -> CTFRoster:
    roster = CTFRoster()
    for number, ctf in enumerate(pupils, start=1):
        path = f"CTfile/CTFpupilData/Pupil[{number}]"
        roster.upns_in_file.add(ctf.upn)
        problems: list[CTFProblem] = []
        try:
            upn = check_upn(ctf.upn)
        except InvalidUPNError as error:
            problems.append(CTFProblem(f"{path}/UPN", ctf.upn, str(error)))
            upn = ctf.upn
        nc_year = 0 if ctf.nc_year.upper() == "R" else int(ctf.nc_year) if ctf.nc_year.isdigit() else None
        if nc_year is None:
            problems.append(
                CTFProblem(
                    f"{path}/BasicDetails/NCyearActual",
                    upn,
                    f"NC year “{ctf.nc_year}” is missing or not R or a number: a roster needs it",
                )
            )
        if ctf.date_of_birth is None:
            problems.append(CTFProblem(f"{path}/DOB", upn, "a roster needs a date of birth"))
        if ctf.sex not in {"M", "F"} or not ctf.surname or not ctf.forename:
            problems.append(CTFProblem(path, upn, "a roster needs Surname, Forename and Sex (M or F)"))
        ethnicity = ctf.ethnicity.upper() if ethnic_group_of(ctf.ethnicity.upper()) else None
        sen = SenProvision(ctf.sen_provision) if ctf.sen_provision in {"E", "K", "N"} else SenProvision.NONE
        if problems or ctf.date_of_birth is None or nc_year is None:
            roster.problems.extend(problems)
            continue
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
                sen=sen,
                eal=(ctf.first_language.upper() != "ENG") if ctf.first_language else None,
                ethnicity=ethnicity,
            )
        )
    return roster
