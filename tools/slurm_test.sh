#!/usr/bin/env bash
# Usage: [GPUS=8] bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]
# (srun settings: tools/slurm_common.sh)
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
source "$(dirname "$0")/slurm_common.sh"
slurm_run test.py ${CONFIG} ${CHECKPOINT} --launcher="slurm" "${@:5}"
