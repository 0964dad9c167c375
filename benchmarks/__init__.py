"""Benchmarks of the DreamPose companion (issue 8): `make bench` or `python -m benchmarks`. See BENCHMARKS.md."""
