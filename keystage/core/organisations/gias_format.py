"""GIAS's establishment file as DfE publishes it, and how keystage names what is in it: the columns the
reader needs and every column in DfE's order, GIAS's types of establishment with the school type each
is taken as (gias.py's docstring says which are taken and why), the phases and the statuses.

``write_gias_csv`` writes a file in the format, for the demo, the tests and the benchmark; reading it is
gias.py's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

URN = "URN"
LA_CODE = "LA (code)"
LA_NAME = "LA (name)"
ESTABLISHMENT_NUMBER = "EstablishmentNumber"
NAME = "EstablishmentName"
TYPE = "TypeOfEstablishment (name)"
TYPE_GROUP = "EstablishmentTypeGroup (name)"
STATUS = "EstablishmentStatus (name)"
PHASE = "PhaseOfEducation (name)"
LOW_AGE = "StatutoryLowAge"
HIGH_AGE = "StatutoryHighAge"
TRUST_CODE = "Trusts (code)"
TRUST_NAME = "Trusts (name)"
CLOSE_DATE = "CloseDate"
OPEN_DATE = "OpenDate"

REQUIRED_COLUMNS = (
    URN,
    LA_CODE,
    LA_NAME,
    ESTABLISHMENT_NUMBER,
    NAME,
    TYPE,
    TYPE_GROUP,
    STATUS,
    PHASE,
    LOW_AGE,
    HIGH_AGE,
    TRUST_CODE,
    TRUST_NAME,
    CLOSE_DATE,
)

# The establishment file's columns in DfE's order, for writing files that look like the real thing
# (the demo, tests, the benchmark). Reading never relies on this order.
GIAS_COLUMNS = (
    "URN", "LA (code)", "LA (name)", "EstablishmentNumber", "EstablishmentName",
    "TypeOfEstablishment (code)", "TypeOfEstablishment (name)", "EstablishmentTypeGroup (code)",
    "EstablishmentTypeGroup (name)", "EstablishmentStatus (code)", "EstablishmentStatus (name)",
    "ReasonEstablishmentOpened (code)", "ReasonEstablishmentOpened (name)", "OpenDate",
    "ReasonEstablishmentClosed (code)", "ReasonEstablishmentClosed (name)", "CloseDate",
    "PhaseOfEducation (code)", "PhaseOfEducation (name)", "StatutoryLowAge", "StatutoryHighAge",
    "Boarders (code)", "Boarders (name)", "NurseryProvision (name)", "OfficialSixthForm (code)",
    "OfficialSixthForm (name)", "Gender (code)", "Gender (name)", "ReligiousCharacter (code)",
    "ReligiousCharacter (name)", "ReligiousEthos (name)", "Diocese (code)", "Diocese (name)",
    "AdmissionsPolicy (code)", "AdmissionsPolicy (name)", "SchoolCapacity", "SpecialClasses (code)",
    "SpecialClasses (name)", "CensusDate", "NumberOfPupils", "NumberOfBoys", "NumberOfGirls",
    "PercentageFSM", "TrustSchoolFlag (code)", "TrustSchoolFlag (name)", "Trusts (code)", "Trusts (name)",
    "SchoolSponsorFlag (name)", "SchoolSponsors (name)", "FederationFlag (name)", "Federations (code)",
    "Federations (name)", "UKPRN", "FEHEIdentifier", "FurtherEducationType (name)", "OfstedLastInsp",
    "OfstedSpecialMeasures (code)", "OfstedSpecialMeasures (name)", "LastChangedDate", "Street",
    "Locality", "Address3", "Town", "County (name)", "Postcode", "SchoolWebsite", "TelephoneNum",
    "HeadTitle (name)", "HeadFirstName", "HeadLastName", "HeadPreferredJobTitle",
    "BSOInspectorateName (name)", "InspectorateReport", "DateOfLastInspectionVisit",
    "NextInspectionVisit", "TeenMoth (name)", "TeenMothPlaces", "CCF (name)", "SENPRU (name)",
    "EBD (name)", "PlacesPRU", "FTProv (name)", "EdByOther (name)", "Section41Approved (name)",
    "SEN1 (name)", "SEN2 (name)", "SEN3 (name)", "SEN4 (name)", "SEN5 (name)", "SEN6 (name)",
    "SEN7 (name)", "SEN8 (name)", "SEN9 (name)", "SEN10 (name)", "SEN11 (name)", "SEN12 (name)",
    "SEN13 (name)", "TypeOfResourcedProvision (name)", "ResourcedProvisionOnRoll",
    "ResourcedProvisionCapacity", "SenUnitOnRoll", "SenUnitCapacity", "GOR (code)", "GOR (name)",
    "DistrictAdministrative (code)", "DistrictAdministrative (name)", "AdministrativeWard (code)",
    "AdministrativeWard (name)", "ParliamentaryConstituency (code)", "ParliamentaryConstituency (name)",
    "UrbanRural (code)", "UrbanRural (name)", "GSSLACode (name)", "Easting", "Northing", "MSOA (name)",
    "LSOA (name)", "InspectorateName (name)", "SENStat", "SENNoStat", "BoardingEstablishment (name)",
    "PropsName", "PreviousLA (code)", "PreviousLA (name)", "PreviousEstablishmentNumber",
    "OfstedRating (name)", "Country (name)", "UPRN", "SiteName", "QABName (code)", "QABName (name)",
    "EstablishmentAccredited (code)", "EstablishmentAccredited (name)", "QABReport", "CHNumber",
    "MSOA (code)", "LSOA (code)", "FSM", "AccreditationExpiryDate",
)  # fmt: skip

MAINTAINED, ACADEMY, FREE_SCHOOL, INDEPENDENT = "maintained", "academy", "free_school", "independent"

# GIAS's types of establishment: name -> (type code, group code, group name), as in its files of 2025.
ESTABLISHMENT_TYPES: dict[str, tuple[int, int, str]] = {
    "Community school": (1, 4, "Local authority maintained schools"),
    "Voluntary aided school": (2, 4, "Local authority maintained schools"),
    "Voluntary controlled school": (3, 4, "Local authority maintained schools"),
    "Foundation school": (5, 4, "Local authority maintained schools"),
    "City technology college": (6, 3, "Independent schools"),
    "Community special school": (7, 5, "Special schools"),
    "Non-maintained special school": (8, 5, "Special schools"),
    "Other independent special school": (10, 5, "Special schools"),
    "Other independent school": (11, 3, "Independent schools"),
    "Foundation special school": (12, 5, "Special schools"),
    "Pupil referral unit": (14, 4, "Local authority maintained schools"),
    "Local authority nursery school": (15, 4, "Local authority maintained schools"),
    "Further education": (18, 1, "Colleges"),
    "Secure units": (24, 9, "Other types"),
    "Offshore schools": (25, 9, "Other types"),
    "Service children's education": (26, 9, "Other types"),
    "Miscellaneous": (27, 9, "Other types"),
    "Academy sponsor led": (28, 10, "Academies"),
    "Higher education institutions": (29, 2, "Universities"),
    "Welsh establishment": (30, 6, "Welsh schools"),
    "Sixth form centres": (31, 1, "Colleges"),
    "Special post 16 institution": (32, 9, "Other types"),
    "Academy special sponsor led": (33, 10, "Academies"),
    "Academy converter": (34, 10, "Academies"),
    "Free schools": (35, 11, "Free Schools"),
    "Free schools special": (36, 11, "Free Schools"),
    "British schools overseas": (37, 9, "Other types"),
    "Free schools alternative provision": (38, 11, "Free Schools"),
    "Free schools 16 to 19": (39, 11, "Free Schools"),
    "University technical college": (40, 11, "Free Schools"),
    "Studio schools": (41, 11, "Free Schools"),
    "Academy alternative provision converter": (42, 10, "Academies"),
    "Academy alternative provision sponsor led": (43, 10, "Academies"),
    "Academy special converter": (44, 10, "Academies"),
    "Academy 16-19 converter": (45, 10, "Academies"),
    "Academy 16 to 19 sponsor led": (46, 10, "Academies"),
    "Online provider": (49, 13, "Online provider"),
    "Institution funded by other government department": (56, 9, "Other types"),
    "Academy secure 16 to 19": (57, 10, "Academies"),
}

# TypeOfEstablishment (name) -> keystage's school type.
STATE_FUNDED_TYPES: dict[str, str] = {
    "Community school": MAINTAINED,
    "Voluntary aided school": MAINTAINED,
    "Voluntary controlled school": MAINTAINED,
    "Foundation school": MAINTAINED,
    "Local authority nursery school": MAINTAINED,
    "Community special school": MAINTAINED,
    "Foundation special school": MAINTAINED,
    "Pupil referral unit": MAINTAINED,
    "Academy converter": ACADEMY,
    "Academy sponsor led": ACADEMY,
    "Academy special converter": ACADEMY,
    "Academy special sponsor led": ACADEMY,
    "Academy alternative provision converter": ACADEMY,
    "Academy alternative provision sponsor led": ACADEMY,
    "Academy 16-19 converter": ACADEMY,
    "Academy 16 to 19 sponsor led": ACADEMY,
    "Academy secure 16 to 19": ACADEMY,
    "City technology college": ACADEMY,
    "Free schools": FREE_SCHOOL,
    "Free schools special": FREE_SCHOOL,
    "Free schools alternative provision": FREE_SCHOOL,
    "Free schools 16 to 19": FREE_SCHOOL,
    "Studio schools": FREE_SCHOOL,
    "University technical college": FREE_SCHOOL,
}
INDEPENDENT_TYPES = frozenset(
    {"Other independent school", "Other independent special school", "Non-maintained special school"}
)
# A type GIAS adds later is taken by its group.
STATE_FUNDED_GROUPS: dict[str, str] = {
    "Local authority maintained schools": MAINTAINED,
    "Academies": ACADEMY,
    "Free Schools": FREE_SCHOOL,
}
SPECIAL_TYPES = frozenset(
    {
        "Community special school",
        "Foundation special school",
        "Academy special converter",
        "Academy special sponsor led",
        "Free schools special",
        "Non-maintained special school",
        "Other independent special school",
    }
)
TRUST_TYPES = frozenset({ACADEMY, FREE_SCHOOL})

# PhaseOfEducation (name) -> phase; None: decided by the age range.
PHASES: dict[str, str | None] = {
    "Nursery": "nursery",
    "Primary": "primary",
    "Middle deemed primary": "middle",
    "Middle deemed secondary": "middle",
    "Secondary": "secondary",
    "16 plus": "sixteen_plus",
    "All-through": "all_through",
    "Not applicable": None,
    "": None,
}

OPEN_STATUSES = frozenset({"Open", "Open, but proposed to close"})
CLOSED = "Closed"
PROPOSED_TO_OPEN = "Proposed to open"


def write_gias_csv(
    records: Iterable[Mapping[str, object]],
    *,
    columns: Sequence[str] = GIAS_COLUMNS,
    encoding: str = "cp1252",
) -> bytes:
    """A file in GIAS's format (Windows-1252 by default, CRLF lines) with ``columns`` in that order;
    a record's missing columns are blank. For the demo, tests and the benchmark."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow(["" if record.get(c) is None else str(record.get(c)) for c in columns])
    return out.getvalue().encode(encoding)
