"""The description of checking a file without storing it: POST /validate (answered at once, or queued for
the background worker) and GET /validate/{check_id}, with the Issue every check reports, its
ValidationResult, and the form a file is sent in.
"""

from __future__ import annotations

from typing import Any

from keystage.api.openapi.shared import (
    BAD_INPUT,
    FILE_FORM_FIELDS,
    JSON,
    SECURED,
    TOO_LARGE,
    UNAUTHORISED,
    error,
    ok,
    ref,
)

_CHECK_ID = {
    "name": "check_id",
    "in": "path",
    "required": True,
    "description": "The check's id, as POST /validate answered with it.",
    "schema": {"type": "integer", "minimum": 1},
}

ISSUE: dict[str, Any] = {
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

VALIDATION_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["valid", "pupils", "issues", "issues_total", "issues_offset", "issues_limit"],
    "properties": {
        "valid": {"type": "boolean"},
        "pupils": {"type": "integer", "description": "Pupil rows read from the file."},
        "issues": {
            "type": "array",
            "items": ref("Issue"),
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
}

CHECK_QUEUED: dict[str, Any] = {
    "type": "object",
    "required": ["id", "status"],
    "properties": {"id": {"type": "integer"}, "status": {"const": "checking"}},
}

UNREADABLE_FILE: dict[str, Any] = {
    "type": "object",
    "required": ["valid", "pupils", "issues", "error"],
    "properties": {
        "valid": {"const": False},
        "pupils": {"type": "integer"},
        "issues": {"type": "array", "items": ref("Issue")},
        "error": {"$ref": "#/components/schemas/Error/properties/error"},
    },
}

FILE_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["file", "collection", "year"],
    "properties": {
        **FILE_FORM_FIELDS,
        "issues_offset": {
            "type": "string",
            "pattern": "^[0-9]{0,9}$",
            "description": "Where the page of issues starts; 0 if empty.",
        },
        "issues_limit": {
            "type": "string",
            # 1 to 5000 in at most nine digits, or empty
            "pattern": "^(0{0,8}[1-9]|0{0,7}[1-9][0-9]|0{0,6}[1-9][0-9]{2}|0{0,5}[1-4][0-9]{3}|0{0,5}5000)?$",
            "description": "How many issues, 1 to 5000; 500 if empty.",
        },
    },
}


def validate() -> dict[str, Any]:
    """POST /validate: check a file as an upload would be checked."""
    return {
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
            "security": SECURED,
            "requestBody": {
                "required": True,
                "content": {"multipart/form-data": {"schema": ref("FileForm")}},
            },
            "responses": {
                "200": ok("The file was read: valid or not, with a page of its issues.", "ValidationResult"),
                "202": {
                    "description": "A larger file: the background worker checks it. Poll the Location "
                    "(GET /validate/{check_id}).",
                    "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
                    "content": {JSON: {"schema": ref("CheckQueued")}},
                },
                "400": error(
                    "The request is missing something or has a bad value.",
                    *BAD_INPUT,
                    "invalid_issues_offset",
                    "invalid_issues_limit",
                ),
                "401": UNAUTHORISED,
                "403": error("You may not submit data for this school.", "forbidden"),
                "404": error("No school has the DfE number given.", "unknown_school"),
                "409": error("The collection cannot be checked yet.", "collection_unavailable"),
                "413": TOO_LARGE,
                "429": error("Too many checks at once or in a minute: see Retry-After.", "too_many_checks"),
                "422": ok(
                    "The file cannot be read (corrupt, protected, not a results file).", "UnreadableFile"
                ),
            },
        }
    }


def check() -> dict[str, Any]:
    """GET /validate/{check_id}: the answer of a check the worker does."""
    return {
        "parameters": [_CHECK_ID],
        "get": {
            "operationId": "getFileCheck",
            "summary": "The answer of a file check the background worker does: 202 until it is done",
            "security": SECURED,
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
                "200": ok("The file was read: valid or not, with a page of its issues.", "ValidationResult"),
                "202": ok("Still being checked: poll again after Retry-After seconds.", "CheckQueued"),
                "400": error("A query value is not valid.", "invalid_issues_offset", "invalid_issues_limit"),
                "401": UNAUTHORISED,
                "404": error("You have no file check with this id.", "not_found"),
                "409": error("The collection cannot be checked.", "collection_unavailable"),
                "422": ok(
                    "The file could not be read, or could not be checked: error code "
                    "api_check.failed, or api_check.uncheckable when its check stopped part way "
                    "through each time it was tried (check_failed: it has not finished after 10 "
                    "minutes).",
                    "UnreadableFile",
                ),
            },
        },
    }
