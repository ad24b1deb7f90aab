"""The one base of every refusal keystage gives a person: a file, a form, a request or an action that
cannot be done as asked. str() is always the message for the person, in their words, saying what to
do; nothing was changed. Each kind of refusal has its own type below this (``CollectionError`` for
results collections, ``ReturnsError`` for LA returns, ``CTFError`` for an unreadable CTF, and so on),
so code catches the kind it can answer, and a page or command that meets one shows its message
rather than failing.

Not refusals: faults of the machine or of keystage itself (a full disk, a bug), which are logged
and answered as such.
"""

from __future__ import annotations


class Refused(Exception):
    """Something a person asked for, or gave, that keystage cannot take; str() says why and what to do."""
