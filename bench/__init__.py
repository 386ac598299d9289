"""spanalysis benchmarks and guards: ``python -m bench --size small|full`` (see bench/README.md)."""
