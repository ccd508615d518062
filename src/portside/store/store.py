"""The store: every resource in memory, every change written through to SQL first.

portside's control plane is one process that owns its database. It loads all
documents at start-up into per-kind dictionaries (plus a per-parent index, so
"the tasks of this cluster" costs no scan), serves reads from memory, and makes
each mutation durable before it becomes visible: ``commit`` writes the batch and
bumps the revision in one SQL transaction, and only then updates memory. The
revision update is conditional (``WHERE value = expected``), so a second
process writing the same database is detected instead of silently merged (a
second server is refused at start before that: store/lock.py; this is the
safety net).

SQLite runs in WAL mode with ``synchronous=FULL``: a commit that returned has
reached the disk. PostgreSQL is chosen by URL.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool

from portside.domain.codec import from_doc, to_doc
from portside.store.tables import meta, objects


class Resource(Protocol):
    KIND: ClassVar[str]

    @property
    def key(self) -> str: ...

    @property
    def parent(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Delete:
    kind: str
    key: str


Change = Resource | Delete


def kind_of(change: Change | Any) -> str | None:
    """The store kind a change touches (a resource's KIND, or the kind a Delete names)."""
    return change.kind if isinstance(change, Delete) else getattr(change, "KIND", None)


class ConflictError(RuntimeError):
    """The database revision moved under us: another process writes this database."""


class Store:
    """Resources by kind and key, durable on commit."""

    def __init__(self, url: str, kinds: Mapping[str, type[Any]]):
        self.url = url
        self._kinds = dict(kinds)
        self.engine = _engine(url)
        _migrate(self.engine)
        self._by_kind: dict[str, dict[str, Any]] = {k: {} for k in self._kinds}
        self._by_parent: dict[tuple[str, str], dict[str, Any]] = {}
        self.revision = 0
        self._listeners: list[Callable[[Sequence[Change]], None]] = []
        self._sqlite: Any = None
        self._sqlite_fairy: Any = None
        self._load()

    # -- reads -----------------------------------------------------------

    def get(self, kind: str, key: str) -> Any | None:
        return self._by_kind[kind].get(key)

    def all(self, kind: str) -> Mapping[str, Any]:
        """Every resource of a kind, in creation order (a live view: do not mutate)."""
        return self._by_kind[kind]

    def children(self, kind: str, parent: str) -> Mapping[str, Any]:
        """Resources of a kind under one parent (e.g. the tasks of a cluster)."""
        return self._by_parent.get((kind, parent), {})

    # -- writes ----------------------------------------------------------

    def commit(self, changes: Sequence[Change], expected_revision: int | None = None) -> int:
        """Make ``changes`` durable, then visible; return the new revision."""
        if expected_revision is not None and expected_revision != self.revision:
            raise ConflictError(f"expected revision {expected_revision}, at {self.revision}")
        if not changes:
            return self.revision
        puts: list[dict[str, Any]] = []
        deletes: list[Delete] = []
        for change in changes:
            if isinstance(change, Delete):
                deletes.append(change)
            else:
                puts.append(
                    {
                        "kind": change.KIND,
                        "id": change.key,
                        "parent": change.parent,
                        "doc": json.dumps(to_doc(change), separators=(",", ":")),
                    }
                )
        new_revision = self.revision + 1
        if self.engine.dialect.name == "sqlite":
            self._write_sqlite(puts, deletes, new_revision)
        else:
            self._write(puts, deletes, new_revision)
        self.revision = new_revision
        for change in changes:
            if isinstance(change, Delete):
                self._forget(change.kind, change.key)
            else:
                self._remember(change)
        for listener in self._listeners:
            listener(changes)
        return new_revision

    def _write(self, puts: list[dict[str, Any]], deletes: list[Delete], new_revision: int) -> None:
        with self.engine.begin() as conn:
            bumped = conn.execute(
                update(meta)
                .where(meta.c.key == "revision", meta.c.value == self.revision)
                .values(value=new_revision)
            )
            if bumped.rowcount != 1:
                raise ConflictError("the database revision changed: is another server running?")
            if puts:
                conn.execute(self._upsert(), puts)
            for d in deletes:
                conn.execute(
                    objects.delete().where(objects.c.kind == d.kind, objects.c.id == d.key)
                )

    def _write_sqlite(
        self, puts: list[dict[str, Any]], deletes: list[Delete], new_revision: int
    ) -> None:
        """The same transaction on the raw sqlite3 connection, with fixed SQL.

        Building and compiling SQLAlchemy statements cost more than the write
        itself (about 1 ms of a 1.5 ms commit); the SQL never changes.
        """
        con = self._raw_sqlite()
        con.execute("BEGIN IMMEDIATE")
        try:
            cur = con.execute(
                "UPDATE meta SET value = ? WHERE key = 'revision' AND value = ?",
                (new_revision, self.revision),
            )
            if cur.rowcount != 1:
                raise ConflictError("the database revision changed: is another server running?")
            if puts:
                con.executemany(
                    "INSERT INTO objects (kind, id, parent, doc) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc, "
                    "parent = excluded.parent",
                    [(p["kind"], p["id"], p["parent"], p["doc"]) for p in puts],
                )
            if deletes:
                con.executemany(
                    "DELETE FROM objects WHERE kind = ? AND id = ?",
                    [(d.kind, d.key) for d in deletes],
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _raw_sqlite(self) -> Any:
        if self._sqlite is None:
            fairy = self.engine.raw_connection()
            self._sqlite_fairy = fairy
            self._sqlite = fairy.driver_connection
            self._sqlite.isolation_level = None  # explicit BEGIN / COMMIT
        return self._sqlite

    def subscribe(self, listener: Callable[[Sequence[Change]], None]) -> None:
        """Call ``listener(changes)`` after every commit, once the changes are visible.

        Listeners run on the committing thread (the event loop) and must be quick:
        they note what changed and wake a loop; they never commit themselves.
        """
        self._listeners.append(listener)

    def close(self) -> None:
        if self._sqlite_fairy is not None:
            self._sqlite_fairy.close()
            self._sqlite = self._sqlite_fairy = None
        self.engine.dispose()

    # -- internals -------------------------------------------------------

    def _upsert(self) -> Any:
        dialect = sqlite if self.engine.dialect.name == "sqlite" else postgresql
        stmt = dialect.insert(objects)
        return stmt.on_conflict_do_update(
            index_elements=[objects.c.kind, objects.c.id],
            set_={"doc": stmt.excluded.doc, "parent": stmt.excluded.parent},
        )

    def _remember(self, obj: Any) -> None:
        kind, key, parent = obj.KIND, obj.key, obj.parent
        old = self._by_kind[kind].get(key)
        if old is not None and old.parent != parent:
            self._by_parent.get((kind, old.parent), {}).pop(key, None)
        self._by_kind[kind][key] = obj
        if parent is not None:
            self._by_parent.setdefault((kind, parent), {})[key] = obj

    def _forget(self, kind: str, key: str) -> None:
        old = self._by_kind[kind].pop(key, None)
        if old is not None and old.parent is not None:
            self._by_parent.get((kind, old.parent), {}).pop(key, None)

    def _load(self) -> None:
        with self.engine.connect() as conn:
            self.revision = conn.execute(
                select(meta.c.value).where(meta.c.key == "revision")
            ).scalar_one()
            rows = conn.execute(select(objects.c.kind, objects.c.doc)).all()
        loaded: list[Any] = []
        for kind, doc in rows:
            cls = self._kinds.get(kind)
            if cls is not None:
                loaded.append(from_doc(cls, json.loads(doc)))
        loaded.sort(key=_order)
        for obj in loaded:
            self._remember(obj)


def _order(obj: Any) -> tuple[str, float]:
    """Creation order within a kind, so listings keep the order resources were made in."""
    at = getattr(obj, "created_at", None) or getattr(obj, "registered_at", None)
    return obj.KIND, at.timestamp() if at is not None else 0.0


def sqlite_path(url: str) -> str | None:
    """The file a SQLite URL names; None for another database or one without a file
    (no path, ``:memory:``), which nothing else can open."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1] if "///" in url else ""
    return path if path and path != ":memory:" else None


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=" + os.environ.get("PORTSIDE_SQLITE_SYNC", "FULL"))
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _migrate(engine: Engine) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def sqlite_url(data_dir: str | os.PathLike[str]) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'portside.db'}"
