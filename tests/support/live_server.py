"""A real Onset server for tests that need one: uvicorn in a subprocess on a loopback port,
over a test's own settings (database file, data dir), with its job runner thread on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from app.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.1,
             what: str = "the condition") -> Any:
    """Poll until predicate() returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(interval)


class LiveServer:
    def __init__(self, settings: Settings, log_path: Path, *, secret: str = "live-test-secret"):
        self.settings = settings
        self.log_path = log_path
        self.secret = secret
        self.process: subprocess.Popen | None = None
        self.base_url = ""

    def start(self, timeout: float = 20.0) -> LiveServer:
        port = free_port()
        env = {**os.environ, "ONSET_DATA_DIR": str(self.settings.data_dir),
               "ONSET_DATABASE_URL": self.settings.resolved_database_url,
               "ONSET_SECRET_KEY": self.secret, "ONSET_JOB_RUNNER": "true"}
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.base_url = f"http://127.0.0.1:{port}"
        wait_for(self._answers, timeout=timeout, what=f"uvicorn answering on {self.base_url}")
        return self

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"uvicorn exited: {self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.base_url}/login", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """Die the way a crashed server does: no shutdown hooks, no cleanup."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def living_group_members(pgid: int) -> list[int]:
    """Processes of a process group that still run (zombies awaiting a reaper don't)."""
    living = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            living.append(int(stat.parent.name))
    return living


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found
