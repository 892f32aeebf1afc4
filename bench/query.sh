#!/usr/bin/env bash
# See bench/run.sh: installs duckdb + tpchgen-cli (PyPI, in a venv), generates the 8 TPC-H
# tables once, builds, loads them by Stream Load into 3-replica tables on 3 BEs and into
# DuckDB, runs the 22 TPC-H queries on both side by side, prints per-query ratios and the
# geometric mean.
exec bash "$(dirname "${BASH_SOURCE[0]}")/run.sh" query "$@"
