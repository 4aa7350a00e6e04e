"""python -m posenet_port.serve: the browser page and the tfjs models `rebuild` wrote, on localhost, offline
(the server: posenet_port/web/server.py)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from posenet_port.cli.common import add_verbose_argument, run_cli
from posenet_port.web.server import make_server


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m posenet_port.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=Path("build"), help="folder `rebuild` wrote (default: build/)")
    parser.add_argument("--port", type=int, default=8000, help="port on localhost, 0 for any free one (default: 8000)")
    add_verbose_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    server = make_server(args.build, args.port)
    print(f"serving the PoseNet page on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
