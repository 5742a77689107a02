"""Benchmarks of keras-taylorglo: ratios measured side by side in one run (``make bench``)."""
