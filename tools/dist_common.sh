#!/usr/bin/env bash
# Shared by dist_{train,test,select}.sh (sourced, not run): the
# torch.distributed.run line of one node. The caller sets GPUS, then calls
#   dist_run SCRIPT [ARGS...]
# to start tools/SCRIPT with ARGS on GPUS processes, with the repo root on
# PYTHONPATH. Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT; interpreter:
# PYTHON.
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

dist_run() {
    local script=$1
    shift
    PYTHONPATH="$DIR/..":$PYTHONPATH \
    ${PYTHON:-python} -m torch.distributed.run \
        --nnodes=$NNODES --node_rank=$NODE_RANK --master_addr=$MASTER_ADDR \
        --nproc_per_node=$GPUS --master_port=$PORT \
        "$DIR/$script" "$@"
}
