"""Values made fit for a JSON column: JSON has no NaN or infinity (PostgreSQL refuses the token
"NaN"; SQLite would store it and a later read by anything strict would fail), so every figure written
to a JSONField passes through ``json_safe`` first.

A figure that is not a finite number (a standard error the data could not determine, a mean of no
pupils) is stored as null, which the pages show as "not estimated" or a dash.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """``value`` with every float that is NaN or infinite replaced by None, through dicts, lists and
    tuples (tuples become lists, as JSON has only lists); NumPy numbers become Python ones. Anything
    else is returned as it is."""
    if isinstance(value, bool | str | int) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, Mapping):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return [json_safe(item) for item in value.tolist()]
    return value


def finite_or_none(value: float | None) -> float | None:
    """A number that is stored only when finite."""
    return value if value is not None and math.isfinite(value) else None
