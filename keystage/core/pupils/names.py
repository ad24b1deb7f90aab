"""Names that may not be what they look like: one that begins as a spreadsheet formula does, or holds
a hidden character. keystage keeps every name exactly as given (and writes it as text in every
workbook); these are warned about where the name comes in, so a person checks it."""

from __future__ import annotations

import unicodedata

# A spreadsheet reads a cell beginning with one of these as a formula (a tab or carriage return
# first is how such text hides its start).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def hidden_characters(text: str) -> list[str]:
    """Control and format characters (a bell, a right-to-left override, a zero-width space …) as
    U+XXXX, in the order they come; ordinary spaces are not among them."""
    found = []
    for character in text:
        if unicodedata.category(character) not in {"Cc", "Cf"}:
            continue
        code = f"U+{ord(character):04X}"
        if code not in found:
            found.append(code)
    return found


def visible(text: str) -> str:
    """The text with each hidden character written as ⟨U+XXXX⟩, so a message shows where it is."""
    return "".join(f"⟨U+{ord(c):04X}⟩" if unicodedata.category(c) in {"Cc", "Cf"} else c for c in text)


def odd_name(text: str) -> str | None:
    """Why a person should look at this name again, or None. The reason completes “… {reason}”."""
    if text.startswith(FORMULA_STARTS):
        first = {"\t": "a tab", "\r": "a carriage return"}.get(text[0], f"“{text[0]}”")
        return f"begins with {first}, as a spreadsheet formula does"
    hidden = hidden_characters(text)
    if hidden:
        return f"holds a hidden character ({', '.join(hidden)})"
    return None
