"""Declarative base shared by every model: typed columns, named constraints, UTC time."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect, Enum, Float, MetaData
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

# Constraint names are stable across SQLite and PostgreSQL so migrations can drop them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only kind the models accept)."""
    return datetime.now(UTC)


def value_enum(enum_cls: type[enum.Enum], name: str, length: int = 32) -> Enum:
    """A column type storing a Python enum by its value as VARCHAR plus a CHECK constraint.

    Values, not member names, go to the database so rows read well in SQL and renaming
    a Python member never rewrites data. `name` names the CHECK constraint
    (`ck_<table>_<name>` through the naming convention).
    """
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned timezone-aware.

    SQLite has no time zones; without this, values read back are naive and compare
    wrongly with aware ones.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC values")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        # `Mapped[float]` is FLOAT in every migration; SQLAlchemy 2.1's default would be
        # DOUBLE, which autogenerate reports as drift against those migrations.
        type_annotation_map={datetime: UTCDateTime(), float: Float()},
    )
