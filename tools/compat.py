"""`make test-compat`: the quick test suite and one `rebuild` under every Python this machine has (pyenv's 3.10,
3.12, 3.13 beside the default), each in a fresh venv from `pip install .` (the ranges in setup.cfg, so pip picks
the newest TensorFlow each Python takes), without the tensorflowjs package. Writes docs/compat.md.

Usage: python tools/compat.py [--versions 3.10,3.12,3.13] [--out build/compat]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REPORT = REPO / "docs" / "compat.md"
PACKAGES = ("tensorflow", "numpy", "ai-edge-litert", "onnxruntime", "openvino", "protobuf")


def find_python(version: str) -> Path | None:
    """pyenv's newest `version`.x, else `pythonX.Y` on PATH."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(root.glob(f"{version}.*"), key=lambda p: [int(x) for x in p.name.split(".") if x.isdigit()])
    if found and (found[-1] / "bin" / "python").exists():
        return found[-1] / "bin" / "python"
    on_path = shutil.which(f"python{version}")
    return Path(on_path) if on_path else None


def run(command: list[str], log: Path, env: dict | None = None) -> tuple[bool, float]:
    start = time.perf_counter()
    with open(log, "ab") as handle:
        handle.write(f"\n$ {' '.join(command)}\n".encode())
        handle.flush()
        result = subprocess.run(command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, env=env)
    return result.returncode == 0, time.perf_counter() - start


def check_version(version: str, out: Path) -> dict:
    python = find_python(version)
    if python is None:
        return {"python": version, "status": "not on this machine"}
    venv, log = out / f"py{version}", out / f"py{version}.log"
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"")
    print(f"Python {version} ({python}): installing ...", flush=True)
    record: dict = {"python": version}
    steps = [("install", [str(python), "-m", "venv", str(venv)])]
    steps.append(("install", [str(venv / "bin" / "pip"), "install", "-q", ".", "pytest", "hypothesis"]))
    env = {**os.environ, "POSENET_PORT_NODE_MODULES": str(REPO / "node_modules")}
    steps.append(("quick suite", [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-m", "not slow", "-p",
                                  "no:cacheprovider"]))
    steps.append(("rebuild", [str(venv / "bin" / "python"), "-m", "posenet_port.rebuild", "--out", str(venv / "build"),
                              "--require-node"]))
    for name, command in steps:
        if name != "install":
            print(f"Python {version}: {name} ...", flush=True)
        ok, seconds = run(command, log, env)
        record[name] = record.get(name, 0.0) + seconds
        if name == "quick suite":
            record["tests"] = pytest_summary(log)
        if not ok:
            record["status"] = f"FAIL at {name} (see {log.relative_to(REPO) if log.is_relative_to(REPO) else log})"
            break
    else:
        record["status"] = "pass"
    record["versions"] = installed_versions(venv)
    print(f"Python {version}: {record['status']}", flush=True)
    return record


def pytest_summary(log: Path) -> str:
    """pytest's last line, e.g. '198 passed, 8 skipped, 46 deselected in 125.31s'."""
    lines = [line.strip("= ") for line in log.read_text(errors="replace").splitlines() if " passed" in line or " failed" in line]
    return lines[-1] if lines else "no summary"


def installed_versions(venv: Path) -> str:
    listing = subprocess.run([str(venv / "bin" / "pip"), "list", "--format=freeze"], capture_output=True, text=True)
    pins = dict(line.split("==", 1) for line in listing.stdout.splitlines() if "==" in line)
    return ", ".join(f"{name} {pins[name]}" for name in PACKAGES if name in pins)


def write_report(records: list[dict]) -> None:
    lines = [
        "# Python x TensorFlow compatibility",
        "",
        f"Written by `make test-compat` (`python tools/compat.py`), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. "
        "Each Python gets a fresh venv from `pip install .` (setup.cfg's ranges: pip chooses the newest TensorFlow "
        "that Python takes; no tensorflowjs), then the quick suite (`pytest -m 'not slow'`) and one "
        "`rebuild --require-node` with every format and its checks. Both run from the checkout, whose compiled "
        "decoder and resize are built for the default Python only, so these runs exercise their Python / NumPy "
        "fallbacks (the tests of the compiled code say NOT RUN); `make rebuild PYTHON=pythonX.Y` on a fresh clone "
        "builds them for that Python. The default Python's exact pins are in requirements.txt and `make test` runs "
        "the whole suite on them.",
        "",
        "| Python | result | installed | quick suite | install s | quick suite s | rebuild s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in records:
        figures = " | ".join(f"{r[k]:.0f}" if k in r else "-" for k in ("install", "quick suite", "rebuild"))
        lines.append(f"| {r['python']} | {r['status']} | {r.get('versions', '-')} | {r.get('tests', '-')} | {figures} |")
    REPORT.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", default="3.10,3.12,3.13", help="comma-separated (default: 3.10,3.12,3.13)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "compat", help="venvs and logs (default: build/compat)")
    args = parser.parse_args(argv)
    records = [check_version(version.strip(), args.out.resolve()) for version in args.versions.split(",") if version.strip()]
    write_report(records)
    print(f"wrote {REPORT.relative_to(REPO)}")
    return 0 if all(r["status"] in ("pass", "not on this machine") for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
