"""Start partner simulators as real processes on loopback for tests (see connectors/simulators)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Simulator:
    name: str
    url: str
    proc: subprocess.Popen[str]
    env: dict[str, str] = field(default_factory=dict)

    def faults(self, **kw: Any) -> None:
        httpx.post(f"{self.url}/_sim/faults", json=kw, timeout=5).raise_for_status()

    def received(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/_sim/received", timeout=5).json()["received"]

    def arrivals(self) -> int:
        return int(httpx.get(f"{self.url}/_sim/arrivals", timeout=5).json()["arrivals"])

    def reset(self) -> None:
        httpx.post(f"{self.url}/_sim/reset", timeout=5).raise_for_status()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_simulator(name: str, env: dict[str, str] | None = None, port: int = 0) -> Simulator:
    """Run `python -m connectors.simulators NAME` and wait for its first line (the URL)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "connectors.simulators", name, "--port", str(port)],
                            cwd=ROOT, env=full_env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("listening "):
        proc.kill()
        raise RuntimeError(f"simulator {name} did not start: {line!r}")
    return Simulator(name, line.split(" ", 1)[1], proc, env or {})
