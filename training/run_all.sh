#!/usr/bin/env bash
# The whole recipe on a machine with GPUs: tokenizer, teacher, the two Bi-Mamba students side by
# side (they share the GPUs), then evaluation and export.
#
#   bash training/run_all.sh                  full run (budgets below, overridable by environment)
#   SMOKE=1 bash training/run_all.sh          a few steps of every stage, to check the pipeline
#   EXTRA=--resume bash training/run_all.sh   continue interrupted stages from their last.pt
#
# Needs training/data/{train,valid}.txt from prepare_data.py. Writes under RUNS (training/runs).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-training/runs}
# NVLink multicast stays off on shared multi-GPU hosts.
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
NGPU=$(python3 -c 'import torch; print(max(1, torch.cuda.device_count()))')

TOKENS=${TRAIN_TOKENS:-30e6}
if [ "${SMOKE:-0}" = 1 ]; then
  TEACHER="--train-tokens 3e6 --time-budget 15 --eval-every 20 --log-every 5"
  STUDENT="$TEACHER"
else
  TEACHER="--train-tokens $TOKENS --time-budget ${TEACHER_SECONDS:-200}"
  STUDENT="--train-tokens $TOKENS --time-budget ${STUDENT_SECONDS:-240}"
fi
EXTRA=${EXTRA:-}  # more train.py flags, for every stage

launch() {  # PORT ARGS...: one torchrun per stage; distinct ports let two run at once
  torchrun --nproc_per_node="$NGPU" --master_port="$1" training/train.py --tokens "$RUNS/tokens" "${@:2}"
}

python3 training/tokenizer.py --data training/data --out "$RUNS/tokens"
launch 29511 --stage teacher --out "$RUNS/teacher" $TEACHER $EXTRA
launch 29512 --stage kd --teacher "$RUNS/teacher/best.pt" --out "$RUNS/bimamba-kd" $STUDENT $EXTRA &
KD=$!
launch 29513 --stage ce --out "$RUNS/bimamba-ce" $STUDENT $EXTRA &
CE=$!
status=0
wait $KD || status=1
wait $CE || status=1
[ $status = 0 ] || { echo "a student failed" >&2; exit 1; }
python3 training/evaluate.py --runs "$RUNS" --heldout training/heldout.txt
