"""One server per database: an exclusive lock a server holds on its store while it runs.

The store keeps every resource in memory and writes through (store.py), so two
servers on one database would each serve a stale copy and overwrite the
other's work. The revision check catches that at the first conflicting write,
but only after the second server has started, and then it is the first one
that fails. This lock refuses the second server at start instead, before it
migrates or writes anything:

* SQLite: ``flock`` on ``portside.db.lock`` beside the database. The kernel
  drops it when the process dies (even by ``kill -9``), so a stale file never
  blocks a restart; the file holds the owner's description, for the message.
* PostgreSQL: a session-level ``pg_try_advisory_lock`` on a connection of its
  own, held for the server's lifetime; the server drops it when that session
  ends. The owner's description is the session's ``application_name``.

A lock lost under a running server (the PostgreSQL session cut) is not
noticed here: the revision check stays the safety net.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from portside.store.store import sqlite_path

ADVISORY_KEY = int.from_bytes(b"portside", "big")
"""The PostgreSQL advisory lock key (advisory locks are per database)."""


class StoreLocked(RuntimeError):
    """Another server holds the store."""


class StoreLock:
    """A held lock; :meth:`release` gives it up (exiting the process does too)."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None


def lock_store(url: str, owner: str) -> StoreLock:
    """Take the store's lock for this process, or raise :class:`StoreLocked`.

    ``owner`` describes this server (pid, endpoint) to a second one refused.
    """
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is None:
            return StoreLock(lambda: None)  # nothing another process could open
        return _lock_file(Path(path + ".lock"), owner)
    return _lock_postgres(url, owner)


def _lock_file(path: Path, owner: str) -> StoreLock:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by agents (PEP 446)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 512).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise StoreLocked(
            f"the database is in use: {path} is locked by {holder}. One server owns a "
            "database: stop that server, or give this one another --data-dir."
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, (owner + "\n").encode(), 0)
    return StoreLock(lambda: os.close(fd))


def _lock_postgres(url: str, owner: str) -> StoreLock:
    engine = create_engine(url, poolclass=NullPool,
                           connect_args={"application_name": owner[:63]})  # fmt: skip
    conn: Any = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        if not got:
            holder = _pg_holder(conn)
            raise StoreLocked(
                f"the database is in use: its advisory lock {ADVISORY_KEY} (pg_locks) is held "
                f"by {holder}. One server owns a database: stop that server, or point "
                "PORTSIDE_DATABASE_URL at another database."
            )
    except BaseException:
        conn.close()
        engine.dispose()
        raise

    def release() -> None:
        conn.close()  # ends the session, and with it the lock
        engine.dispose()

    return StoreLock(release)


def _pg_holder(conn: Any) -> str:
    """The session holding the lock, as PostgreSQL shows it (best effort)."""
    row = conn.execute(
        text(
            "SELECT a.pid, a.application_name, a.client_addr FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.classid = CAST(:hi AS oid) AND l.objid = CAST(:lo AS oid) "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"hi": ADVISORY_KEY >> 32, "lo": ADVISORY_KEY & 0xFFFFFFFF},
    ).first()
    if row is None:
        return "another session"
    pid, app, addr = row
    where = f" from {addr}" if addr else ""
    return f"{app or 'a session'} (PostgreSQL backend pid {pid}{where})"
