#!/usr/bin/env bash
# Sharded data selection on slurm (one task per GPU, each scores its shards).
# Usage: [GPUS=8] bash tools/slurm_select.sh PARTITION JOB_NAME {score|all} CONFIG CHECKPOINT --work-dir W [select_data.py args...]
# (srun settings: tools/slurm_common.sh)
set -x
PARTITION=$1
JOB_NAME=$2
STEP=$3
source "$(dirname "$0")/slurm_common.sh"
slurm_run select_data.py "${STEP}" "${@:4}" --launcher="slurm"
