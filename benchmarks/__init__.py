"""Benchmarks of lineage-sdk against baselines measured in the same run (python -m benchmarks)."""
