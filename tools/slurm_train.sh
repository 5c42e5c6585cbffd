#!/usr/bin/env bash
# Usage: [GPUS=8] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# (srun settings: tools/slurm_common.sh)
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
source "$(dirname "$0")/slurm_common.sh"
slurm_run train.py ${CONFIG} --work-dir=${WORK_DIR} --launcher="slurm" "${@:5}"
