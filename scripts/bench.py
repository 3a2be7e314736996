"""Benchmark the CSMS on this machine: throughput, latency, CPU and memory per connection.

    python scripts/bench.py [--chargers 1000] [--rate 2000] [--duration 20] [--warmup 3]
                            [--mix charging|idle]
                            [--server-cpu 0] [--mongodb-uri URI] [--no-ceiling] [--json]
                            [--instances N]

The entry point only: the benchmark is the package ``scripts/bench/`` (phases and
report in ``runner.py``, the load generator ``load.py``, the bare ceiling server
``ceiling.py``, N instances on one database ``instances.py``). Exit status: 0 pass, 1
errors during the load, 2 the bench could not run.
"""

from __future__ import annotations

import sys

# Run as a file, this directory is sys.path[0], and the package bench/ beside this
# file is what ``import bench`` finds (a package comes before a module of the same name).
from bench.instances import main

if __name__ == "__main__":
    sys.exit(main())
