"""The demo's partners: every simulator as a child process on fixed loopback ports (`make run` uses this).

    python -m connectors.demo env   > instance/partners.env   # the app's settings for them (and demo PKI)
    python -m connectors.demo serve                           # run them until Ctrl+C / SIGTERM

Ports start at PARTNER_PORT_BASE (default 8101): vnpost, portal, sms, smtp control, axis; SMTP itself on
base + 24. Vietnam Post advances its orders by itself every 20 s in the demo, with signed callbacks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = int(os.environ.get("PARTNER_PORT_BASE", "8101"))
NAMES = ("vnpost", "portal", "sms", "smtp", "axis", "payment")
PORTS = {name: BASE + i for i, name in enumerate(NAMES)}
SMTP_PORT = BASE + 24
PKI_DIR = ROOT / "instance" / "pki"
#: the demo's agencies on the document axis (app/seed.py)
AGENCIES = {"000.00.00.H41": "Trung tâm Phục vụ hành chính công tỉnh Nghệ An",
            "000.31.33.H41": "Ủy ban nhân dân phường Trường Vinh"}


def env_lines(agency: str) -> list[str]:
    from connectors.pki import ensure_demo_pki

    pki = ensure_demo_pki(PKI_DIR, AGENCIES)
    url = {n: f"http://127.0.0.1:{p}" for n, p in PORTS.items()}
    return [
        f"VNPOST_URL={url['vnpost']}", "VNPOST_CLIENT_ID=motcua-dev", "VNPOST_CLIENT_SECRET=motcua-dev-secret",
        "VNPOST_HMAC_SECRET=motcua-dev-hmac",
        f"PORTAL_URL={url['portal']}", "PORTAL_API_KEY=motcua-dev-portal-key",
        f"SMS_URL={url['sms']}", "SMS_TOKEN=motcua-dev-sms-token",
        "SMTP_HOST=127.0.0.1", f"SMTP_PORT={SMTP_PORT}",
        f"PAYMENT_URL={url['payment']}", "PAYMENT_MERCHANT_CODE=MOTCUA", "PAYMENT_SECRET=motcua-dev-payment",
        f"AXIS_URL={url['axis']}", f"AGENCY_CODE={agency}", f"AXIS_KEY_FILE={pki[agency]['key']}",
        f"AXIS_CERT_FILE={pki[agency]['cert']}", f"AXIS_CA_FILE={pki['ca']['cert']}",
    ]


def serve() -> int:
    env = {**os.environ, "SMTP_SIM_PORT": str(SMTP_PORT), "VNPOST_SIM_AUTO_ADVANCE_SECONDS": "20"}
    procs = [subprocess.Popen([sys.executable, "-m", "connectors.simulators", name, "--port", str(port)],
                              cwd=ROOT, env=env) for name, port in PORTS.items()]
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"partner simulators on ports {BASE}–{BASE + len(NAMES) - 1} (SMTP {SMTP_PORT})", flush=True)
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["env"]:
        print("\n".join(env_lines(os.environ.get("AGENCY_CODE", "000.00.00.H41"))))
        return 0
    if argv[:1] == ["serve"]:
        return serve()
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
