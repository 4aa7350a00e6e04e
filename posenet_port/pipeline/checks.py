"""Keypoint checks: every exported model runs on real photos in its format's runtime and is judged by the gate
(gate.py); the report (report.py) shows every figure."""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Collection, Sequence

from posenet_port.errors import RuntimeUnavailableError, check_interrupted
from posenet_port.formats.artifacts import Artifact
from posenet_port.formats.registry import FORMATS
from posenet_port.formats.runner import median_ms
from posenet_port.inference.draw import write_image
from posenet_port.inference.estimator import NetworkOutputs, network_outputs
from posenet_port.inference.preprocess import preprocess
from posenet_port.model.spec import DEFAULT_INPUT_SIZE
from posenet_port.pipeline.gate import (
    TUNING,
    VALIDATION,
    Agreement,
    CheckPhoto,
    CheckReport,
    CheckResult,
    CheckRuns,
    NoiseFloor,
    PhotoComparison,
    agreement,
    compare_poses,
    decode_input_poses,
    judge,
    mark_pareto_front,
    same_detection_drifts,
)
from posenet_port.pipeline.keypoint_ap import keypoint_ap
from posenet_port.pipeline.photos import NOISE_CHANGES
from posenet_port.pipeline.report import grid_image, write_summary


def dynamic_check_sizes(input_size: int, output_stride: int) -> tuple[int, ...]:
    """Sizes a dynamic-input model is checked at: rebuild's size, and 257 and 353 (posenet's usual ones)."""
    return tuple(sorted({input_size, *(s for s in (DEFAULT_INPUT_SIZE, 353) if (s - 1) % output_stride == 0)}))


def run_checks(
    artifacts: Sequence[Artifact],
    weight_classes: dict[str, str],
    reference: Artifact,
    photos: Sequence[CheckPhoto],
    input_size: int,
    out_dir: Path,
    require_node: bool = False,
    integer_only: Collection[str] = frozenset(),
) -> CheckReport:
    """Run every artifact on every photo in its format's runtime (formats.py), compare its decoded poses with
    the `reference` model's (the float frozen graph), judge it against its class's floor
    (`weight_classes[name]`), time the in-process runtimes, mark each format's Pareto front (where the models
    named in `integer_only`, whose activations are integers too, keep their own place), and write the grids
    and the summary (checks.md, checks.json) into `out_dir`. A fixed-input model is checked at its size, the
    others at every size of `dynamic_check_sizes`."""
    stride = reference.spec.output_stride
    runs = CheckRuns(photos, stride)
    sizes = {a.name: (a.input_size,) if a.input_size else dynamic_check_sizes(input_size, stride) for a in artifacts}
    batches = {size: [preprocess(p.rgb, size) for p in photos] for size in sorted({s for per in sizes.values() for s in per})}
    _run(reference, CheckRuns.REFERENCE, batches, runs)
    notes = {}
    for artifact in artifacts:
        check_interrupted()
        try:
            _run(artifact, artifact.name, {size: batches[size] for size in sizes[artifact.name]}, runs)
        except RuntimeUnavailableError as error:
            if require_node:
                raise
            notes[artifact.name] = f"NOT RUN: {error}"
    results = []
    for artifact in artifacts:
        result = CheckResult(artifact.name, artifact.format, artifact.size, weight_classes[artifact.name],
                             integer_only=artifact.name in integer_only)
        if runs.sizes(artifact.name):
            _score(result, runs)
            judge(result)
            if FORMATS[artifact.format].in_process:
                result.latency_ms = network_latency(artifact, sizes[artifact.name][0])
        else:
            result.note = notes.get(artifact.name, "not run")
        results.append(result)
    mark_pareto_front(results)
    report = CheckReport({split: [p.name for p in photos if p.split == split] for split in (TUNING, VALIDATION)},
                         input_size, results, noise_floors=noise_floors(reference, runs, sorted(batches)))
    out_dir.mkdir(parents=True, exist_ok=True)
    for index, photo in enumerate(photos):
        grid = grid_image(photo.rgb, runs, index, [r for r in results if runs.sizes(r.name)])
        report.grids.append(str(write_image(out_dir / f"check_{Path(photo.name).stem}.jpg", grid)))
    write_summary(report, out_dir)
    return report


def _run(artifact: Artifact, name: str, batches: dict[int, list], runs: CheckRuns) -> None:
    """One model on every photo at each size, in its format's runtime (one runner: tfjs starts node once)."""
    runner = _open(artifact)
    for size, prepared in batches.items():
        runs.add(name, size, _outputs(runner, prepared, runs.stride))


def _open(artifact: Artifact):
    return FORMATS[artifact.format].open(artifact.path, spec=artifact.spec, trusted=True)


def _outputs(runner, prepared: Sequence[tuple], stride: int) -> list[NetworkOutputs]:
    """The runner's outputs for preprocessed (batch, letterbox) pairs, each with its letterbox."""
    raw = runner.run_many([batch for batch, _ in prepared])
    return [network_outputs(r, box, stride) for r, (_, box) in zip(raw, prepared)]


def scored_agreement(split: str, size: int, comparisons: Sequence[PhotoComparison], references: Sequence[list],
                     candidates: Sequence[list]) -> Agreement:
    """agreement() with COCO's keypoint AP and mean OKS of the same poses."""
    result = agreement(split, size, comparisons)
    measured = keypoint_ap(references, candidates)
    result.ap, result.mean_oks = measured.ap, measured.mean_oks
    return result


def noise_floors(reference: Artifact, runs: CheckRuns, sizes: Sequence[int]) -> list[NoiseFloor]:
    """The float graph on the validation photos after each of NOISE_CHANGES, against itself, at every size."""
    chosen = [i for i, photo in enumerate(runs.photos) if photo.split == VALIDATION]
    if not chosen:
        return []
    runner = _open(reference)
    floors = []
    for change, alter in NOISE_CHANGES.items():
        floor = NoiseFloor(change)
        for size in sizes:
            check_interrupted()
            prepared = [preprocess(alter(runs.photos[i].rgb), size) for i in chosen]
            poses = [decode_input_poses(o, runs.stride) for o in _outputs(runner, prepared, runs.stride)]
            references = [runs.poses[CheckRuns.REFERENCE, size][i] for i in chosen]
            comparisons = [compare_poses(r, p) for r, p in zip(references, poses)]
            floor.agreements.append(scored_agreement(VALIDATION, size, comparisons, references, poses))
        floors.append(floor)
    return floors


def _score(result: CheckResult, runs: CheckRuns) -> None:
    drifts: list[float] = []
    for size in runs.sizes(result.name):
        comparisons, references, candidates = (runs.comparisons(result.name, size), runs.poses[CheckRuns.REFERENCE, size],
                                               runs.poses[result.name, size])
        for split in (TUNING, VALIDATION):
            chosen = [i for i, p in enumerate(runs.photos) if p.split == split]
            if chosen:
                result.agreements.append(scored_agreement(split, size, [comparisons[i] for i in chosen],
                                                          [references[i] for i in chosen], [candidates[i] for i in chosen]))
        reference_outputs, outputs = runs.outputs[CheckRuns.REFERENCE, size], runs.outputs[result.name, size]
        for ref_out, ref_poses, out in zip(reference_outputs, runs.poses[CheckRuns.REFERENCE, size], outputs):
            drifts += same_detection_drifts(ref_out, ref_poses, out, runs.stride)
    if drifts:
        result.same_detection_median_px, result.same_detection_max_px = statistics.median(drifts), max(drifts)


def network_latency(artifact: Artifact, size: int, runs: int = 30) -> dict[int, float]:
    """Median milliseconds of the network alone with 1 and 2 threads, back to back, in this process."""
    fmt = FORMATS[artifact.format]
    return {threads: median_ms(fmt.open(artifact.path, threads, artifact.spec, trusted=True), size, runs) for threads in (1, 2)}
