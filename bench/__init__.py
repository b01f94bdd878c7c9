"""Benchmarks: `make bench` (python -m bench). Figures are ratios against a floor measured in the same run."""
