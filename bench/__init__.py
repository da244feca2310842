"""Benchmarks: loader speed and memory against native and pandas baselines (``make bench``)."""
