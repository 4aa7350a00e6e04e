"""The report: BENCHMARKS.md, benchmarks.json and benchmarks.png from the sections' figures (a section run
alone keeps the others' figures from the last report)."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from posenet_port._util.fileio import atomic_path, write_bytes_atomic
from posenet_port.benchmark.measure import gflops, machine
from posenet_port.benchmark.sections import SECTIONS, SIZES

REPORT_MD = "BENCHMARKS.md"
REPORT_JSON = "benchmarks.json"
CHART = "benchmarks.png"


def render_markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m posenet_port.bench`; every figure was measured by that command. A section run alone",
        "(`--sections`) keeps the others' figures from earlier runs, so each section names the CPU it was measured on.",
        "Times in milliseconds: median over the stated runs after warm-up, p10 and p90 for spread; ratios compare",
        "figures measured in the same run. Kernels, and so figures, depend on the CPU's flags (avx2, avx512f,",
        "avx512_vnni / avx_vnni): compare figures from different CPUs by their ratios only.",
        "",
        "The latest run's machine: " + ", ".join(f"{key} {value}" for key, value in m.items()) + ".",
        "",
        f"![latency against input size, and drift per format]({CHART})",
    ]
    for name in SECTIONS:
        section = report["sections"].get(name)
        if section is None:
            continue
        lines += ["", f"## {section['title']}", "", f"CPU: {section.get('cpu', 'not recorded')}.", ""]
        if section.get("rows"):
            lines += _latency_table(section["rows"])
        if section["timings"]:
            lines += ["| what | median ms | p10 ms | p90 ms | runs |", "|---|---|---|---|---|"]
            lines += [
                f"| {t['label']} | {t['median_ms']:.3f} | {t['p10_ms']:.3f} | {t['p90_ms']:.3f} | {t['runs']} |"
                for t in section["timings"]
            ]
        lines += [""] + [f"- {note}" for note in section["notes"]]
    return "\n".join(lines) + "\n"


def _latency_table(rows: list[dict]) -> list[str]:
    lines = [
        "| input | format | threads | file | network median ms (p10-p90) | network paced ms | CPU ms per paced frame | "
        "vs TF graph | GFLOP/s | end to end ms | end to end paced ms | decode multi / single ms | peak RSS | "
        "drift median / max px |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        network = row["network"]
        baseline = next(r for r in rows if r["size"] == row["size"] and r["format"] == "frozen-graph")["network"]["median_ms"]
        e2e, e2e_paced, paced = (f"{row[key]['median_ms']:.2f}" if key in row else "-"
                                 for key in ("end_to_end", "end_to_end_paced", "network_paced"))
        cpu = f"{row['cpu_ms_per_paced_frame']:.1f}" if "cpu_ms_per_paced_frame" in row else "-"
        decode = f"{row['decode_multi']['median_ms']:.2f} / {row['decode_single']['median_ms']:.3f}" if "decode_multi" in row else "-"
        drift = row.get("drift") or {}
        drift_text = f"{drift['median_px']:.2f} / {drift['max_px']:.2f}" if drift.get("max_px") is not None else "-"
        lines.append(
            f"| {row['size']} | {row['label']} | {row['threads'] or '-'} | {row['size_bytes'] / 1e6:.2f} MB | "
            f"{network['median_ms']:.2f} ({network['p10_ms']:.2f}-{network['p90_ms']:.2f}) | {paced} | {cpu} | "
            f"{baseline / network['median_ms']:.2f}x | {gflops(row):.1f} | "
            f"{e2e} | {e2e_paced} | "
            f"{decode} | {row['peak_rss_bytes'] / 1e6:.0f} MB | {drift_text} |"
        )
    return lines


def write_chart(report: dict, path: Path) -> None:
    """Latency against input size per format (2 threads for TFLite), and the check drift per format."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["sections"].get("latency", {}).get("rows", [])
    if not rows:
        return
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for label in dict.fromkeys(r["label"] for r in rows):
        points = sorted((r["size"], r["network"]["median_ms"]) for r in rows if r["label"] == label and r["threads"] in (None, 2))
        left.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    left.set(xlabel="input size (px)", ylabel="median network latency (ms, log scale)", title="Latency (TFLite: 2 threads)",
             yscale="log")
    left.legend(fontsize=7)
    drifts = {r["label"]: r["drift"] for r in rows if r.get("drift") and r["size"] == SIZES[0]}
    names = list(drifts)
    right.bar(range(len(names)), [drifts[n]["max_px"] for n in names], color="#e9a", label="max")
    right.bar(range(len(names)), [drifts[n]["median_px"] for n in names], color="#a34", label="median")
    right.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=7)
    right.set(ylabel="keypoint drift vs float graph (input px)", title="Drift at 257 (check report)")
    right.legend()
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, dpi=90)
    plt.close(figure)


def run(sections: Sequence[str], runs: int, out_dir: Path) -> dict:
    json_path = out_dir / REPORT_JSON
    previous = json.loads(json_path.read_text()) if json_path.is_file() else {"sections": {}}
    report = {"machine": machine(), "sections": previous.get("sections", {})}
    for name in sections:
        print(f"benchmarking {name} ...", flush=True)
        section = SECTIONS[name](runs)
        report["sections"][name] = {"title": section.title, "timings": [asdict(t) for t in section.timings],
                                    "notes": section.notes, "rows": section.rows, "cpu": section.cpu}
        for timing in section.timings:
            print(f"  {timing.label}: median {timing.median_ms:.3f} ms (p10 {timing.p10_ms:.3f}, p90 {timing.p90_ms:.3f})")
        for note in section.notes:
            print(f"  {note}")
    write_bytes_atomic(json_path, (json.dumps(report, indent=2) + "\n").encode())
    write_bytes_atomic(out_dir / REPORT_MD, render_markdown(report).encode())
    write_chart(report, out_dir / CHART)
    print(f"wrote {out_dir / REPORT_MD} and {json_path}")
    return report


