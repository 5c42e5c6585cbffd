#!/usr/bin/env bash
# Usage: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# (multi-node settings: tools/dist_common.sh)
set -e
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
source "$(dirname "$0")/dist_common.sh"
dist_run test.py "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
