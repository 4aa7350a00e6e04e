"""python -m posenet_port.serve: the browser page and the tfjs models `rebuild` wrote, on localhost, offline.

Routes: `/` the page (posenet_port/web), `/vendor/...` TensorFlow.js, its wasm backend and posenet 2.2.2 from
the repo's npm packages, `/models/index.json` the tfjs models in the build folder, `/models/<name>/...` their
files. Nothing outside those folders is served.
"""
from __future__ import annotations

import argparse
import errno
import json
import sys
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Sequence
from urllib.parse import unquote, urlparse

from .cli import run_cli
from .errors import PosenetPortError
from .nodejs import node_modules_dir

WEB_DIR = Path(__file__).resolve().parent / "web"
VENDOR_FILES = {
    "tf.min.js": "@tensorflow/tfjs/dist/tf.min.js",
    "tf-backend-wasm.min.js": "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
    "tfjs-backend-wasm.wasm": "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm",
    "tfjs-backend-wasm-simd.wasm": "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm",
    "tfjs-backend-wasm-threaded-simd.wasm": "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm",
    "posenet.min.js": "@tensorflow-models/posenet/dist/posenet.min.js",
}
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".json": "application/json",
                 ".wasm": "application/wasm", ".bin": "application/octet-stream"}


class ServeError(PosenetPortError):
    """The page cannot be served: no build folder, a busy port."""


def tfjs_models(build_dir: Path) -> list[str]:
    """Folders of the build holding a tfjs model.json, by name."""
    return sorted(p.parent.name for p in build_dir.glob("*/model.json"))


class PageHandler(BaseHTTPRequestHandler):
    def __init__(self, *args, build_dir: Path, modules: Path, **kwargs) -> None:
        self.build_dir, self.modules = build_dir, modules
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: the page's own status line says what happens

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        parts = [unquote(p) for p in urlparse(self.path).path.split("/") if p]
        if not parts:
            return self._file(WEB_DIR / "index.html")
        if parts[0] == "vendor" and len(parts) == 2 and parts[1] in VENDOR_FILES:
            return self._file(self.modules / VENDOR_FILES[parts[1]])
        if parts[0] == "models":
            models = tfjs_models(self.build_dir)
            if parts[1:] == ["index.json"]:
                return self._bytes(json.dumps(models).encode(), ".json")
            if len(parts) == 3 and parts[1] in models and "/" not in parts[2] and parts[2] not in ("", ".", ".."):
                return self._file(self.build_dir / parts[1] / parts[2])
        if len(parts) == 1 and (WEB_DIR / parts[0]).is_file() and parts[0] in ("index.html", "app.js"):
            return self._file(WEB_DIR / parts[0])
        self.send_error(HTTPStatus.NOT_FOUND)

    def _file(self, path: Path) -> None:
        if not path.is_file():
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        self._bytes(path.read_bytes(), path.suffix)

    def _bytes(self, data: bytes, suffix: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPES.get(suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)


def make_server(build_dir: Path, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    build_dir = Path(build_dir)
    if not build_dir.is_dir():
        raise ServeError(f"{build_dir}: no build folder; run `make rebuild` first or pass --build DIR")
    if not tfjs_models(build_dir):
        raise ServeError(f"{build_dir}: holds no tfjs model (*/model.json); run `make rebuild` first")
    handler = partial(PageHandler, build_dir=build_dir.resolve(), modules=node_modules_dir())
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ServeError(f"port {port} is already in use; pick another with --port") from None
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m posenet_port.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=Path("build"), help="folder `rebuild` wrote (default: build/)")
    parser.add_argument("--port", type=int, default=8000, help="port on localhost (default: 8000)")
    args = parser.parse_args(argv)
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
