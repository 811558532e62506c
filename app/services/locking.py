"""Serializing writers on SQLite, which has no row locks.

PostgreSQL serializes concurrent writers of one row with `SELECT ... FOR UPDATE` (SQLite
drops that clause). On SQLite the equivalent is to take the database's single write lock
before the first read of a read-then-write transaction: `BEGIN IMMEDIATE`. Readers go on
under WAL; another writer waits for the lock up to the connection's busy timeout.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection


def begin_immediate(connection: Connection) -> None:
    """On SQLite, open the transaction with `BEGIN IMMEDIATE` unless one is open already;
    a no-op on other databases.

    The sqlite3 module opens a transaction only before a write, so the reads a request
    made so far (the token lookup) left none open; if a write opened one, it holds the
    write lock already.
    """
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    # A pooled connection always wraps a live DBAPI connection here.
    assert driver is not None
    if not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
