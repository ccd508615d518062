"""The SQL schema: one table of JSON documents keyed by (kind, id), and the revision."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, String, Table, Text

metadata = MetaData()

objects = Table(
    "objects",
    metadata,
    Column("kind", String(64), primary_key=True),
    Column("id", String(1024), primary_key=True),
    Column("parent", String(1024), nullable=True),
    Column("doc", Text, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
