#!/usr/bin/env bash
# See bench/run.sh: builds, waits for a quiet machine, runs `checker_scale` (a synthetic catalog
# of 1,000,000 tablets x 3 replicas in a real FE: checker pass, FE memory per replica,
# checkpoint image size and time, restart to serving), prints the figures.
exec bash "$(dirname "${BASH_SOURCE[0]}")/run.sh" checker_scale "$@"
