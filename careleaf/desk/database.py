"""The front desk's database: the outbox, the idempotency keys and the register, in one place.

One machine keeps them in an SQLite file in the project's data folder (``desk.sqlite3``, private); a clinic
group keeps them in one PostgreSQL database shared by every machine (``outbox: storage: postgresql``). The
SQL is the same on both, so what is proved on one holds on the other. Every row carries the project's
``namespace``: two projects on one server never see each other's sends or register.

Why the outbox is careleaf's own tables rather than a task queue: a send's claim, its record and its register
entry must change together, in one transaction, and only a database the register also lives in can do that.
A task queue beside it (huey, Redis) is a second truth that can disagree with the first after a crash.

Every database fault reaches the caller as :class:`Unavailable`, in plain words naming what to do.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from careleaf.errors import HandoutError
from careleaf.content.settings import Settings, data_folder, secret

DATABASE_FILE = "desk.sqlite3"
OLD_REGISTER_FILE = "register.sqlite3"       # the register's own file before the outbox joined it
LOCAL = "local"                              # the namespace of a project on its own SQLite file

_SCHEMA = """
create table if not exists sends (
    namespace text not null, id text not null, key text not null, status text not null,
    attempts integer not null, created text not null, updated text not null, next_try text not null,
    lease_until text, worker text, failing_since text, reply text not null, reference text not null,
    about text not null, primary key (namespace, id));
create index if not exists sends_due on sends (namespace, status, next_try);
create table if not exists messages (namespace text not null, id text not null, body {blob} not null,
    primary key (namespace, id));
create table if not exists idempotency_keys (namespace text not null, key text not null, send_id text not null,
    created text not null, primary key (namespace, key));
create table if not exists outbox_pause (namespace text not null primary key, since text not null,
    reason text not null);
create table if not exists handouts (namespace text not null, at text, channel text, code text, version integer,
    lang text, large_print boolean, content_fingerprint text, brand text, treatment text, kind text, staff text,
    reference text, revision text, send_id text);
create index if not exists handouts_reference on handouts (namespace, reference);
create index if not exists handouts_code on handouts (namespace, code, version);
create table if not exists purges (namespace text not null primary key, at text not null);
create table if not exists workers (namespace text not null, name text not null, seen text not null,
    primary key (namespace, name));
"""


class Unavailable(HandoutError):
    """The desk's database cannot be used now (disk full, server down, locked): nothing was changed."""


class Database:
    """A connection per thread to the desk's database, and transactions on it."""

    def __init__(self, kind: str, target: str, namespace: str, where: str):
        self.kind, self.target, self.namespace, self.where = kind, target, namespace, where
        self._local = threading.local()
        with self.transaction() as tx:
            if kind == "postgresql":       # two machines starting at once must not both create the tables
                tx.run("select pg_advisory_xact_lock(4242025)")
            for statement in _SCHEMA.format(blob="bytea" if kind == "postgresql" else "blob").split(";"):
                if statement.strip():
                    tx.run(statement)

    # --- connections ------------------------------------------------------------------------

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        return connection

    def _connect(self):
        try:
            if self.kind == "postgresql":
                import psycopg

                return psycopg.connect(self.target, autocommit=True, connect_timeout=10,
                                       application_name="careleaf")
            connection = sqlite3.connect(self.target, timeout=30, isolation_level=None, check_same_thread=False)
            connection.execute("pragma journal_mode=wal")
            # Deleted rows are overwritten, so a delivered message's bytes do not linger in free pages.
            connection.execute("pragma secure_delete=on")
            return connection
        except Exception as error:
            raise self._unavailable(error) from None

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            self._local.connection = None
            connection.close()

    # --- transactions -----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator["Transaction"]:
        """One transaction: everything in it happens, or (on any error) nothing. SQLite takes its write lock
        at the start (BEGIN IMMEDIATE), so two writers wait their turn instead of failing half-way."""
        connection = self._connection()
        try:
            if self.kind == "postgresql":
                with connection.transaction():
                    yield Transaction(self, connection.cursor())
            else:
                connection.execute("begin immediate")
                try:
                    yield Transaction(self, connection.cursor())
                except BaseException:
                    connection.rollback()
                    raise
                connection.commit()
        except (sqlite3.Error, _psycopg_error()) as error:
            self.close()        # a broken connection is made again next time
            raise self._unavailable(error) from None

    def maintain(self, tables: tuple[str, ...]) -> None:
        """Give free pages back (VACUUM) and, on SQLite, empty the write-ahead log: deleted messages leave no copy."""
        connection = self._connection()
        try:
            if self.kind == "postgresql":
                connection.execute(f"vacuum {', '.join(tables)}")
            else:
                connection.execute("vacuum")
                connection.execute("pragma wal_checkpoint(TRUNCATE)")
        except (sqlite3.Error, _psycopg_error()) as error:
            self.close()
            raise self._unavailable(error) from None

    def checkpoint(self) -> None:
        """On SQLite, copy the write-ahead log back (where secure_delete zeroes deleted rows) and empty it."""
        if self.kind == "sqlite":
            try:
                self._connection().execute("pragma wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass        # busy: the next checkpoint, or SQLite's own, does it

    def _unavailable(self, error: Exception) -> Unavailable:
        said = str(error).lower()
        if self.kind == "sqlite":
            if "full" in said:
                return Unavailable([f"outbox: the disk holding {self.where} is full, so nothing was changed: "
                                    "free some space, then try again"])
            if "locked" in said or "busy" in said:
                return Unavailable([f"outbox: {self.where} stayed locked by another program for 30 s; "
                                    "nothing was changed: try again"])
            return Unavailable([f"outbox: {self.where} cannot be used ({type(error).__name__}: {error}); "
                                "check the data folder's disk and permissions"])
        kind = type(error).__name__
        if "password" in said or "authentication" in said:
            return Unavailable([f"outbox: the database at {self.where} refused careleaf's sign-in; check the "
                                "user and password in the database address"])
        if "certificate" in said or "ssl" in said:
            return Unavailable([f"outbox: the database at {self.where} could not be reached securely ({kind}); "
                                "check its certificate and sslrootcert"])
        return Unavailable([f"outbox: the database at {self.where} cannot be reached or refused the change "
                            f"({kind}); nothing was changed: check that it is running, then try again"])


class Transaction:
    """SQL with ``?`` placeholders, run on either database."""

    def __init__(self, database: Database, cursor):
        self.database, self.cursor = database, cursor
        self.postgres = database.kind == "postgresql"

    @property
    def namespace(self) -> str:
        return self.database.namespace

    def run(self, sql: str, *params: Any) -> int:
        """Run one statement; how many rows it changed."""
        self.cursor.execute(sql.replace("?", "%s") if self.postgres else sql, params)
        return self.cursor.rowcount

    def rows(self, sql: str, *params: Any) -> list[tuple]:
        self.run(sql, *params)
        return list(self.cursor.fetchall())

    def one(self, sql: str, *params: Any) -> tuple | None:
        found = self.rows(sql, *params)
        return found[0] if found else None

    @property
    def skip_locked(self) -> str:
        """What makes a worker pass over a row another worker is claiming (SQLite has one writer at a time)."""
        return " for update skip locked" if self.postgres else ""


def _psycopg_error():
    try:
        import psycopg
    except ImportError:
        return sqlite3.Error
    return psycopg.Error


_opened: dict[tuple, Database] = {}
_opening = threading.Lock()


def open_database(project, settings: Settings) -> Database:
    """The project's desk database, opened once per process (a worker's threads share it)."""
    outbox = settings.outbox
    if outbox.storage == "postgresql":
        url = secret(outbox.database_url_env)
        if not url:
            raise Unavailable([f"outbox: the environment variable {outbox.database_url_env} should hold the "
                               "database's address, for example postgresql://careleaf@db.clinic.example/careleaf"
                               "?sslmode=verify-full"])
        where = _safe_address(url)
        spec = ("postgresql", url, outbox.namespace, where)
    else:
        path = data_folder(project, settings) / DATABASE_FILE
        if not path.exists():       # created private: until delivered, messages are health data
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        spec = ("sqlite", str(path), outbox.namespace or LOCAL, str(path))
    with _opening:
        if spec not in _opened:
            database = Database(*spec)
            if database.kind == "sqlite":
                _import_old_register(database, Path(spec[1]).with_name(OLD_REGISTER_FILE))
            _opened[spec] = database
        return _opened[spec]


def _safe_address(url: str) -> str:
    """The database's host, port and name, never its password, for messages."""
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise Unavailable(["outbox: storage: postgresql needs careleaf's postgres extra: "
                           "pip install 'careleaf[postgres]'"]) from None
    try:
        parts = conninfo_to_dict(url)
    except Exception:
        raise Unavailable(["outbox: the database address is not one PostgreSQL understands; write it as "
                           "postgresql://user@host:5432/database"]) from None
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def _import_old_register(database: Database, old: Path) -> None:
    """A register kept in its own file (before the outbox joined it) moves into the desk's database, once."""
    if not old.exists():
        return
    columns = ("at, channel, code, version, lang, large_print, content_fingerprint, brand, treatment, kind, staff, "
               "reference, revision")
    connection = database._connection()
    connection.execute("attach database ? as old", (str(old),))      # not inside a transaction: SQLite's rule
    try:
        with database.transaction() as tx:
            tx.run(f"insert into handouts (namespace, {columns}) select ?, {columns} from old.handouts",
                   database.namespace)
    finally:
        connection.execute("detach database old")
    old.rename(old.with_name(OLD_REGISTER_FILE + ".moved"))
