"""Small helpers for the report templates."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get(mapping: Any, key: Any) -> Any:
    """``row|get:key``: a dictionary's value (templates cannot index by a variable)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def pupil_value(value: Any) -> str:
    """A pupil's figure as the pupil list shows it: Yes/No, a number to two places, or a dash."""
    if value is None:
        return "\u2013"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
