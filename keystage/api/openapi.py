"""The OpenAPI 3.1 description of the results API, written out by hand.

tests/api/test_openapi.py checks that every route in keystage/api/urls.py is described here with
each method it accepts, and that every reference resolves.
"""

from __future__ import annotations

from typing import Any

from keystage.core.results.kinds import KINDS

_JSON = "application/json"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str, *codes: str) -> dict[str, Any]:
    return {
        "description": f"{description} Error codes: {', '.join(codes)}.",
        "content": {_JSON: {"schema": _ref("Error")}},
    }


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref(schema)}}}


_UNAUTHORISED = {"$ref": "#/components/responses/Unauthorised"}
# The academic years keystage accepts, named by the calendar year they end in (2026 for 2025/26).
FIRST_YEAR, LAST_YEAR = 2000, 2100
_YEAR = {"type": "integer", "minimum": FIRST_YEAR, "maximum": LAST_YEAR, "examples": [2026]}
# A DfE number: the LA code, then the establishment number, with or without a slash between.
_DFE = {"type": "string", "pattern": "^[0-9]{3}/?[0-9]{4}$", "examples": ["8004001"]}
_CHECK_ID = {
    "name": "check_id",
    "in": "path",
    "required": True,
    "description": "The check's id, as POST /validate answered with it.",
    "schema": {"type": "integer", "minimum": 1},
}

_UPLOAD_ID = {
    "name": "upload_id",
    "in": "path",
    "required": True,
    "description": "The upload's id, as returned when it was made.",
    "schema": {"type": "integer", "minimum": 1},
}

_ISSUE = {
    "type": "object",
    "description": "One problem found in a file: where it is, what was there, and what to do.",
    "required": ["row", "column", "column_header", "value", "pupil", "code", "message", "severity"],
    "properties": {
        "row": {"type": ["integer", "null"], "description": "Row number as the spreadsheet shows it."},
        "column": {"type": ["string", "null"], "description": "Column letter, e.g. “H”."},
        "column_header": {"type": ["string", "null"]},
        "value": {"type": ["string", "null"], "description": "What the cell held."},
        "pupil": {
            "type": "string",
            "description": "Whom it concerns, by UPN and name as the file gives them (CTFs), or empty.",
        },
        "code": {"type": "string", "description": "A stable code, e.g. result.score_range."},
        "message": {"type": "string", "description": "What is wrong and how to fix it, in plain English."},
        "severity": {"type": "string", "enum": ["error", "warning"]},
    },
}

_UPLOAD_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"},
    "collection": {"type": "string", "enum": list(KINDS)},
    "year": {"type": "integer"},
    "collection_title": {"type": "string"},
    "school": {
        "type": ["object", "null"],
        "properties": {"dfe_number": {"type": "string"}, "name": {"type": "string"}},
    },
    "filename": {"type": "string"},
    "status": {
        "type": "string",
        "enum": ["processing", "error", "successful", "reports", "overwritten", "deleted"],
        "description": "processing until the check has run; then error or successful. "
        "A successful upload is used once confirmed (in_use); a later confirmed upload "
        "overwrites it.",
    },
    "status_label": {"type": "string", "description": "The status as the pages show it."},
    "pupils": {"type": ["integer", "null"]},
    "error_count": {"type": "integer"},
    "warning_count": {"type": "integer"},
    "issues": {"type": "array", "items": _ref("Issue"), "description": "Every issue found."},
    "uploaded_at": {"type": "string", "format": "date-time"},
    "uploaded_by": {"type": "string", "description": "The uploader's email address."},
    "validated_at": {"type": ["string", "null"], "format": "date-time"},
    "in_use": {"type": "boolean", "description": "This is the school's submission now."},
    "confirmed_at": {"type": ["string", "null"], "format": "date-time"},
    "report_due": {"type": ["string", "null"], "format": "date"},
    "links": {
        "type": "object",
        "required": ["self"],
        "properties": {
            "self": {"type": "string", "format": "uri"},
            "confirm": {"type": "string", "format": "uri", "description": "When confirmable."},
            "error_workbook": {
                "type": "string",
                "format": "uri",
                "description": "The file with each problem highlighted, when it has errors.",
            },
            "results": {
                "type": "string",
                "format": "uri",
                "description": "Each pupil's results as kept, once the upload has passed its check.",
            },
        },
    },
}

_FILE_FORM_FIELDS = {
    "file": {"type": "string", "contentMediaType": "application/octet-stream", "minLength": 1},
    "collection": {"type": "string", "enum": list(KINDS)},
    "year": _YEAR,
    # Optional when checking a file: left out or empty, the file is checked without a school's roster.
    "school": {
        "type": "string",
        "pattern": "^([0-9]{3}/?[0-9]{4})?$",
        "examples": ["8004001"],
        "description": "DfE number, 7 digits, e.g. 8004001.",
    },
}

_COMPONENTS: dict[str, Any] = {
    "securitySchemes": {
        "token": {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (“ks_…”), made on the API tokens page of your account. "
            "It acts as you, with the roles you hold when each request is made.",
        }
    },
    "responses": {
        "Unauthorised": {
            "description": "No token, or a token that is not recognised, revoked or expired. Error codes: "
            "missing_token, invalid_token, token_revoked, token_expired, account_disabled.",
            "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
            "content": {_JSON: {"schema": _ref("Error")}},
        },
    },
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "description": "Stable; test this in scripts."},
                        "message": {"type": "string", "description": "For people; may change."},
                    },
                }
            },
        },
        "Issue": _ISSUE,
        "ValidationResult": {
            "type": "object",
            "required": ["valid", "pupils", "issues", "issues_total", "issues_offset", "issues_limit"],
            "properties": {
                "valid": {"type": "boolean"},
                "pupils": {"type": "integer", "description": "Pupil rows read from the file."},
                "issues": {
                    "type": "array",
                    "items": _ref("Issue"),
                    "description": "A page of the issues: issues_limit of them from issues_offset.",
                },
                "issues_total": {"type": "integer", "description": "How many issues the file has."},
                "issues_kept": {
                    "type": "integer",
                    "description": "How many of them can be paged through: all of a file checked at "
                    "once; at most the first 10,000 (errors first) of one checked by the background "
                    "worker. The counts are always of every issue.",
                },
                "issues_offset": {"type": "integer"},
                "issues_limit": {"type": "integer"},
                "errors": {"type": "integer"},
                "warnings": {"type": "integer"},
            },
        },
        "CheckQueued": {
            "type": "object",
            "required": ["id", "status"],
            "properties": {"id": {"type": "integer"}, "status": {"const": "checking"}},
        },
        "UnreadableFile": {
            "type": "object",
            "required": ["valid", "pupils", "issues", "error"],
            "properties": {
                "valid": {"const": False},
                "pupils": {"type": "integer"},
                "issues": {"type": "array", "items": _ref("Issue")},
                "error": {"$ref": "#/components/schemas/Error/properties/error"},
            },
        },
        "Collection": {
            "type": "object",
            "required": [
                "collection",
                "year",
                "academic_year",
                "title",
                "opens_at",
                "final_deadline",
                "open",
            ],
            "properties": {
                "collection": {"type": "string", "enum": list(KINDS)},
                "year": {
                    "type": "integer",
                    "description": "The year the academic year ends: 2026 for 2025/26.",
                },
                "academic_year": {"type": "string", "examples": ["2025/26"]},
                "title": {"type": "string"},
                "opens_at": {"type": "string", "format": "date-time"},
                "provisional_deadline": {"type": "string", "format": "date-time"},
                "final_deadline": {"type": "string", "format": "date-time"},
                "open": {"type": "boolean", "description": "Whether uploads are accepted now."},
                "provisional_reports_due": {"type": ["string", "null"], "format": "date"},
                "final_reports_due": {"type": ["string", "null"], "format": "date"},
                "terms": {"type": "string", "description": "What a school agrees to when it confirms."},
            },
        },
        "YearGroupEstimate": {
            "type": "object",
            "description": "A year group's expected outcome: the sum of its pupils' estimates.",
            "required": ["nc_year", "pupils", "with_prior_attainment", "expected", "distribution"],
            "properties": {
                "nc_year": {
                    "type": ["integer", "null"],
                    "description": "Null for every year group together.",
                },
                "pupils": {"type": "integer", "description": "On roll."},
                "with_prior_attainment": {"type": "integer", "description": "Those estimated."},
                "suppressed": {
                    "type": "boolean",
                    "description": "For readers who may not see pupils, a group of fewer than 6 pupils has "
                    "no figures (null and empty).",
                },
                "expected": {"type": ["number", "null"], "description": "The mean expected outcome."},
                "reaching": {
                    "type": "array",
                    "description": "How many are expected to reach each of the outcome's marks (e.g. grade 4 "
                    "or above, or KS2's expected standard): the sum of the pupils' chances.",
                    "items": {
                        "type": "object",
                        "required": ["mark", "expected_pupils"],
                        "properties": {
                            "mark": {"type": "string"},
                            "expected_pupils": {"type": ["number", "null"]},
                        },
                    },
                },
                "distribution": {
                    "type": "array",
                    "items": {"type": "number"},
                    "description": "The expected share of the pupils in each category.",
                },
            },
        },
        "OutcomeEstimates": {
            "type": "object",
            "required": ["key", "name", "categories", "values", "year_groups"],
            "properties": {
                "key": {"type": "string", "examples": ["a8", "subject:FK2B"]},
                "name": {"type": "string", "examples": ["Attainment 8"]},
                "categories": {"type": "array", "items": {"type": "string"}, "description": "Lowest first."},
                "values": {
                    "type": "array",
                    "items": {"type": "number"},
                    "description": "What each category is worth (grade points, or a band's mean).",
                },
                "year_groups": {"type": "array", "items": _ref("YearGroupEstimate")},
            },
        },
        "PupilEstimates": {
            "type": "object",
            "required": ["upn", "nc_year", "prior_attainment", "estimates"],
            "properties": {
                "upn": {"type": "string"},
                "nc_year": {"type": "integer"},
                "prior_attainment": {"type": ["number", "null"], "description": "KS2 average scaled score."},
                "estimates": {
                    "type": "object",
                    "description": "By outcome key: the expected value and the chance of each category. "
                    "Empty without KS2 prior attainment.",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["expected", "probabilities"],
                        "properties": {
                            "expected": {"type": "number"},
                            "probabilities": {"type": "array", "items": {"type": "number"}},
                        },
                    },
                },
            },
        },
        "SchoolEstimates": {
            "type": "object",
            "required": ["fit", "level", "level_label", "academic_year", "outcomes"],
            "properties": {
                "fit": {
                    "type": "object",
                    "required": ["id", "transition", "years", "contextual", "pupils"],
                    "properties": {
                        "id": {"type": "integer"},
                        "transition": {"type": "string", "enum": ["ks2-ks4", "ks1-ks2", "ks4-ks5"]},
                        "years": {"type": "array", "items": {"type": "integer"}},
                        "contextual": {"type": "boolean"},
                        "fitted_at": {"type": ["string", "null"], "format": "date-time"},
                        "pupils": {"type": "integer", "description": "Pupils nationally it was fitted on."},
                    },
                },
                "level": {"type": "integer", "enum": [50, 80, 95]},
                "level_label": {"type": "string", "examples": ["Top 20% of schools"]},
                "academic_year": {"type": "integer", "description": "The roll's year: 2026 for 2025/26."},
                "outcomes": {"type": "array", "items": _ref("OutcomeEstimates")},
                "pupils": {
                    "type": "array",
                    "items": _ref("PupilEstimates"),
                    "description": "Only for roles that see pupils (named roles); each answer is audited.",
                },
            },
        },
        "CollectionList": {
            "type": "object",
            "required": ["collections"],
            "properties": {"collections": {"type": "array", "items": _ref("Collection")}},
        },
        "Upload": {
            "type": "object",
            "required": ["id", "collection", "year", "status", "issues", "links"],
            "properties": _UPLOAD_PROPERTIES,
        },
        "UploadSummary": {
            "type": "object",
            "description": "An upload as listed: everything but its issues.",
            "required": ["id", "collection", "year", "status", "links"],
            "properties": {k: v for k, v in _UPLOAD_PROPERTIES.items() if k != "issues"},
        },
        "UploadList": {
            "type": "object",
            "required": ["uploads", "more"],
            "properties": {
                "uploads": {"type": "array", "items": _ref("UploadSummary"), "description": "Newest first."},
                "more": {"type": "boolean", "description": "More uploads match than the limit gave."},
            },
        },
        "SubmittedPupil": {
            "type": "object",
            "required": ["row", "upn", "forename", "surname", "results"],
            "properties": {
                "row": {"type": "integer", "description": "The pupil's row in the file."},
                "upn": {"type": "string"},
                "forename": {"type": "string"},
                "surname": {"type": "string"},
                "date_of_birth": {"type": ["string", "null"], "format": "date"},
                "sex": {"type": "string"},
                "nc_year": {"type": ["integer", "null"]},
                "results": {
                    "type": "object",
                    "description": "By the template's subject or assessment key: the result as given "
                    "(a mark, a grade or an outcome code).",
                    "additionalProperties": {"type": "string"},
                },
            },
        },
        "UploadResults": {
            "type": "object",
            "required": ["upload", "collection", "year", "in_use", "pupils"],
            "properties": {
                "upload": {"type": "integer"},
                "collection": {"type": "string", "enum": list(KINDS)},
                "year": {"type": "integer"},
                "school": {
                    "type": ["object", "null"],
                    "properties": {"dfe_number": {"type": "string"}, "name": {"type": "string"}},
                },
                "in_use": {"type": "boolean", "description": "This is the school's submission now."},
                "pupils": {"type": "array", "items": _ref("SubmittedPupil")},
            },
        },
        "Measure": {
            "type": "object",
            "required": ["key", "name", "figure", "national", "pupils", "suppressed"],
            "properties": {
                "key": {"type": "string", "examples": ["p8", "a8", "rwm_expected"]},
                "name": {"type": "string", "examples": ["Progress 8"]},
                "kind": {"type": "string", "description": "share (0 to 1), mean, or progress."},
                "figure": {
                    "type": ["number", "null"],
                    "description": "Null when suppressed or not measured.",
                },
                "text": {"type": "string", "description": "As the dashboard shows it, e.g. 67% or +0.21."},
                "national": {"type": ["number", "null"]},
                "national_text": {"type": "string"},
                "pupils": {"type": "integer", "description": "Pupils the figure counts."},
                "suppressed": {
                    "type": "boolean",
                    "description": "Fewer than 6 pupils: no figure, so no pupil can be picked out.",
                },
                "ci_low": {"type": ["number", "null"], "description": "95% confidence interval (progress)."},
                "ci_high": {"type": ["number", "null"]},
                "significance": {"type": ["string", "null"], "description": "Against national."},
                "banding": {"type": ["string", "null"], "description": "Progress 8's band."},
                "percentile": {
                    "type": ["integer", "null"],
                    "description": "Among all schools; null for governors.",
                },
                "quintile": {"type": ["integer", "null"]},
                "note": {
                    "type": ["string", "null"],
                    "description": "Why there is no figure (e.g. a KS4 year DfE publishes no Progress 8 for: "
                    "p8 is then null with the reason), or whom the figure leaves out.",
                    "examples": [
                        "DfE publishes no Progress 8 for 2026 (these pupils sat no KS2 tests in 2021)."
                    ],
                },
            },
        },
        "SchoolMeasures": {
            "type": "object",
            "required": ["school", "key_stage", "year", "provisional", "cohort", "measures"],
            "properties": {
                "school": {
                    "type": "object",
                    "properties": {"dfe_number": {"type": "string"}, "name": {"type": "string"}},
                },
                "key_stage": {"type": "string", "enum": ["eyfsp", "phonics", "ks1", "ks2", "ks4"]},
                "year": {"type": "integer"},
                "academic_year": {"type": "string", "examples": ["2025/26"]},
                "provisional": {
                    "type": "boolean",
                    "description": "True until the collection's final deadline: figures change as schools "
                    "confirm results.",
                },
                "source": {"type": "string", "description": "Where the national figures come from."},
                "cohort": {"type": "integer"},
                "measures": {"type": "array", "items": _ref("Measure")},
                "not_counted": {
                    "type": "array",
                    "description": "KS4: the school's results not counted in performance measures at all "
                    "(off DfE's list of approved qualifications for the year, not a grade of the "
                    "qualification, an unknown qualification number), by reason. Empty for other key stages.",
                    "items": {
                        "type": "object",
                        "required": ["reason", "results", "pupils"],
                        "properties": {
                            "reason": {"type": "string"},
                            "results": {"type": "integer"},
                            "pupils": {"type": "integer"},
                        },
                    },
                },
                "years": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "description": "Years with figures for this key stage, newest first.",
                },
            },
        },
        "FileForm": {
            "type": "object",
            "required": ["file", "collection", "year"],
            "properties": {
                **_FILE_FORM_FIELDS,
                "issues_offset": {
                    "type": "string",
                    "pattern": "^[0-9]{0,9}$",
                    "description": "Where the page of issues starts; 0 if empty.",
                },
                "issues_limit": {
                    "type": "string",
                    # 1 to 5000 in at most nine digits, or empty
                    "pattern": "^(0{0,8}[1-9]|0{0,7}[1-9][0-9]|0{0,6}[1-9][0-9]{2}"
                    "|0{0,5}[1-4][0-9]{3}|0{0,5}5000)?$",
                    "description": "How many issues, 1 to 5000; 500 if empty.",
                },
            },
        },
        "UploadForm": {
            "type": "object",
            "required": ["file", "collection", "year", "school"],
            "properties": {
                **_FILE_FORM_FIELDS,
                "school": {**_DFE, "description": "DfE number, 7 digits, e.g. 8004001."},
            },
        },
        "Confirmation": {
            "type": "object",
            "required": ["agree_to_terms"],
            "properties": {"agree_to_terms": {"const": True}},
        },
    },
}

_BAD_INPUT = (
    "missing_field",
    "missing_file",
    "too_many_files",
    "expected_multipart",
    "unknown_collection",
    "invalid_year",
    "invalid_school",
    "malformed_request",
)


def _paths() -> dict[str, Any]:
    secured: list[dict[str, list[str]]] = [{"token": []}]
    too_large = _error("The request or file is larger than the largest file accepted.", "too_large")
    return {
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "The OpenAPI document.", "content": {_JSON: {}}}},
            }
        },
        "/collections": {
            "get": {
                "operationId": "listCollections",
                "summary": "The results collections, their windows and terms",
                "security": secured,
                "parameters": [
                    {"name": "collection", "in": "query", "schema": {"type": "string", "enum": list(KINDS)}},
                    {"name": "year", "in": "query", "schema": _YEAR},
                ],
                "responses": {
                    "200": _ok("The collections, newest year first.", "CollectionList"),
                    "400": _error("A filter is not valid.", "unknown_collection", "invalid_year"),
                    "401": _UNAUTHORISED,
                },
            }
        },
        "/validate": {
            "post": {
                "operationId": "validateFile",
                "summary": "Check a results file as an upload would be checked; nothing is stored",
                "description": "With `school`, the file's DfE numbers and pupils are checked against that "
                "school and its roster, and you need permission to submit data for it. Without, you need "
                "that permission for some school. Files up to KEYSTAGE_API_VALIDATE_MAX_MB (1 MB unless "
                "the server says otherwise) are checked at once; larger ones are checked by the background "
                "worker: 202 with a Location to poll. Each person may have 2 checks running at once and "
                "start 20 a minute (429 with Retry-After past that). The issues come a page at a time: "
                "form fields issues_offset (default 0) and issues_limit (default 500, at most 5000).",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": _ref("FileForm")}},
                },
                "responses": {
                    "200": _ok(
                        "The file was read: valid or not, with a page of its issues.", "ValidationResult"
                    ),
                    "202": {
                        "description": "A larger file: the background worker checks it. Poll the Location "
                        "(GET /validate/{check_id}).",
                        "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
                        "content": {_JSON: {"schema": _ref("CheckQueued")}},
                    },
                    "400": _error(
                        "The request is missing something or has a bad value.",
                        *_BAD_INPUT,
                        "invalid_issues_offset",
                        "invalid_issues_limit",
                    ),
                    "401": _UNAUTHORISED,
                    "403": _error("You may not submit data for this school.", "forbidden"),
                    "404": _error("No school has the DfE number given.", "unknown_school"),
                    "409": _error("The collection cannot be checked yet.", "collection_unavailable"),
                    "413": too_large,
                    "429": _error(
                        "Too many checks at once or in a minute: see Retry-After.", "too_many_checks"
                    ),
                    "422": _ok(
                        "The file cannot be read (corrupt, protected, not a results file).", "UnreadableFile"
                    ),
                },
            }
        },
        "/validate/{check_id}": {
            "parameters": [_CHECK_ID],
            "get": {
                "operationId": "getFileCheck",
                "summary": "The answer of a file check the background worker does: 202 until it is done",
                "security": secured,
                "parameters": [
                    {
                        "name": "issues_offset",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999},
                    },
                    {
                        "name": "issues_limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 5000},
                    },
                ],
                "responses": {
                    "200": _ok(
                        "The file was read: valid or not, with a page of its issues.", "ValidationResult"
                    ),
                    "202": _ok("Still being checked: poll again after Retry-After seconds.", "CheckQueued"),
                    "400": _error(
                        "A query value is not valid.", "invalid_issues_offset", "invalid_issues_limit"
                    ),
                    "401": _UNAUTHORISED,
                    "404": _error("You have no file check with this id.", "not_found"),
                    "409": _error("The collection cannot be checked.", "collection_unavailable"),
                    "422": _ok("The file could not be read, or its check stopped.", "UnreadableFile"),
                },
            },
        },
        "/uploads": {
            "get": {
                "operationId": "listUploads",
                "summary": "The uploads of the schools you submit for, newest first",
                "description": "in_use=true with a collection and year gives each school's submission.",
                "security": secured,
                "parameters": [
                    {"name": "collection", "in": "query", "schema": {"type": "string", "enum": list(KINDS)}},
                    {"name": "year", "in": "query", "schema": _YEAR},
                    {"name": "school", "in": "query", "schema": _DFE},
                    {
                        "name": "in_use",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                    },
                ],
                "responses": {
                    "200": _ok("The uploads.", "UploadList"),
                    "400": _error(
                        "A filter is not valid.",
                        "unknown_collection",
                        "invalid_year",
                        "invalid_school",
                        "invalid_filter",
                        "invalid_limit",
                    ),
                    "401": _UNAUTHORISED,
                    "403": _error("You may not submit data for this school.", "forbidden"),
                    "404": _error("No school has the DfE number given.", "unknown_school"),
                },
            },
            "post": {
                "operationId": "uploadFile",
                "summary": "Upload a results file for a school; it is checked in the background",
                "description": "Poll the Location (GET /uploads/{upload_id}) until the status is no longer "
                "processing, then confirm a successful upload.",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": _ref("UploadForm"),
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "Stored, and queued to be checked.",
                        "headers": {
                            "Location": {
                                "description": "The upload's status URL.",
                                "schema": {"type": "string"},
                            }
                        },
                        "content": {_JSON: {"schema": _ref("Upload")}},
                    },
                    "400": _error(
                        "The request is missing something or has a bad value.",
                        *_BAD_INPUT,
                        "empty_file",
                    ),
                    "401": _UNAUTHORISED,
                    "403": _error("You may not submit data for this school.", "forbidden"),
                    "404": _error(
                        "No school has the DfE number given, or there is no such collection that year.",
                        "unknown_school",
                        "no_collection",
                    ),
                    "409": _error(
                        "The collection is not open for uploads, or refused the file (for example the school "
                        "has no pupils on roll for it).",
                        "collection_closed",
                        "upload_refused",
                    ),
                    "413": too_large,
                },
            },
        },
        "/uploads/{upload_id}": {
            "parameters": [_UPLOAD_ID],
            "get": {
                "operationId": "getUpload",
                "summary": "An upload's status and every issue found in it",
                "security": secured,
                "responses": {
                    "200": _ok("The upload.", "Upload"),
                    "401": _UNAUTHORISED,
                    "404": _error("No upload of yours has this id.", "upload_not_found"),
                },
            },
        },
        "/uploads/{upload_id}/confirm": {
            "parameters": [_UPLOAD_ID],
            "post": {
                "operationId": "confirmUpload",
                "summary": "Agree to the terms: the upload becomes the school's submission",
                "security": secured,
                "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("Confirmation")}}},
                "responses": {
                    "200": _ok("Confirmed: in_use is true.", "Upload"),
                    "400": _error(
                        "The body is not JSON or does not agree to the terms.",
                        "invalid_json",
                        "terms_not_agreed",
                    ),
                    "401": _UNAUTHORISED,
                    "403": _error("You may not submit data for this school.", "forbidden"),
                    "404": _error("No upload of yours has this id.", "upload_not_found"),
                    "409": _error(
                        "The upload cannot be confirmed (still being checked, has errors, overwritten, or "
                        "the collection has closed).",
                        "cannot_confirm",
                    ),
                    "413": too_large,
                },
            },
        },
        "/schools/{dfe}/estimates": {
            "parameters": [
                {
                    "name": "dfe",
                    "in": "path",
                    "required": True,
                    "description": "The school's DfE number (LA code and establishment number): 8004001.",
                    "schema": _DFE,
                },
                {
                    "name": "level",
                    "in": "query",
                    "description": "The school progress the estimates assume: 50 (average), 80 (top 20% of "
                    "schools) or 95 (top 5%).",
                    "schema": {"type": "integer", "enum": [50, 80, 95], "default": 50},
                },
                {
                    "name": "stage",
                    "in": "query",
                    "description": "ks4 (from KS2; secondary schools' default), ks5 (KS5 benchmark "
                    "estimates from KS4, for last summer's Year 11) or ks2 (Year 3 estimates from KS1; "
                    "primary schools' default).",
                    "schema": {"type": "string", "enum": ["ks2", "ks4", "ks5"]},
                },
                {
                    "name": "contextual",
                    "in": "query",
                    "description": "true: the estimates that also take disadvantage into account.",
                    "schema": {"type": "boolean", "default": False},
                },
            ],
            "get": {
                "operationId": "getSchoolEstimates",
                "summary": "A school's estimates (KS4 from KS2, KS2 from KS1): year groups, and each "
                "pupil for named roles",
                "description": "An estimate is the spread of outcomes pupils with the same prior attainment, "
                "sex and month of birth reached nationally at a school making the chosen progress. It is "
                "not a target.",
                "security": secured,
                "responses": {
                    "200": _ok("The estimates.", "SchoolEstimates"),
                    "400": _error("A bad school or level.", "invalid_school", "invalid_level"),
                    "401": _UNAUTHORISED,
                    "403": _error("You may not read this school's reports.", "forbidden"),
                    "404": _error(
                        "No such school, no estimates of that stage for it (KS5 and KS4 are for secondary "
                        "schools, KS2 for primary), or none fitted yet.",
                        "unknown_school",
                        "no_such_stage",
                        "no_estimates",
                    ),
                },
            },
        },
        "/uploads/{upload_id}/results": {
            "parameters": [_UPLOAD_ID],
            "get": {
                "operationId": "getUploadResults",
                "summary": "Each pupil and their results as kept from an upload that passed its check",
                "description": "They name pupils: every answer is in the audit log.",
                "security": secured,
                "responses": {
                    "200": _ok("The pupils, in the file's order.", "UploadResults"),
                    "401": _UNAUTHORISED,
                    "404": _error("No upload of yours has this id.", "upload_not_found"),
                    "409": _error(
                        "Nothing is kept: the upload is still being checked, had errors, or was deleted.",
                        "no_results",
                    ),
                },
            },
        },
        "/schools/{dfe}/measures": {
            "parameters": [
                {
                    "name": "dfe",
                    "in": "path",
                    "required": True,
                    "description": "The school's DfE number (LA code and establishment number): 8004001.",
                    "schema": _DFE,
                },
                {
                    "name": "key_stage",
                    "in": "query",
                    "description": "Default: the first of ks4, ks2, ks1, phonics and eyfsp that the school "
                    "has figures for.",
                    "schema": {"type": "string", "enum": ["eyfsp", "phonics", "ks1", "ks2", "ks4"]},
                },
                {
                    "name": "year",
                    "in": "query",
                    "description": "Default: the newest year with figures.",
                    "schema": _YEAR,
                },
            ],
            "get": {
                "operationId": "getSchoolMeasures",
                "summary": "A school's headline measures beside national, as its dashboard shows them",
                "description": "School-level figures for every reader of the school's reports (governors "
                "too, without the school's place among schools); a figure of fewer than 6 pupils is "
                "suppressed.",
                "security": secured,
                "responses": {
                    "200": _ok("The measures.", "SchoolMeasures"),
                    "400": _error(
                        "A bad school, key stage or year.",
                        "invalid_school",
                        "unknown_key_stage",
                        "invalid_year",
                    ),
                    "401": _UNAUTHORISED,
                    "403": _error("You may not read this school's reports.", "forbidden"),
                    "404": _error(
                        "No such school, or no figures for it in that key stage and year.",
                        "unknown_school",
                        "no_figures",
                    ),
                },
            },
        },
        "/uploads/{upload_id}/error-workbook": {
            "parameters": [_UPLOAD_ID],
            "get": {
                "operationId": "getErrorWorkbook",
                "summary": "The uploaded spreadsheet with every problem highlighted and an Errors sheet",
                "security": secured,
                "responses": {
                    "200": {"description": "The workbook.", "content": {_XLSX: {}}},
                    "401": _UNAUTHORISED,
                    "404": _error(
                        "No such upload, or it has no error workbook.",
                        "upload_not_found",
                        "no_error_workbook",
                    ),
                },
            },
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "keystage results API",
            "version": "1.0.0",
            "description": "Check, upload and confirm results files, as the upload pages do; read back "
            "what was kept, and a school's measures and estimates. Every error "
            'is JSON: {"error": {"code", "message"}}. While the database or file storage is unavailable '
            "the answer is 503 (service_unavailable or storage_unavailable) with Retry-After: try again "
            "then. Unexpected failures answer 500 with code "
            "internal_error; a method a path does not take answers 405 (method_not_allowed); an unknown "
            "path 404 (not_found).",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"token": []}],
        "paths": _paths(),
        "components": _COMPONENTS,
    }
