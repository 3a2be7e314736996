"""The benchmark of ``scripts/bench.py``: runner (phases, servers, report), load (the
load generator), ceiling (a bare Tornado server), stats (its measurements), proc
(``/proc`` readings) and report (the table and warnings).

``load.py`` and ``ceiling.py`` also run as files (``python scripts/bench/load.py``);
the others are imported as ``bench.<name>`` with ``scripts/`` on ``sys.path``.
"""
