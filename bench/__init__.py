"""spanalysis benchmarks: ``python -m bench --size small|full`` (see README, "Performance")."""
