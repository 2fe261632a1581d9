"""A real ``carematch serve`` in a subprocess, on a free loopback port (API tests, browser tests,
``bench/load.py``). Standard library only."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, proc: subprocess.Popen, port: int, log_path: Path, log_file) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log_file = log_file

    def log_text(self) -> str:
        if not self._log_file.closed:  # readable after stop() too
            self._log_file.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 15) -> int | None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the server and its worker processes
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log_file.close()
        return self.proc.returncode

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_server(index: str | Path, *, workers: int = 1, env: dict[str, str | None] | None = None,
                 args: tuple[str, ...] = (), log_path: str | Path | None = None,
                 timeout: float = 60) -> ServerProcess:
    """Start ``python -m search serve`` and wait until ``/healthz`` answers (with several workers,
    until each has had time to open its engine). ``env`` values of None remove a variable."""
    port = free_port()
    environment = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="carematch-server-", suffix=".log")
        os.close(fd)
        log_path = name
    log_path = Path(log_path)
    log_file = log_path.open("wb")
    cmd = [sys.executable, "-m", "search", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--index", str(index), *args]
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=environment, cwd=str(ROOT),
                            start_new_session=True)
    server = ServerProcess(proc, port, log_path, log_file)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            server.stop()
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{server.log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"the server did not answer /healthz in {timeout} s:\n{server.log_text()[-3000:]}")
        time.sleep(0.1)
    if workers > 1:  # every worker logs "Application startup complete." once its engine is open
        while server.log_text().count("Application startup complete.") < workers and time.monotonic() < deadline:
            time.sleep(0.1)
    return server
