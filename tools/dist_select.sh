#!/usr/bin/env bash
# Sharded data selection on one node (each rank scores its own shards).
# Usage: bash tools/dist_select.sh {score|all} GPUS CONFIG CHECKPOINT --work-dir W [select_data.py args...]
# (multi-node settings: tools/dist_common.sh)
set -e
STEP=$1
GPUS=$2
source "$(dirname "$0")/dist_common.sh"
dist_run select_data.py "$STEP" "${@:3}" --launcher pytorch
