"""Start the local cloud: `PYTHONPATH=localcloud python3 -m automirror_localcloud --port 4566`.

Prints one readiness line, `automirror-localcloud ready http://HOST:PORT`, once it accepts
requests (with --port 0 the line carries the port the system chose).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .control import ConfigError, Controller


def startup_settings(args: argparse.Namespace, env: dict[str, str]) -> dict:
    """Command line first, then AUTOMIRROR_* environment variables; a bad value names its variable."""
    settings: dict = {}

    def parse(name: str, raw: str, cast):
        try:
            return cast(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r}: {exc}") from exc

    if args.time_scale is not None:
        settings["timeScale"] = args.time_scale
    elif env.get("AUTOMIRROR_TIME_SCALE"):
        settings["timeScale"] = parse("AUTOMIRROR_TIME_SCALE", env["AUTOMIRROR_TIME_SCALE"], float)
    throttling = args.throttling or env.get("AUTOMIRROR_THROTTLING")
    if throttling:
        on = throttling.lower() in ("1", "true", "on")
        settings["throttling"] = {"enabled": True} if on else parse("AUTOMIRROR_THROTTLING", throttling, json.loads)
    faults = parse("AUTOMIRROR_FAULTS", env["AUTOMIRROR_FAULTS"], json.loads) if env.get("AUTOMIRROR_FAULTS") else {}
    for name, key, cast in (
        ("AUTOMIRROR_SEED", "seed", int),
        ("AUTOMIRROR_THROTTLE_PROBABILITY", "throttleProbability", float),
        ("AUTOMIRROR_SERVER_ERROR_PROBABILITY", "serverErrorProbability", float),
        ("AUTOMIRROR_INSTANCE_NOT_FOUND_SECONDS", "instanceNotFoundSeconds", float),
    ):
        if env.get(name):
            faults[key] = parse(name, env[name], cast)
    if args.seed is not None:
        faults["seed"] = args.seed
    if faults:
        settings["faults"] = faults
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="automirror_localcloud", description="moto + AutoMirror's traffic-mirroring extension")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566, help="0 picks a free port (printed on the readiness line)")
    parser.add_argument("--seed", type=int, default=None, help="seed for fault injection (env AUTOMIRROR_SEED)")
    parser.add_argument("--time-scale", type=float, default=None, help="simulated seconds per real second (env AUTOMIRROR_TIME_SCALE)")
    parser.add_argument("--throttling", default=None, help="'on' or a JSON throttling body (env AUTOMIRROR_THROTTLING)")
    args = parser.parse_args(argv)
    try:
        controller = Controller(startup_settings(args, dict(os.environ)))
    except (ConfigError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        print(f"automirror-localcloud: bad start-up setting: {exc}", file=sys.stderr)
        return 2

    from .server import build_server  # imported late: moto's import is the slow part

    server = build_server(args.host, args.port, controller, os.environ.get("AUTOMIRROR_LAMBDA_ENDPOINT") or None)
    host, port = server.server_address[:2]
    print(f"automirror-localcloud ready http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
