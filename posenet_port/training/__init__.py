"""Training: PoseNet fine-tuned under simulated int8 arithmetic, taught by the float graph (issue 26)."""
