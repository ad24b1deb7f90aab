"""The OpenAPI 3.1 description of the results API, written out by hand: ``document()`` puts it together
here, in the order it is served, from the parts described beside it by resource: shared.py (what every
part uses: the Error schema, the token, the year and DfE number formats), file_checks.py (POST
/validate and its checks), results_collections.py, uploads.py and school_figures.py (estimates and
measures).

tests/api/test_openapi.py checks that every route in keystage/api/urls.py is described here with
each method it accepts, and that every reference resolves.
"""

from __future__ import annotations

from typing import Any

from keystage.api.openapi import file_checks, results_collections, school_figures, shared, uploads

_COMPONENTS: dict[str, Any] = {
    "securitySchemes": shared.SECURITY_SCHEMES,
    "responses": shared.RESPONSES,
    "schemas": {
        "Error": shared.ERROR,
        "Issue": file_checks.ISSUE,
        "ValidationResult": file_checks.VALIDATION_RESULT,
        "CheckQueued": file_checks.CHECK_QUEUED,
        "UnreadableFile": file_checks.UNREADABLE_FILE,
        "Collection": results_collections.COLLECTION,
        "YearGroupEstimate": school_figures.YEAR_GROUP_ESTIMATE,
        "OutcomeEstimates": school_figures.OUTCOME_ESTIMATES,
        "PupilEstimates": school_figures.PUPIL_ESTIMATES,
        "SchoolEstimates": school_figures.SCHOOL_ESTIMATES,
        "CollectionList": results_collections.COLLECTION_LIST,
        "Upload": uploads.UPLOAD,
        "UploadSummary": uploads.UPLOAD_SUMMARY,
        "UploadList": uploads.UPLOAD_LIST,
        "SubmittedPupil": uploads.SUBMITTED_PUPIL,
        "UploadResults": uploads.UPLOAD_RESULTS,
        "Measure": school_figures.MEASURE,
        "SchoolMeasures": school_figures.SCHOOL_MEASURES,
        "FileForm": file_checks.FILE_FORM,
        "UploadForm": uploads.UPLOAD_FORM,
        "Confirmation": uploads.CONFIRMATION,
    },
}


def _paths() -> dict[str, Any]:
    return {
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "The OpenAPI document.", "content": {shared.JSON: {}}}},
            }
        },
        "/collections": results_collections.collections(),
        "/validate": file_checks.validate(),
        "/validate/{check_id}": file_checks.check(),
        "/uploads": uploads.uploads(),
        "/uploads/{upload_id}": uploads.upload(),
        "/uploads/{upload_id}/confirm": uploads.confirmation(),
        "/schools/{dfe}/estimates": school_figures.estimates(),
        "/uploads/{upload_id}/results": uploads.results(),
        "/schools/{dfe}/measures": school_figures.measures(),
        "/uploads/{upload_id}/error-workbook": uploads.error_workbook(),
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
