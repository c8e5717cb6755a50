#!/usr/bin/env bash
# cnncalc against torchinfo on the same network. torchinfo and torch are installed only into this
# benchmark's own virtual environment (.bench-venv), never as dependencies of cnncalc.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.bench-venv
[ -d "$venv" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q . "torch==2.13.0" "torchinfo==1.8.0" numpy
"$venv/bin/python" benchmarks/compare_torchinfo.py "$@"
