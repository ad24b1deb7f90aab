"""When something the service depends on fails: the database goes away, or file storage cannot keep
a file (a full disk, an unreachable object store).

Files are saved whole or not at all: Django's FileSystemStorage leaves on disk whatever it wrote of a
file it could not finish, so a caller that records a file in the database saves it through
``save_whole`` first, and after a failed transaction removes it with ``discard_unrecorded``. No row is
left pointing at a missing or half-written file, and no stray file is left behind."""

from __future__ import annotations

import errno
import logging
import posixpath
from contextlib import suppress
from typing import Any

from django.core.files.base import File
from django.db import DatabaseError, InterfaceError, OperationalError
from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.http import UnreadablePostError

logger = logging.getLogger(__name__)

# What a lost or restarting database raises (PostgreSQL refusing or dropping the connection, SQLite
# locked past its timeout): the request or task can be tried again once it is back.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)

# What a page or API answer asks a client to wait when the database or storage is down.
RETRY_AFTER_SECONDS = 30

NOT_STORED_MESSAGE = (
    "The server could not store your file, so nothing was saved. Please try again in a few minutes; "
    "if it keeps happening, tell your administrator."
)


class FileNotStored(Exception):
    """Storage could not keep a file, and nothing of it is left. str() is the message for the person."""

    def __init__(self, message: str = NOT_STORED_MESSAGE) -> None:
        super().__init__(message)


def storage_full(error: BaseException | None) -> bool:
    """A file could not be kept: storage failed, or a disk (the uploads' temporary folder) is full."""
    if isinstance(error, FileNotStored):
        return True
    return (
        isinstance(error, OSError)
        and not isinstance(error, UnreadablePostError)  # the client went away: not the server's disk
        and error.errno in (errno.ENOSPC, errno.EDQUOT)
    )


# PostgreSQL's SQLSTATEs of a server going away or not there yet: the connection exception class (08),
# and an operator's shutdown, a crash's, or a server still starting (57P01, 57P02, 57P03). Others, such as
# a statement timeout (57014), come from the query and are not worth a client's retry.
_POSTGRES_UNAVAILABLE = ("08", "57P0")
# SQLite's: the file locked by another writer past the timeout, or not there or not readable.
_SQLITE_UNAVAILABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL")


def database_unavailable(error: BaseException | None) -> bool:
    """The database is away or restarting (a page answers 503, come back later), rather than a query
    failing on its own (a bug, a statement timeout: 500, and the log says what)."""
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    cause = error.__cause__  # the driver's own error, as Django wraps it
    state = getattr(cause, "sqlstate", None)
    if state:
        return str(state).startswith(_POSTGRES_UNAVAILABLE)
    sqlite_name = getattr(cause, "sqlite_errorname", None)
    if sqlite_name:
        return str(sqlite_name).startswith(_SQLITE_UNAVAILABLE)
    return True  # psycopg's own connection failures (refused, closed, lost) carry no SQLSTATE


def save_whole(field_file: FieldFile, name: str, content: File[Any]) -> None:
    """Save ``content`` as the file of ``field_file`` (not saving its row), or raise FileNotStored
    with nothing of the file left in storage."""
    storage = field_file.storage
    # The name the storage will write, so that what a failure leaves there can be deleted; unless the
    # storage overwrites (S3's default) and hands back a name in use, whose file is not ours to delete.
    target = storage.get_available_name(
        field_file.field.generate_filename(field_file.instance, name), max_length=field_file.field.max_length
    )
    taken = storage.exists(target)
    try:
        field_file.save(posixpath.basename(target), content, save=False)
    except Exception as error:
        logger.exception("Storage could not keep %s", target)
        with suppress(Exception):  # storage that failed may fail again; the first error is the one to tell
            if not taken and storage.exists(target):
                storage.delete(target)
        raise FileNotStored() from error


def discard_unrecorded(field_file: FieldFile, recorded: QuerySet[Any]) -> None:
    """After a transaction that should have recorded a saved file failed: delete the file unless a row
    (``recorded``) holds it. When the database cannot say (it went away, perhaps mid-commit) the file
    is kept: a stray file harms nothing, a row whose file is gone would."""
    name = field_file.name
    if not name:
        return
    try:
        if recorded.exists():
            return
    except DatabaseError:
        logger.warning("Kept %s: the database could not say whether a row holds it", name)
        return
    try:
        field_file.storage.delete(name)
    except Exception:
        logger.exception("Could not delete %s, a file no row holds", name)
