#!/usr/bin/env bash
# See bench/run.sh: installs duckdb + tpchgen-cli (PyPI, in a venv), generates TPC-H lineitem
# once, builds, runs `stream_load` (Tessera Stream Load into 3 replicas vs DuckDB), prints the ratios.
exec bash "$(dirname "${BASH_SOURCE[0]}")/run.sh" stream_load "$@"
