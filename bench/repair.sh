#!/usr/bin/env bash
# See bench/run.sh: builds, waits for a quiet machine, runs `repair` (a BE with ~1 GB of
# replicas dies; detection and copy time until every tablet is healthy; clone copy rate vs
# cp + sync of the same files), prints the figures.
exec bash "$(dirname "${BASH_SOURCE[0]}")/run.sh" repair "$@"
