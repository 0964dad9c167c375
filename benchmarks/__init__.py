"""Benchmarks of the DreamPose companion: `make bench` or `python -m benchmarks`. See BENCHMARKS.md."""
