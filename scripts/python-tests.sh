#!/usr/bin/env bash
# Builds the Python package (python/) into a fresh virtual environment with one `pip install`,
# then runs its pytest suite: the API against a scalar reference, pickling, angcut.stream against
# the CLI, and angcut.dask.cut on an LSDB catalogue over a LocalCluster of 2 worker processes.
# Needs the CLI built first (`cargo build` or `cargo test`, which builds it), to compare with it.
#   usage: scripts/python-tests.sh [VENV_DIR]   (default target/python-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-target/python-venv}

python3 -m venv --clear "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "./python[test]"
ANGCUT_BIN=${ANGCUT_BIN:-$PWD/target/debug/angcut} "$venv/bin/python" -m pytest -q python/tests
