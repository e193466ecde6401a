"""Train the models of the recipe. Launch with torchrun (DDP, one process per GPU; 1 GPU works too):

  torchrun --nproc_per_node=1 training/train.py --stage teacher --out training/runs \
      --d-model 768 --n-layer 16
  torchrun --nproc_per_node=1 training/train.py --stage students --out training/runs \
      --teacher training/runs/teacher/best.pt

Stages:
  teacher   a full-precision Mamba-2 (its own shape, usually several times the students'), next-token
            cross-entropy; writes OUT/teacher/
  students  three models of one shape trained side by side in one process, on the very same batches
            (one batch drawn per step, fed to all three), so their data order and token budget are
            the same by construction:
              fp          full-precision Mamba-2, cross-entropy (the paper's "Mamba-2" row)
              bimamba-kd  Bi-Mamba (1-bit in_proj/out_proj), the paper's loss: cross-entropy against
                          the frozen teacher's next-token distribution, no hard labels
              bimamba-ce  Bi-Mamba, plain cross-entropy (the ablation)
            writes OUT/fp/, OUT/bimamba-kd/, OUT/bimamba-ce/; at every evaluation the FP baseline is
            also binarized (PTB) and evaluated, so its history shows what PTB costs as training goes on

Batches are random windows of the token stream drawn from (seed, step, rank) alone, the same for
every stage. Training stops at --train-tokens or --time-budget seconds, whichever comes first; the
learning rate's cosine follows whichever is nearer its end, so a run cut short by time still anneals.
Each model keeps its best checkpoint on the validation split (best.pt); last.pt (models, optimisers,
histories) is written at every evaluation and --resume continues from it.
"""

import argparse
import json
import math
import os
import time
from dataclasses import asdict

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

from model import MambaLM, ModelConfig, ptb_model

STUDENTS = {"fp": (False, "ce"), "bimamba-kd": (True, "kd"), "bimamba-ce": (True, "ce")}  # binary?, loss


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=["teacher", "students"], required=True)
    ap.add_argument("--out", required=True, help="runs folder; each model writes OUT/<name>/")
    ap.add_argument("--tokens", default="training/runs/tokens", help="folder written by tokenizer.py")
    ap.add_argument("--teacher", help="the teacher's best.pt (stage students)")
    ap.add_argument("--resume", action="store_true", help="continue from last.pt if it exists")
    ap.add_argument("--compile", action="store_true", help="torch.compile the models")
    # model
    ap.add_argument("--d-model", type=int, default=384)
    ap.add_argument("--n-layer", type=int, default=12)
    ap.add_argument("--d-state", type=int, default=64)
    ap.add_argument("--headdim", type=int, default=64)
    ap.add_argument("--chunk-size", type=int, default=64)
    ap.add_argument("--dropout", type=float, default=0.0)
    # optimisation
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64, help="sequences per GPU per step")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup-steps", type=int, default=50)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--train-tokens", type=float, default=30e6, help="token budget, all GPUs together")
    ap.add_argument("--time-budget", type=float, default=200.0, help="seconds of training, at most")
    ap.add_argument("--eval-every", type=int, default=100, help="steps between validations")
    ap.add_argument("--log-every", type=int, default=25, help="steps between logs (and time checks)")
    ap.add_argument("--seed", type=int, default=1234)
    return ap.parse_args()


# ------------------------------------------------------------------------------------------------
# distributed setup


def setup_distributed():
    """(rank, world, device). torchrun sets the environment; a plain `python3 train.py` runs alone."""
    local = int(os.environ.get("LOCAL_RANK", 0))
    torch.cuda.set_device(local)
    if "RANK" in os.environ:
        dist.init_process_group("nccl")
        return dist.get_rank(), dist.get_world_size(), torch.device("cuda", local)
    return 0, 1, torch.device("cuda", local)


def all_max(value, device):
    """The largest `value` over all processes (so that every process takes the same decision)."""
    if not dist.is_initialized():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.item()


# ------------------------------------------------------------------------------------------------
# data, losses, schedule


def batch_at(tokens, step, rank, args, device):
    """Random windows of the token stream, a function of (seed, step, rank) alone: resumable, and
    the same for every stage."""
    g = torch.Generator().manual_seed(args.seed * 1_000_003 + step * 4099 + rank)
    starts = torch.randint(0, tokens.numel() - args.seq_len - 1, (args.batch,), generator=g)
    idx = starts[:, None] + torch.arange(args.seq_len + 1)
    window = tokens[idx.to(tokens.device)].to(device)  # [batch, seq_len + 1]
    return window[:, :-1], window[:, 1:]


def cross_entropy(logits, targets, vocab):
    return F.cross_entropy(logits[..., :vocab].float().flatten(0, 1), targets.flatten())


def soft_cross_entropy(logits, teacher_logits, vocab):
    """-sum_v p_teacher(v) log p_student(v), averaged over positions."""
    p = F.softmax(teacher_logits[..., :vocab].float(), dim=-1)
    return -(p * F.log_softmax(logits[..., :vocab].float(), dim=-1)).sum(-1).mean()


def learning_rate(step, progress, args):
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * cosine)


@torch.no_grad()
def validation_loss(model, tokens, seq_len, vocab, batch=64):
    """Mean next-token cross-entropy over non-overlapping windows of the validation split."""
    model.eval()
    n = (tokens.numel() - 1) // seq_len
    x_all = tokens[: n * seq_len].view(n, seq_len)
    y_all = tokens[1 : n * seq_len + 1].view(n, seq_len)
    total = 0.0
    for i in range(0, n, batch):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(x_all[i : i + batch])
        total += F.cross_entropy(logits[..., :vocab].float().flatten(0, 1), y_all[i : i + batch].flatten(),
                                 reduction="sum").item()
    model.train()
    return total / (n * seq_len)


def parameter_groups(model, weight_decay):
    """Weight decay on matrices only; not on norms, biases, A_log, D, dt_bias or wscale/wbias."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        is_matrix = p.dim() >= 2 and not name.endswith((".wscale", ".wbias"))
        (decay if is_matrix else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def load_teacher(path, device):
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    cfg = ModelConfig(**{**ckpt["config"], "dropout": 0.0})
    teacher = MambaLM(cfg)
    teacher.load_state_dict(ckpt["model"])
    return teacher.to(device).eval().requires_grad_(False)


class Run:
    """One model being trained: its optimiser, loss, folder, validation history and best loss."""

    def __init__(self, name, cfg, loss, args, device):
        torch.manual_seed(args.seed)  # the same initial latents for every model of a shape, every process
        self.name, self.cfg, self.loss = name, cfg, loss
        self.model = MambaLM(cfg).to(device)
        self.opt = torch.optim.AdamW(parameter_groups(self.model, args.weight_decay), lr=args.lr,
                                     betas=(0.9, 0.95), eps=1e-8, fused=True)
        self.folder = os.path.join(args.out, name)
        os.makedirs(self.folder, exist_ok=True)
        self.history, self.best_val = [], float("inf")
        ddp = DDP(self.model, device_ids=[device.index]) if dist.is_initialized() else self.model
        self.forward = torch.compile(ddp) if args.compile else ddp

    def state(self):
        return {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                "history": self.history, "best_val": self.best_val}

    def load(self, state):
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.history, self.best_val = state["history"], state["best_val"]


# ------------------------------------------------------------------------------------------------


def main():
    args = parse_args()
    rank, world, device = setup_distributed()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    os.makedirs(args.out, exist_ok=True)
    log = (lambda *a: print(f"[{args.stage}]", *a, flush=True)) if rank == 0 else (lambda *a: None)

    with open(os.path.join(args.tokens, "meta.json")) as f:
        vocab = json.load(f)["vocab_size"]
    train_tokens = torch.from_numpy(np.load(os.path.join(args.tokens, "train.npy")).astype(np.int64)).to(device)
    valid_tokens = torch.from_numpy(np.load(os.path.join(args.tokens, "valid.npy")).astype(np.int64)).to(device)

    shape = dict(vocab_size=vocab, d_model=args.d_model, n_layer=args.n_layer, d_state=args.d_state,
                 headdim=args.headdim, chunk_size=args.chunk_size, dropout=args.dropout)
    teacher = None
    if args.stage == "teacher":
        runs = [Run("teacher", ModelConfig(**shape, binary=False), "ce", args, device)]
    else:
        runs = [Run(name, ModelConfig(**shape, binary=binary), loss, args, device)
                for name, (binary, loss) in STUDENTS.items()]
        teacher = load_teacher(args.teacher, device)
        if teacher.cfg.padded_vocab != runs[0].cfg.padded_vocab:
            raise SystemExit(f"teacher vocabulary {teacher.cfg.padded_vocab} != students' {runs[0].cfg.padded_vocab}")
        teacher_forward = torch.compile(teacher) if args.compile else teacher

    tokens_per_step = args.batch * args.seq_len * world
    total_steps = math.ceil(args.train_tokens / tokens_per_step)
    step, elapsed = 0, 0.0
    last_path = os.path.join(args.out, f"last-{args.stage}.pt")
    if args.resume and os.path.exists(last_path):
        ckpt = torch.load(last_path, map_location="cpu", weights_only=True)
        for run in runs:
            run.load(ckpt["runs"][run.name])
        step, elapsed = ckpt["step"], ckpt["elapsed"]
        log(f"resumed at step {step} ({elapsed:.0f} s done)")

    for run in runs:
        n_params = sum(p.numel() for p in run.model.parameters())
        log(f"{run.name}: {n_params / 1e6:.2f} M parameters, {run.loss} loss")
    log(f"{total_steps} steps of {tokens_per_step} tokens, {world} GPU(s), train split {train_tokens.numel()} tokens")

    def evaluate_and_save():
        for run in runs:
            val = validation_loss(run.model, valid_tokens, args.seq_len, vocab)
            point = {"step": step, "tokens": step * tokens_per_step, "val_loss": val, "elapsed": elapsed}
            if run.name == "fp":
                # What post-training binarization would cost the baseline at this point of its training.
                point["ptb_val_loss"] = validation_loss(ptb_model(run.model), valid_tokens, args.seq_len, vocab)
            run.history.append(point)
            improved = val < run.best_val
            run.best_val = min(run.best_val, val)
            if rank == 0 and improved:
                torch.save({"config": asdict(run.cfg), "model": run.model.state_dict(), "step": step,
                            "val_loss": val}, os.path.join(run.folder, "best.pt"))
            ptb = f", PTB of it {point['ptb_val_loss']:.4f}" if "ptb_val_loss" in point else ""
            log(f"step {step} {run.name}: val loss {val:.4f} (ppl {math.exp(val):.2f}){' *' if improved else ''}{ptb}")
        if rank == 0:
            torch.save({"runs": {run.name: run.state() for run in runs}, "step": step, "elapsed": elapsed},
                       last_path)

    started, at_start = time.time(), elapsed
    window_start, window_step = time.time(), step
    while step < total_steps and elapsed < args.time_budget:
        lr = learning_rate(step, max(step / total_steps, elapsed / args.time_budget), args)
        x, y = batch_at(train_tokens, step, rank, args, device)
        teacher_logits = None
        if teacher is not None:
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                teacher_logits = teacher_forward(x)
        losses = []
        for run in runs:
            for group in run.opt.param_groups:
                group["lr"] = lr
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = run.forward(x)
            loss = soft_cross_entropy(logits, teacher_logits, vocab) if run.loss == "kd" else cross_entropy(logits, y, vocab)
            run.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(run.model.parameters(), args.grad_clip)
            run.opt.step()
            losses.append(loss)
        step += 1

        if step % args.log_every == 0 or step == total_steps:
            # Time is read here only, and agreed on, so that every process stops at the same step.
            elapsed = all_max(at_start + time.time() - started, device)
            rate = (step - window_step) * tokens_per_step / (time.time() - window_start)
            shown = " ".join(f"{run.name} {loss.item():.4f}" for run, loss in zip(runs, losses))
            log(f"step {step}/{total_steps} loss {shown} lr {lr:.2e} {rate / 1e3:.0f} k tok/s {elapsed:.0f} s")
            window_start, window_step = time.time(), step
        if step % args.eval_every == 0 or step >= total_steps or elapsed >= args.time_budget:
            evaluate_and_save()

    if not runs[0].history or runs[0].history[-1]["step"] != step:
        evaluate_and_save()
    if rank == 0:
        for run in runs:
            best = min(run.history, key=lambda h: h["val_loss"])
            summary = {"stage": args.stage, "name": run.name, "loss": run.loss, "config": asdict(run.cfg),
                       "args": vars(args), "steps": step, "planned_steps": total_steps,
                       "train_tokens_seen": step * tokens_per_step,
                       "stopped_by": "tokens" if step >= total_steps else "time", "seconds": elapsed,
                       "best_step": best["step"], "best_val_loss": best["val_loss"], "history": run.history,
                       "parameters": sum(p.numel() for p in run.model.parameters()), "gpus": world,
                       "gpu_name": torch.cuda.get_device_name(device)}
            with open(os.path.join(run.folder, "summary.json"), "w") as f:
                json.dump(summary, f, indent=2)
            log(f"done {run.name}: {step} steps, {elapsed:.0f} s, best val loss {best['val_loss']:.4f} at step {best['step']}")
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
