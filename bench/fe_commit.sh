#!/usr/bin/env bash
# See bench/run.sh: installs etcd, builds, runs `fe_commit` against Tessera and etcd, prints the ratios.
exec bash "$(dirname "${BASH_SOURCE[0]}")/run.sh" fe_commit "$@"
