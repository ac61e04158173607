"""The performance benchmark: `python -m bench.run` (or `make bench`), against the loopback simulator."""
