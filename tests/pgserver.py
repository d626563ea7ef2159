"""A real PostgreSQL server for the tests: Debian's postgresql 15, run as its own user on a loopback port.

``PostgresServer`` makes a cluster in a fresh folder (initdb, as the ``postgres`` user through ``runuser``:
PostgreSQL refuses to run as root), with a password for network sign-in and TLS from its own certificate
authority (trustme), starts it with pg_ctl on a free port on 127.0.0.1, and stops it and deletes the
folder at the end. ``url()`` is what careleaf reads from CARELEAF_DATABASE_URL: verify-full TLS against
that authority, so every test on it also proves the connection is encrypted and the server's name checked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import trustme

from mailserver import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "clinic-group-db-password"


def available() -> bool:
    return (BIN / "initdb").exists() and shutil.which("runuser") is not None


def _as_postgres(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True, timeout=120,
                          check=True)


class PostgresServer:
    def __init__(self):
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="careleaf-pg-"))   # outside pytest's 0700 folders
        self.data = self.folder / "data"
        self.ca = trustme.CA()
        self.ca_file = self.folder / "db-ca.pem"
        self.running = False

    def start(self) -> "PostgresServer":
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        certificate = self.ca.issue_cert("localhost", "127.0.0.1")
        certificate.cert_chain_pems[0].write_to_path(str(self.folder / "server.crt"))
        certificate.private_key_pem.write_to_path(str(self.folder / "server.key"))
        (self.folder / "pw").write_text(PASSWORD)
        shutil.chown(self.folder, "postgres", "postgres")
        for name in ("server.crt", "server.key", "pw", "db-ca.pem"):
            shutil.chown(self.folder / name, "postgres", "postgres")
        os.chmod(self.folder / "server.key", 0o600)
        os.chmod(self.folder, 0o755)
        _as_postgres(str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                     "--auth-host=scram-sha-256", f"--pwfile={self.folder / 'pw'}", "--no-sync")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c ssl=on "
                   f"-c ssl_cert_file={self.folder / 'server.crt'} -c ssl_key_file={self.folder / 'server.key'} "
                   "-c fsync=off -c max_connections=100")
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"),
                     "-w", "-t", "60", "start")
        self.running = True
        return self

    def create_database(self, name: str) -> str:
        """A new database on the server; its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f"create database {name}")
        return self.url(name)

    def url(self, database: str = "careleaf", *, ca: Path | None = None) -> str:
        return (f"postgresql://postgres:{PASSWORD}@localhost:{self.port}/{database}"
                f"?sslmode=verify-full&sslrootcert={ca or self.ca_file}")

    def stop(self) -> None:
        try:
            if self.running:
                _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
                self.running = False
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
