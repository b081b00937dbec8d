"""`python -m connectors.simulators NAME [--host 127.0.0.1] [--port 0]`: serve one partner simulator.

With `--port 0` a free port is chosen; the first line printed is `listening http://HOST:PORT`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from werkzeug.serving import make_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connectors.simulators")
    parser.add_argument("name", help="vnpost, axis, portal, sms, …")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request on the test's stderr
    module = importlib.import_module(f"connectors.simulators.{args.name}")
    app = module.create_app()
    server = make_server(args.host, args.port, app, threaded=True)
    print(f"listening http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
