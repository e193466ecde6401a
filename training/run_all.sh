#!/usr/bin/env bash
# The whole recipe on a machine with GPUs: tokenizer (unless RUNS/tokens exists), the teacher, then
# the three students side by side in one process (same batches), then evaluation and export.
#
#   bash training/run_all.sh                  full run (budgets below, overridable by environment)
#   SMOKE=1 bash training/run_all.sh          a few steps of every stage, to check the pipeline
#   EXTRA=--resume bash training/run_all.sh   continue interrupted stages from their last-*.pt
#
# Needs training/data/{train,valid}.txt from prepare_data.py, or RUNS/tokens from tokenizer.py.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-training/runs}
# NVLink multicast stays off on shared multi-GPU hosts.
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
NGPU=$(python3 -c 'import torch; print(max(1, torch.cuda.device_count()))')

# The teacher's shape and budget; the students are d_model 384, 12 layers (train.py's defaults).
TEACHER_SHAPE=${TEACHER_SHAPE:---d-model 768 --n-layer 16}
TEACHER_LR=${TEACHER_LR:-2e-3}
if [ "${SMOKE:-0}" = 1 ]; then
  TEACHER="--train-tokens 1e6 --time-budget 20 --eval-every 10 --log-every 5"
  STUDENT="$TEACHER"
else
  TEACHER="--train-tokens ${TEACHER_TOKENS:-100e6} --time-budget ${TEACHER_SECONDS:-370} --eval-every 40"
  STUDENT="--train-tokens ${STUDENT_TOKENS:-100e6} --time-budget ${STUDENT_SECONDS:-470} --eval-every 30"
fi
EXTRA=${EXTRA:-}  # more train.py flags, for both stages

launch() {  # one process per GPU; on one GPU a plain process (no DDP wrapper)
  if [ "$NGPU" = 1 ]; then
    python3 training/train.py --tokens "$RUNS/tokens" --out "$RUNS" "$@"
  else
    torchrun --nproc_per_node="$NGPU" --master_port=29511 training/train.py --tokens "$RUNS/tokens" --out "$RUNS" "$@"
  fi
}

[ -f "$RUNS/tokens/meta.json" ] || python3 training/tokenizer.py --data training/data --out "$RUNS/tokens"
launch --stage teacher $TEACHER_SHAPE --lr "$TEACHER_LR" $TEACHER $EXTRA
launch --stage students --teacher "$RUNS/teacher/best.pt" $STUDENT $EXTRA
python3 training/evaluate.py --runs "$RUNS" --heldout training/heldout.txt
