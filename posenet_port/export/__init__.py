"""Exporters from a frozen PoseNet graph, one module per target format: tflite, tfjs."""
