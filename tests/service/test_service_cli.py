"""Service commands: keys create, seed-demo, db upgrade/current, and a real `rootcause serve`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from rootcause.cli.main import app
from rootcause.storage import Database, repository
from rootcause.storage.keys import DEMO_API_KEY
from rootcause.storage.models import Assessment, PainScore, Patient

runner = CliRunner()
ROOTCAUSE = Path(sys.executable).parent / "rootcause"


def invoke(database_url: str, *args: str, **env: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env={"ROOTCAUSE_DATABASE_URL": database_url, **env})


def test_keys_create_bootstraps_an_admin(database_url: str) -> None:
    result = invoke(database_url, "keys", "create", "--org", "Clinic A", "--role", "admin")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("rc_") and "created organisation 'Clinic A'" in result.stderr
    again = invoke(database_url, "keys", "create", "--org", "Clinic A")
    assert again.exit_code == 0 and "created organisation" not in again.stderr
    db = Database(database_url)
    with db.transaction() as session:
        admin = repository.authenticate(session=session, presented=key)
        clinician = repository.authenticate(session=session, presented=again.stdout.strip())
        assert admin is not None and clinician is not None
        assert (admin.role, clinician.role) == ("admin", "clinician")
        assert admin.organisation_id == clinician.organisation_id
    db.dispose()
    bad = invoke(database_url, "keys", "create", "--org", "X", "--role", "root")
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_seed_demo_is_idempotent(database_url: str) -> None:
    for _ in range(2):
        result = invoke(database_url, "seed-demo")
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == DEMO_API_KEY
    db = Database(database_url)
    with db.transaction() as session:
        counts = [
            session.scalar(select(func.count()).select_from(t)) for t in (Patient, PainScore, Assessment)
        ]
        assert counts == [3, 9, 3]
        actor = repository.authenticate(session=session, presented=DEMO_API_KEY)
        assert actor is not None and actor.role == "admin"
        levels = set(session.scalars(select(Assessment.triage_level)))
        assert "urgent" in levels or "emergency" in levels
    db.dispose()
    assert "0 patient(s) and 0 assessment(s) created" in result.stderr


def test_seed_demo_is_refused_in_production(database_url: str) -> None:
    result = invoke(database_url, "seed-demo", ROOTCAUSE_ENVIRONMENT="production")
    assert result.exit_code == 2
    assert "production" in result.stderr


def test_db_upgrade_and_current(database_url: str) -> None:
    assert invoke(database_url, "db", "current").stdout.strip() == ""
    result = invoke(database_url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert invoke(database_url, "db", "current").stdout.strip() == Database.head_revision()


def test_bad_settings_and_unreachable_database_exit_cleanly(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["db", "upgrade"], env={"ROOTCAUSE_DB_POOL_SIZE": "lots"})
    assert bad.exit_code == 2 and "ROOTCAUSE_DB_POOL_SIZE" in bad.stderr
    prod = runner.invoke(app, ["db", "upgrade"], env={"ROOTCAUSE_ENVIRONMENT": "production"})
    assert prod.exit_code == 2 and "ROOTCAUSE_DATABASE_URL" in prod.stderr
    closed = free_port()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed}/x"
    down = runner.invoke(
        app, ["db", "upgrade"], env={"ROOTCAUSE_DATABASE_URL": url, "ROOTCAUSE_DB_CONNECT_TIMEOUT": "1"}
    )
    assert down.exit_code == 1 and "cannot reach the database" in down.stderr
    assert "Traceback" not in down.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_serve_starts_the_api_with_demo_data(tmp_path: Path, server: str) -> None:
    port = free_port()
    env = os.environ | {"ROOTCAUSE_DATABASE_PATH": str(tmp_path / "served.sqlite3")}
    env.pop("ROOTCAUSE_DATABASE_URL", None)
    proc = subprocess.Popen(
        [str(ROOTCAUSE), "serve", "--port", str(port), "--demo", "--server", server],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    seen: list[str] = []
    # a thread drains stderr (uvicorn keeps logging, granian goes quiet once it listens)
    drain = threading.Thread(target=seen.extend, args=(proc.stderr,), daemon=True)
    drain.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert proc.poll() is None, f"serve exited: {seen}"
            try:
                if httpx.get(f"{base}/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"no answer within 60 s: {seen}"
            time.sleep(0.2)
        while DEMO_API_KEY not in "".join(seen):  # printed before the server starts
            assert time.monotonic() < deadline, f"no demo key printed: {seen}"
            time.sleep(0.05)
        assert f"http://127.0.0.1:{port}" in "".join(seen)
        patients = httpx.get(f"{base}/v1/patients", headers={"X-API-Key": DEMO_API_KEY}).json()
        assert patients["total"] == 3
        assert httpx.get(f"{base}/docs").status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        drain.join(timeout=10)
        proc.stderr.close()
