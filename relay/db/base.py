"""The declarative base every relay model derives from.

A fixed naming convention keeps constraint names identical on SQLite and PostgreSQL,
so Alembic migrations can refer to them by name on both.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A 64-bit key that is SQLite's rowid: only the exact type name INTEGER aliases the rowid,
# which saves SQLite a second b-tree per table and makes appends in key order cheap.
BigIntegerKey = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Base class of all relay tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
