"""One error base carrying a SQLSTATE; one class per stage of the pipeline.

Every error that can reach a client is a :class:`DsqlError`. The wire layer turns it
into an ErrorResponse (severity, SQLSTATE, message, detail, hint); anything else that
escapes is a bug and is reported as ``XX000``.
"""
from __future__ import annotations


class DsqlError(Exception):
    """An error with a PostgreSQL SQLSTATE, safe to send to a client."""

    sqlstate = "XX000"
    severity = "ERROR"

    def __init__(self, message: str, *, sqlstate: str | None = None,
                 detail: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        if sqlstate is not None:
            self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint

    def __reduce__(self):  # survive pickling across the data plane
        return (_rebuild, (type(self), self.message, self.sqlstate, self.detail, self.hint))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sqlstate}: {self.message})"


def _rebuild(cls, message, sqlstate, detail, hint):
    return cls(message, sqlstate=sqlstate, detail=detail, hint=hint)


class ProtocolError(DsqlError):
    """Malformed or unexpected frontend message (the connection is closed)."""
    sqlstate = "08P01"
    severity = "FATAL"


class AuthError(DsqlError):
    sqlstate = "28000"
    severity = "FATAL"


class ParseError(DsqlError):
    sqlstate = "42601"


class BindError(DsqlError):
    """Name resolution and typing: unknown table (42P01), column (42703), …"""
    sqlstate = "42703"


class PlanError(DsqlError):
    sqlstate = "0A000"


class ExecuteError(DsqlError):
    sqlstate = "22000"


class FeatureNotSupported(DsqlError):
    sqlstate = "0A000"


class ConstraintViolation(DsqlError):
    sqlstate = "23000"


class TransactionAborted(DsqlError):
    sqlstate = "25P02"

    def __init__(self, message: str = "current transaction is aborted, commands ignored "
                 "until end of transaction block", **kw):
        super().__init__(message, **kw)


class SerializationFailure(DsqlError):
    """First committer wins: the loser gets 40001 at COMMIT."""
    sqlstate = "40001"

    def __init__(self, message: str = "change conflicts with another transaction, "
                 "please retry: (OC000)", **kw):
        super().__init__(message, **kw)


class SchemaChanged(SerializationFailure):
    def __init__(self, message: str = "schema has been updated by another transaction, "
                 "please retry: (OC001)", **kw):
        super().__init__(message, **kw)


class LimitExceeded(DsqlError):
    sqlstate = "54000"


class Unavailable(DsqlError):
    """A role the statement needs did not answer in time; safe to retry."""
    sqlstate = "08006"
