"""`make fuzz`: every atheris harness for a time budget each, the random-mutation fuzzer on fresh seeds beside them, and
the server load test; FUZZING.md gets the figures (cases, executions per second, coverage, findings).

Each finding (a crash, a timeout, memory over the limit) is replayed as users meet it (behind the child probe):
kept under tests/data/fuzz-regressions/<harness>/, where `make test` replays it from then on.

    python tests/fuzz/campaign.py [--seconds 600] [--cases 10000] [--harness NAME ...]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))
from harness import HARNESSES  # noqa: E402

from posenet_port._util.fileio import write_bytes_atomic  # noqa: E402

REGRESSIONS = REPO / "tests" / "data" / "fuzz-regressions"
STAT = re.compile(r"stat::(\w+):\s+(\d+)")
COVERAGE = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)")


@dataclass
class HarnessRun:
    name: str
    seconds: float
    executions: int = 0
    per_second: int = 0
    coverage: int = 0
    features: int = 0
    corpus: int = 0
    peak_mb: int = 0
    findings: list[str] = field(default_factory=list)


def run_harness(name: str, seconds: int, work: Path) -> HarnessRun:
    """One harness for `seconds`, from its committed seeds; its findings are kept as regression files."""
    corpus, found = work / name / "corpus", work / name / "found"
    corpus.mkdir(parents=True)
    found.mkdir()
    started = time.perf_counter()
    # libFuzzer stops at the first finding: the harness is restarted on the grown corpus until the budget is spent.
    run = HarnessRun(name, 0)
    while (left := seconds - (time.perf_counter() - started)) > 5:
        result = subprocess.run(
            [sys.executable, str(HERE / "harness.py"), name, f"-max_total_time={int(left)}", "-print_final_stats=1",
             f"-artifact_prefix={found}/", str(corpus), str(HERE / "corpus" / name)],
            capture_output=True, text=True, errors="replace", timeout=left + 600)
        stats = {key: int(value) for key, value in STAT.findall(result.stderr)}
        run.executions += stats.get("number_of_executed_units", 0)
        run.peak_mb = max(run.peak_mb, stats.get("peak_rss_mb", 0))
        if coverage := COVERAGE.findall(result.stderr):
            run.coverage, run.features = max(run.coverage, int(coverage[-1][1])), max(run.features, int(coverage[-1][2]))
        if not any(found.iterdir()):
            if result.returncode != 0:  # ended by something libFuzzer did not save an input for: a finding still
                last = [line for line in result.stderr.splitlines() if line.strip()][-3:]
                run.findings.append(f"{name}: the harness ended with status {result.returncode} and no saved input "
                                    f"(last lines: {' / '.join(last)[:300]}); STILL FAILS until understood")
            break
        for case in list(found.iterdir()):
            run.findings.append(keep_finding(name, case, result.stderr))
            case.unlink()
    run.seconds = round(time.perf_counter() - started)
    run.per_second = round(run.executions / max(run.seconds, 1))
    run.corpus = len(list(corpus.iterdir()))
    print(f"{name}: {run.executions:,} inputs in {run.seconds} s ({run.per_second}/s), coverage {run.coverage}, "
          f"{len(run.findings)} finding(s)", flush=True)
    return run


def run_mutation_fuzzer(cases: int, scratch: Path) -> dict:
    """tests/helpers/fuzzing.py for `cases` per reader on fresh seeds (printed, so a finding can be replayed)."""
    figures, log = scratch / "mutation.json", scratch / "mutation.log"
    first_seed = random.SystemRandom().randrange(2**31)
    print(f"random-mutation fuzzer: seeds from {first_seed} (log: {log})", flush=True)
    with open(log, "w") as output:
        subprocess.run([sys.executable, "-X", "faulthandler", str(REPO / "tests" / "helpers" / "fuzzing.py"), "--cases",
                        str(cases), "--first-seed", str(first_seed), "--json", str(figures)],
                       stdout=output, stderr=subprocess.STDOUT)
    if not figures.is_file():
        raise RuntimeError(f"the random-mutation fuzzer ended without its figures:\n{log.read_text()[-3000:]}")
    return json.loads(figures.read_text())


def keep_finding(name: str, case: Path, log: str) -> str:
    """A finding as a regression file, and how it ends as users meet it (replayed behind the probe)."""
    kind = case.name.split("-")[0]  # crash, timeout, oom, slow-unit
    data = minimized(name, case).read_bytes()
    target = REGRESSIONS / name / f"{kind}-{hashlib.sha256(data).hexdigest()[:12]}{HARNESSES[name].suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    if target.suffix == ".xml":
        target.with_suffix(".bin").write_bytes(b"")
    error = next((line for line in log.splitlines() if "Error" in line or "ERROR" in line), kind)
    replayed = subprocess.run([sys.executable, "-c", "import sys, tempfile, pathlib; sys.path.insert(0, sys.argv[1]); "
                               "from harness import replay; replay(sys.argv[2], pathlib.Path(sys.argv[3]).read_bytes(), "
                               "pathlib.Path(tempfile.mkdtemp()))", str(HERE), name, str(target)],
                              capture_output=True, text=True, timeout=600)
    now = "refused cleanly as users meet it" if replayed.returncode == 0 else "STILL FAILS as users meet it"
    return f"{name}: {kind} ({error.strip()[:160]}), {len(data)} bytes, kept as {target.relative_to(REPO)}; {now}"


def minimized(name: str, case: Path, seconds: int = 60) -> Path:
    """The smallest input libFuzzer finds that still fails the same way (`-minimize_crash`), else the case."""
    smaller = case.parent.parent / f"{case.name}.min"  # beside the findings folder, not in it
    subprocess.run([sys.executable, str(HERE / "harness.py"), name, "-minimize_crash=1", f"-max_total_time={seconds}",
                    f"-exact_artifact_path={smaller}", str(case)], capture_output=True, timeout=seconds + 600)
    return smaller if smaller.is_file() and smaller.stat().st_size else case


def machine() -> str:
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() else set()
    wanted = [f for f in ("avx2", "avx512f", "avx512_vnni") if f in flags]
    return f"{platform.processor() or platform.machine()}, flags {' '.join(wanted)}, Python {platform.python_version()}"


def atheris_section(runs: list[HarnessRun], seconds: int) -> list[str]:
    from importlib.metadata import version

    import atheris  # noqa: F401 - its version is in the report
    lines = [
        "## Coverage-guided fuzzing (atheris)",
        "",
        f"`make fuzz FUZZ_SECONDS={seconds}`: atheris {version('atheris')} (libFuzzer's mutations steered by the line "
        "coverage of posenet_port's own code), one harness per reader of outside files (`tests/fuzz/harness.py`), "
        f"{seconds} s each, from the seeds in `tests/fuzz/corpus/`. Native readers run in the fuzzing process, so "
        "their crashes are findings too; each input is limited in time and memory (`-timeout`, `-rss_limit_mb` over "
        "the harness's baseline: 2 s and 400 MB for photos and videos, 10 s and 1500 MB for models).",
        "",
        "| harness | inputs | per second | coverage (edges) | features | corpus | peak MB | findings |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r.name} | {r.executions:,} | {r.per_second} | {r.coverage} | {r.features} | {r.corpus} | {r.peak_mb} "
              f"| {len(r.findings)} |" for r in runs]
    findings = [f for r in runs for f in r.findings]
    lines += ["", f"Findings: **{len(findings)}**" + (":" if findings else ".")] + [f"- {f}" for f in findings]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description="Every fuzzer over every reader of outside files; writes FUZZING.md.")
    parser.add_argument("--seconds", type=int, default=180, help="atheris budget per harness (default: 180)")
    parser.add_argument("--cases", type=int, default=2000, help="random-mutation cases per reader (default: 2000)")
    parser.add_argument("--harness", nargs="*", choices=sorted(HARNESSES), help="only these harnesses")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="fuzzing processes at a time, one per core (default: this machine's cores)")
    parser.add_argument("--out", type=Path, default=REPO / "FUZZING.md")
    args = parser.parse_args()
    from helpers import fuzzing, server_load

    started = time.strftime("%Y-%m-%d")
    # First: the page server needs node's tfjs, and a missing one once ended a 2-hour run at its last step.
    load = server_load.run()
    with tempfile.TemporaryDirectory(prefix="fuzz-campaign-") as scratch, ThreadPoolExecutor(args.jobs) as pool:
        # The random-mutation fuzzer takes one of the `jobs` cores first; the atheris harnesses take turns on the
        # others, and on its core once it is done. Each process has a core to itself: a harness's budget is its own.
        mutation_run = pool.submit(run_mutation_fuzzer, args.cases, Path(scratch))
        harness_runs = [pool.submit(run_harness, name, args.seconds, Path(scratch)) for name in args.harness or HARNESSES]
        runs, mutation = [run.result() for run in harness_runs], mutation_run.result()
    lines = ["# Fuzzing the readers of outside files", "",
             f"Run on {started} by `python tests/fuzz/campaign.py --seconds {args.seconds} --cases {args.cases} "
             f"--jobs {args.jobs}` (`make fuzz`), on {machine()}. The property of every input: it is read, or refused with the project's own "
             "error naming the file, within its time and memory limits; anything else is a finding.", ""]
    lines += atheris_section(runs, args.seconds) + [""] + fuzzing.markdown(mutation) + [""] + server_load.markdown(load)
    write_bytes_atomic(args.out, ("\n".join(lines) + "\n").encode())
    failures = [f for r in runs for f in r.findings if "STILL FAILS" in f] + mutation["failures"]
    print(f"wrote {args.out}; {len(failures)} case(s) still failing as users meet them")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
