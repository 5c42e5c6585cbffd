#!/usr/bin/env bash
# Sharded data selection on one node (each rank scores its own shards).
# Usage: bash tools/dist_select.sh {score|all} GPUS CONFIG CHECKPOINT --work-dir W [select_data.py args...]
set -e
STEP=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
DIR="$(cd "$(dirname "$0")" && pwd)"
PYTHONPATH="$DIR/..":$PYTHONPATH \
${PYTHON:-python} -m torch.distributed.run \
    --nnodes=$NNODES --node_rank=$NODE_RANK --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS --master_port=$PORT \
    "$DIR/select_data.py" "$STEP" "${@:3}" --launcher pytorch
