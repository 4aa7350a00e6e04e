"""List a model's nodes and name its PoseNet roles: the library behind `python tools/list_nodes.py MODEL`."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from posenet_port.cli.common import add_verbose_argument, int_in, printable, run_cli
from posenet_port.formats.listing import ModelListing, read_model
from posenet_port.formats.roles import Roles, converter_commands, identify_roles, listing_to_dict
from posenet_port.model.architecture import MAX_INPUT_SIZE
from posenet_port.model.spec import DEFAULT_INPUT_SIZE

NAME_WIDTH = 72  # TFLite fuses long tensor names; --json keeps them whole


def _short(name: str) -> str:
    return name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH // 2 - 2] + " .. " + name[-(NAME_WIDTH // 2 - 2) :]


def format_table(listing: ModelListing) -> str:
    rows = [(str(n.index), _short(printable(n.name)), printable(n.op), ", ".join(o.describe() for o in n.outputs) or "-") for n in listing.nodes]
    widths = [max(len(r[i]) for r in rows + [("index", "name", "op", "outputs")]) for i in range(3)]
    header = f"{'index':>{widths[0]}}  {'name':<{widths[1]}}  {'op':<{widths[2]}}  outputs"
    lines = [header, "-" * len(header)]
    lines += [f"{i:>{widths[0]}}  {name:<{widths[1]}}  {op:<{widths[2]}}  {outs}" for i, name, op, outs in rows]
    return "\n".join(lines)


def format_roles(listing: ModelListing, roles: Roles) -> str:
    lines = [f"\nPoseNet roles in {printable(listing.path)} ({listing.format}):"]
    for label, role in [
        ("input", roles.image), ("heatmap", roles.heatmap), ("offsets", roles.offsets),
        ("displacement fwd", roles.displacement_fwd), ("displacement bwd", roles.displacement_bwd),
    ]:
        lines.append(f"  {label:<17} {printable(role.node)}  <- {printable(role.reason)}")
    if roles.heatmap_sigmoid:
        lines.append(f"  {'heatmap scores':<17} {printable(roles.heatmap_sigmoid)}  <- Sigmoid of the heatmap")
    if roles.displacements_ambiguous:
        lines.append("  WARNING: which displacement is forward is ambiguous; check against a known pose before use")
    probe = f" (dynamic input probed at {roles.probe_size}x{roles.probe_size})" if roles.probe_size else ""
    lines.append(f"  output stride     {roles.output_stride if roles.output_stride else 'unknown'}{probe}")
    commands = converter_commands(listing, roles)
    lines += ["\nConvert it with:", f"  TFLite: {printable(commands['tflite'])}",
              f"  tfjs:   {printable(commands['tensorflowjs'])}"]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python tools/list_nodes.py",
        description="List every node of a PoseNet model (frozen .pb, SavedModel folder, .tflite, tfjs model.json, "
        ".onnx, OpenVINO .xml) and identify its image input, heatmap, offset and displacement nodes.",
    )
    parser.add_argument("model", help="frozen .pb, SavedModel folder, .tflite file, tfjs model.json, .onnx or OpenVINO .xml")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--ops", action="store_true", help="only count the op types")
    parser.add_argument("--probe-size", type=int_in(2, MAX_INPUT_SIZE), default=DEFAULT_INPUT_SIZE,
                        help=f"input size used to resolve a dynamic input's shapes (default: {DEFAULT_INPUT_SIZE})")
    add_verbose_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    listing = read_model(args.model, args.probe_size)
    for warning in listing.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.ops:
        counts = listing.op_counts()
        print(json.dumps(counts, indent=2) if args.json else "\n".join(f"{n:>5}  {op}" for op, n in counts.items()))
        return 0
    if args.json:
        print(json.dumps(listing_to_dict(listing, identify_roles(listing)), indent=1))
        return 0
    print(format_table(listing))
    print(format_roles(listing, identify_roles(listing)))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
