"""The description of uploads: listing them, uploading a file for a school, an upload's status and issues,
confirming it, the results kept from it and its error workbook, with the Upload schemas and forms.
"""

from __future__ import annotations

from typing import Any

from keystage.api.openapi.shared import (
    BAD_INPUT,
    DFE,
    FILE_FORM_FIELDS,
    JSON,
    SECURED,
    TOO_LARGE,
    UNAUTHORISED,
    XLSX,
    YEAR,
    error,
    ok,
    ref,
)
from keystage.core.results.kinds import KINDS

_UPLOAD_ID = {
    "name": "upload_id",
    "in": "path",
    "required": True,
    "description": "The upload's id, as returned when it was made.",
    "schema": {"type": "integer", "minimum": 1},
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
    "issues": {"type": "array", "items": ref("Issue"), "description": "Every issue found."},
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

UPLOAD: dict[str, Any] = {
    "type": "object",
    "required": ["id", "collection", "year", "status", "issues", "links"],
    "properties": _UPLOAD_PROPERTIES,
}

UPLOAD_SUMMARY: dict[str, Any] = {
    "type": "object",
    "description": "An upload as listed: everything but its issues.",
    "required": ["id", "collection", "year", "status", "links"],
    "properties": {k: v for k, v in _UPLOAD_PROPERTIES.items() if k != "issues"},
}

UPLOAD_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["uploads", "more"],
    "properties": {
        "uploads": {"type": "array", "items": ref("UploadSummary"), "description": "Newest first."},
        "more": {"type": "boolean", "description": "More uploads match than the limit gave."},
    },
}

SUBMITTED_PUPIL: dict[str, Any] = {
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
}

UPLOAD_RESULTS: dict[str, Any] = {
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
        "pupils": {"type": "array", "items": ref("SubmittedPupil")},
    },
}

UPLOAD_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["file", "collection", "year", "school"],
    "properties": {
        **FILE_FORM_FIELDS,
        "school": {**DFE, "description": "DfE number, 7 digits, e.g. 8004001."},
    },
}

CONFIRMATION: dict[str, Any] = {
    "type": "object",
    "required": ["agree_to_terms"],
    "properties": {"agree_to_terms": {"const": True}},
}


def uploads() -> dict[str, Any]:
    """GET and POST /uploads: the uploads listed, and a file uploaded."""
    return {
        "get": {
            "operationId": "listUploads",
            "summary": "The uploads of the schools you submit for, newest first",
            "description": "in_use=true with a collection and year gives each school's submission.",
            "security": SECURED,
            "parameters": [
                {"name": "collection", "in": "query", "schema": {"type": "string", "enum": list(KINDS)}},
                {"name": "year", "in": "query", "schema": YEAR},
                {"name": "school", "in": "query", "schema": DFE},
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
                "200": ok("The uploads.", "UploadList"),
                "400": error(
                    "A filter is not valid.",
                    "unknown_collection",
                    "invalid_year",
                    "invalid_school",
                    "invalid_filter",
                    "invalid_limit",
                ),
                "401": UNAUTHORISED,
                "403": error("You may not submit data for this school.", "forbidden"),
                "404": error("No school has the DfE number given.", "unknown_school"),
            },
        },
        "post": {
            "operationId": "uploadFile",
            "summary": "Upload a results file for a school; it is checked in the background",
            "description": "Poll the Location (GET /uploads/{upload_id}) until the status is no longer "
            "processing, then confirm a successful upload.",
            "security": SECURED,
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": ref("UploadForm"),
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
                    "content": {JSON: {"schema": ref("Upload")}},
                },
                "400": error(
                    "The request is missing something or has a bad value.",
                    *BAD_INPUT,
                    "empty_file",
                ),
                "401": UNAUTHORISED,
                "403": error("You may not submit data for this school.", "forbidden"),
                "404": error(
                    "No school has the DfE number given, or there is no such collection that year.",
                    "unknown_school",
                    "no_collection",
                ),
                "409": error(
                    "The collection is not open for uploads, or refused the file (for example the school "
                    "has no pupils on roll for it).",
                    "collection_closed",
                    "upload_refused",
                ),
                "413": TOO_LARGE,
            },
        },
    }


def upload() -> dict[str, Any]:
    """GET /uploads/{upload_id}: an upload's status and issues."""
    return {
        "parameters": [_UPLOAD_ID],
        "get": {
            "operationId": "getUpload",
            "summary": "An upload's status and every issue found in it",
            "security": SECURED,
            "responses": {
                "200": ok("The upload.", "Upload"),
                "401": UNAUTHORISED,
                "404": error("No upload of yours has this id.", "upload_not_found"),
            },
        },
    }


def confirmation() -> dict[str, Any]:
    """POST /uploads/{upload_id}/confirm."""
    return {
        "parameters": [_UPLOAD_ID],
        "post": {
            "operationId": "confirmUpload",
            "summary": "Agree to the terms: the upload becomes the school's submission",
            "security": SECURED,
            "requestBody": {"required": True, "content": {JSON: {"schema": ref("Confirmation")}}},
            "responses": {
                "200": ok("Confirmed: in_use is true.", "Upload"),
                "400": error(
                    "The body is not JSON or does not agree to the terms.",
                    "invalid_json",
                    "terms_not_agreed",
                ),
                "401": UNAUTHORISED,
                "403": error("You may not submit data for this school.", "forbidden"),
                "404": error("No upload of yours has this id.", "upload_not_found"),
                "409": error(
                    "The upload cannot be confirmed (still being checked, has errors, overwritten, or "
                    "the collection has closed).",
                    "cannot_confirm",
                ),
                "413": TOO_LARGE,
            },
        },
    }


def results() -> dict[str, Any]:
    """GET /uploads/{upload_id}/results: the pupils and results kept."""
    return {
        "parameters": [_UPLOAD_ID],
        "get": {
            "operationId": "getUploadResults",
            "summary": "Each pupil and their results as kept from an upload that passed its check",
            "description": "They name pupils: every answer is in the audit log.",
            "security": SECURED,
            "responses": {
                "200": ok("The pupils, in the file's order.", "UploadResults"),
                "401": UNAUTHORISED,
                "404": error("No upload of yours has this id.", "upload_not_found"),
                "409": error(
                    "Nothing is kept: the upload is still being checked, had errors, or was deleted.",
                    "no_results",
                ),
            },
        },
    }


def error_workbook() -> dict[str, Any]:
    """GET /uploads/{upload_id}/error-workbook."""
    return {
        "parameters": [_UPLOAD_ID],
        "get": {
            "operationId": "getErrorWorkbook",
            "summary": "The uploaded spreadsheet with every problem highlighted and an Errors sheet",
            "security": SECURED,
            "responses": {
                "200": {"description": "The workbook.", "content": {XLSX: {}}},
                "401": UNAUTHORISED,
                "404": error(
                    "No such upload, or it has no error workbook.",
                    "upload_not_found",
                    "no_error_workbook",
                ),
            },
        },
    }
