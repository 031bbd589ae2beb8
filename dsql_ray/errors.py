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


# -- kinds of error, each with its SQLSTATE chosen here once -------------------------------
# Names follow PostgreSQL's condition names (errcodes.txt). Raise the kind, not a bare
# DsqlError with a sqlstate: ``raise UndefinedColumn(f'column "{name}" does not exist')``.

# parse / bind: names and types (class 42)
class UndefinedTable(BindError):
    sqlstate = "42P01"


class UndefinedColumn(BindError):
    sqlstate = "42703"


class UndefinedObject(BindError):
    """A type, schema object or option value that does not exist."""
    sqlstate = "42704"


class UndefinedFunction(BindError):
    sqlstate = "42883"


class UndefinedParameter(BindError):
    sqlstate = "42P02"


class AmbiguousColumn(BindError):
    sqlstate = "42702"


class DuplicateAlias(BindError):
    sqlstate = "42712"


class InvalidColumnReference(BindError):
    """ORDER BY / GROUP BY positions and references that name no column."""
    sqlstate = "42P10"


class DatatypeMismatch(BindError):
    sqlstate = "42804"


class CannotCoerce(BindError):
    sqlstate = "42846"


class WrongObjectType(BindError):
    sqlstate = "42809"


class GroupingError(BindError):
    sqlstate = "42803"


class WindowingError(BindError):
    sqlstate = "42P20"


class InvalidSchemaName(BindError):
    sqlstate = "3F000"


# plan: definitions against the catalog's current state (DDL)
class CatalogError(DsqlError):
    """A definition that conflicts with what the catalog holds."""
    sqlstate = "42P16"


class DuplicateTable(CatalogError):
    sqlstate = "42P07"


class DuplicateColumn(CatalogError):
    sqlstate = "42701"


class InvalidTableDefinition(CatalogError):
    sqlstate = "42P16"


class DependentObjectsStillExist(CatalogError):
    sqlstate = "2BP01"


class ObjectNotInPrerequisiteState(CatalogError):
    sqlstate = "55000"


class GeneratedAlways(CatalogError):
    sqlstate = "428C9"


# execute: data exceptions (class 22) and run-time conditions
class NumericOutOfRange(ExecuteError):
    sqlstate = "22003"


class DivisionByZero(ExecuteError):
    sqlstate = "22012"


class SequenceLimitReached(ExecuteError):
    """nextval past a sequence's MAXVALUE (or MINVALUE) without CYCLE."""
    sqlstate = "2200H"


class InvalidTextRepresentation(ExecuteError):
    sqlstate = "22P02"


class InvalidParameterValue(ExecuteError):
    sqlstate = "22023"


class InvalidArgumentForPowerFunction(ExecuteError):
    sqlstate = "2201F"


class InvalidArgumentForLogarithm(ExecuteError):
    sqlstate = "2201E"


class DatetimeFieldOverflow(ExecuteError):
    sqlstate = "22008"


class CharacterNotInRepertoire(ExecuteError):
    sqlstate = "22021"


class CardinalityViolation(ExecuteError):
    sqlstate = "21000"


class QueryCanceled(ExecuteError):
    sqlstate = "57014"


class InternalError(DsqlError):
    sqlstate = "XX000"


# constraints (class 23)
class NotNullViolation(ConstraintViolation):
    sqlstate = "23502"


class UniqueViolation(ConstraintViolation):
    sqlstate = "23505"


class ForeignKeyViolation(ConstraintViolation):
    sqlstate = "23503"


class InvalidForeignKey(CatalogError):
    sqlstate = "42830"


class CheckViolation(ConstraintViolation):
    sqlstate = "23514"


#: SQLSTATE → the kind raised for it (the rewrite of raw raises used this table)
KINDS: dict[str, type[DsqlError]] = {
    cls.sqlstate: cls for cls in (
        ParseError, FeatureNotSupported, LimitExceeded, SerializationFailure,
        UndefinedTable, UndefinedColumn, UndefinedObject, UndefinedFunction,
        UndefinedParameter, AmbiguousColumn, DuplicateAlias, InvalidColumnReference,
        DatatypeMismatch, CannotCoerce, WrongObjectType, GroupingError, WindowingError,
        InvalidSchemaName, DuplicateTable, DuplicateColumn, InvalidTableDefinition,
        DependentObjectsStillExist, ObjectNotInPrerequisiteState, GeneratedAlways,
        NumericOutOfRange, DivisionByZero, InvalidTextRepresentation, InvalidParameterValue,
        InvalidArgumentForPowerFunction, InvalidArgumentForLogarithm, DatetimeFieldOverflow,
        CharacterNotInRepertoire, CardinalityViolation, QueryCanceled, InternalError,
        NotNullViolation, UniqueViolation, CheckViolation)}


class Unavailable(DsqlError):
    """A role the statement needs did not answer in time; safe to retry."""
    sqlstate = "08006"


class InvalidObjectDefinition(BindError):
    sqlstate = "42P17"


class DuplicateObject(CatalogError):
    sqlstate = "42710"


class InvalidFunctionDefinition(CatalogError):
    sqlstate = "42P13"


class DuplicateFunction(CatalogError):
    sqlstate = "42723"
