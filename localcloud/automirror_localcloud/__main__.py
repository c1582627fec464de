"""Start the local cloud: `python3 -m automirror_localcloud --port 4566`.

Placeholder: serves plain moto until the extension lands (issue 2, part 3).
"""
import argparse

from moto.server import ThreadedMotoServer


def main() -> None:
    parser = argparse.ArgumentParser(prog="automirror_localcloud")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args()
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    print(f"local cloud listening on http://{args.host}:{args.port}", flush=True)
    try:
        server._thread.join()  # noqa: SLF001 - moto exposes no public join
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
