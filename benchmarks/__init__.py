"""Benchmarks beside the package (as nanoGPT keeps ``bench.py`` beside ``model.py``): measured figures
printed as JSON, never timed tests. Run them from the repository root with ``python -m benchmarks``;
``benchmarks/README.md`` lists them."""
