"""PEP 249's exception hierarchy, each error carrying its SQLSTATE as psycopg's do.

A server error (:class:`~dsql_ray.errors.DsqlError`) becomes the class psycopg raises for
its SQLSTATE class: 23505 an :class:`IntegrityError` (:class:`UniqueViolation`), 40001 a
:class:`SerializationFailure`, a subclass of :class:`TransactionRollbackError` and of
:class:`OperationalError`, and so on.
"""
from __future__ import annotations


class Warning(Exception):  # noqa: A001 - PEP 249's name
    pass


class Error(Exception):
    """Base of every database error; ``sqlstate`` (None for client-side errors),
    ``pgerror`` (the message), ``detail`` and ``hint`` as the server sent them."""

    sqlstate: str | None = None

    def __init__(self, message: str = "", *, sqlstate: str | None = None,
                 detail: str | None = None, hint: str | None = None):
        super().__init__(message)
        if sqlstate is not None:
            self.sqlstate = sqlstate
        self.pgerror = message
        self.detail, self.hint = detail, hint

    def __reduce__(self):   # crosses Ray task boundaries intact
        return (_rebuild, (type(self), str(self), self.sqlstate, self.detail, self.hint))


def _rebuild(cls, message, sqlstate, detail, hint):
    return cls(message, sqlstate=sqlstate, detail=detail, hint=hint)


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


class UniqueViolation(IntegrityError):
    sqlstate = "23505"


class TransactionRollbackError(OperationalError):
    """SQLSTATE class 40: the transaction was rolled back; running it again may work."""


class SerializationFailure(TransactionRollbackError):
    """40001: a conflict at COMMIT (OC000 data, OC001 schema); retry the transaction
    (:func:`dsql_ray.run_transaction` does)."""
    sqlstate = "40001"


class InFailedSqlTransaction(InternalError):
    sqlstate = "25P02"


# SQLSTATE class → PEP 249 class, as psycopg maps them
_BY_CLASS = {
    "08": OperationalError, "0A": NotSupportedError, "20": ProgrammingError,
    "21": ProgrammingError, "22": DataError, "23": IntegrityError, "24": InternalError,
    "25": InternalError, "26": OperationalError, "27": OperationalError,
    "28": OperationalError, "2B": InternalError, "2D": InternalError, "2F": InternalError,
    "34": OperationalError, "38": InternalError, "39": InternalError, "3B": InternalError,
    "3D": ProgrammingError, "3F": ProgrammingError, "40": TransactionRollbackError,
    "42": ProgrammingError, "44": ProgrammingError, "53": OperationalError,
    "54": OperationalError, "55": OperationalError, "57": OperationalError,
    "58": OperationalError, "F0": InternalError, "HV": OperationalError,
    "P0": InternalError, "XX": InternalError,
}
_BY_STATE = {"23505": UniqueViolation, "40001": SerializationFailure,
             "25P02": InFailedSqlTransaction}


def error_class(sqlstate: str | None) -> type[Error]:
    if not sqlstate:
        return DatabaseError
    return _BY_STATE.get(sqlstate) or _BY_CLASS.get(sqlstate[:2], DatabaseError)


def from_server(exc: BaseException) -> Error:
    """The PEP 249 error for an exception the server (or the data plane) raised."""
    if isinstance(exc, Error):
        return exc
    sqlstate = getattr(exc, "sqlstate", None)
    message = getattr(exc, "message", None) or str(exc)
    if sqlstate is None:
        return OperationalError(f"{type(exc).__name__}: {message}")
    err = error_class(sqlstate)(message, sqlstate=sqlstate,
                                detail=getattr(exc, "detail", None),
                                hint=getattr(exc, "hint", None))
    return err
