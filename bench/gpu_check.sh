#!/usr/bin/env bash
# The GPU checks (bench/gpu_check.py) in one call, on one GPU, in under five minutes; one figure a line.
#   bash bench/gpu_check.sh [--batch 32] [--length 128] [--steps 30]
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec timeout 300 python bench/gpu_check.py "$@"
