"""Every kind of refusal keystage gives a person has its own type, below one base (core/refusals.py):
found by importing every module, so a new exception class must either be a refusal or be named here as
something else."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import keystage
from keystage.core.refusals import Refused

# Exceptions that are not a person's request refused: faults, and control flow inside one module.
NOT_REFUSALS = {
    "keystage.web.faults.FileNotStored",  # the disk or storage failed: a fault, logged
    "keystage.api.endpoint.ApiError",  # the API's answer to any error, refusal or not
    "keystage.reports.pdf.NothingFetched",  # WeasyPrint asked for a file it may not have
    "keystage.core.organisations.gias._FileProblem",  # a GIAS row's problem, inside the reader
}


def _keystage_exceptions() -> dict[str, type[BaseException]]:
    found = {}
    for module in pkgutil.walk_packages(keystage.__path__, "keystage."):
        if ".migrations" in module.name or module.name.endswith(("wsgi", "cli")):
            continue
        loaded = importlib.import_module(module.name)
        for name, value in vars(loaded).items():
            if inspect.isclass(value) and issubclass(value, Exception) and value.__module__ == module.name:
                found[f"{module.name}.{name}"] = value
    return found


def test_every_exception_keystage_defines_is_a_refusal_or_named_as_something_else(db):
    found = _keystage_exceptions()
    assert len(found) > 30
    assert (
        "keystage.results.services.CollectionError" in found and "keystage.core.ctf.reader.CTFError" in found
    )
    neither = sorted(
        name for name, kind in found.items() if not issubclass(kind, Refused) and name not in NOT_REFUSALS
    )
    assert neither == []
    assert all(name in found for name in NOT_REFUSALS)  # the list names only what exists


def test_a_file_error_is_still_a_value_error_for_code_that_catches_one():
    from keystage.core.ctf.reader import CTFError
    from keystage.core.pupils.model import UPNCheckLetterError

    assert issubclass(CTFError, ValueError) and issubclass(CTFError, Refused)
    assert issubclass(UPNCheckLetterError, Refused)
