#!/usr/bin/env bash
# Usage: bash tools/dist_train.sh CONFIG GPUS [train.py args...]
# (multi-node settings: tools/dist_common.sh)
set -e
CONFIG=$1
GPUS=$2
source "$(dirname "$0")/dist_common.sh"
dist_run train.py "$CONFIG" --launcher pytorch "${@:3}"
