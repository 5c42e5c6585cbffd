#!/usr/bin/env bash
# Shared by slurm_{train,test,select}.sh (sourced, not run): the srun line of
# one job. The caller sets PARTITION and JOB_NAME, then calls
#   slurm_run SCRIPT [ARGS...]
# to start tools/SCRIPT with ARGS on GPUS tasks (default 8) of GPUS_PER_NODE
# a node (default 8), CPUS_PER_TASK cores each (default 5), with the repo
# root on PYTHONPATH. Extra srun options: SRUN_ARGS; interpreter: PYTHON.
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

slurm_run() {
    local script=$1
    shift
    PYTHONPATH="$DIR/..":$PYTHONPATH \
    srun -p ${PARTITION} \
        --job-name=${JOB_NAME} \
        --gres=gpu:${GPUS_PER_NODE} \
        --ntasks=${GPUS} \
        --ntasks-per-node=${GPUS_PER_NODE} \
        --cpus-per-task=${CPUS_PER_TASK} \
        --kill-on-bad-exit=1 \
        ${SRUN_ARGS} \
        ${PYTHON:-python} -u "$DIR/$script" "$@"
}
