"""Train one model of the recipe. Launch with torchrun (DDP, one process per GPU; 1 GPU works too):

  torchrun --nproc_per_node=1 training/train.py --stage teacher --out training/runs/teacher
  torchrun --nproc_per_node=1 training/train.py --stage kd --teacher training/runs/teacher/best.pt \
      --out training/runs/bimamba-kd
  torchrun --nproc_per_node=1 training/train.py --stage ce --out training/runs/bimamba-ce

Stages:
  teacher  full-precision Mamba-2, next-token cross-entropy
  kd       Bi-Mamba (1-bit in_proj/out_proj), the paper's loss: cross-entropy against the teacher's
           next-token distribution (soft targets; the teacher runs without gradients)
  ce       Bi-Mamba with plain next-token cross-entropy (the ablation)

Every stage sees the same batches (seeded by step) for the same token budget. Training stops at
--train-tokens or --time-budget seconds, whichever comes first; the learning rate's cosine follows
whichever is nearer its end, so a stage cut short by time still anneals. The best checkpoint on the
validation split is kept (best.pt); last.pt is written at every evaluation and --resume continues it.
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

from model import MambaLM, ModelConfig


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=["teacher", "kd", "ce"], required=True)
    ap.add_argument("--out", required=True, help="run folder (checkpoints, summary.json)")
    ap.add_argument("--tokens", default="training/runs/tokens", help="folder written by tokenizer.py")
    ap.add_argument("--teacher", help="the teacher's best.pt (stage kd)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/last.pt if it exists")
    # model
    ap.add_argument("--d-model", type=int, default=384)
    ap.add_argument("--n-layer", type=int, default=12)
    ap.add_argument("--d-state", type=int, default=64)
    ap.add_argument("--headdim", type=int, default=64)
    ap.add_argument("--chunk-size", type=int, default=64)
    ap.add_argument("--dropout", type=float, default=0.1)
    # optimisation
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=32, help="sequences per GPU per step")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup-steps", type=int, default=100)
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


# ------------------------------------------------------------------------------------------------


def main():
    args = parse_args()
    rank, world, device = setup_distributed()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(args.seed)  # the same initial weights on every process (DDP checks it too)
    os.makedirs(args.out, exist_ok=True)
    log = (lambda *a: print(f"[{args.stage}]", *a, flush=True)) if rank == 0 else (lambda *a: None)

    with open(os.path.join(args.tokens, "meta.json")) as f:
        vocab = json.load(f)["vocab_size"]
    train_tokens = torch.from_numpy(np.load(os.path.join(args.tokens, "train.npy")).astype(np.int64)).to(device)
    valid_tokens = torch.from_numpy(np.load(os.path.join(args.tokens, "valid.npy")).astype(np.int64)).to(device)

    cfg = ModelConfig(vocab_size=vocab, d_model=args.d_model, n_layer=args.n_layer, d_state=args.d_state,
                      headdim=args.headdim, chunk_size=args.chunk_size, dropout=args.dropout,
                      binary=args.stage != "teacher")
    model = MambaLM(cfg).to(device)
    teacher = load_teacher(args.teacher, device) if args.stage == "kd" else None
    if teacher is not None and teacher.cfg.padded_vocab != cfg.padded_vocab:
        raise SystemExit(f"teacher vocabulary {teacher.cfg.padded_vocab} != student's {cfg.padded_vocab}")
    opt = torch.optim.AdamW(parameter_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.95),
                            eps=1e-8, fused=True)

    tokens_per_step = args.batch * args.seq_len * world
    total_steps = math.ceil(args.train_tokens / tokens_per_step)
    step, elapsed, best_val, history = 0, 0.0, float("inf"), []
    last_path, best_path = os.path.join(args.out, "last.pt"), os.path.join(args.out, "best.pt")
    if args.resume and os.path.exists(last_path):
        ckpt = torch.load(last_path, map_location="cpu", weights_only=True)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        step, elapsed, best_val, history = ckpt["step"], ckpt["elapsed"], ckpt["best_val"], ckpt["history"]
        log(f"resumed at step {step} ({elapsed:.0f} s done)")
    ddp = DDP(model, device_ids=[device.index]) if dist.is_initialized() else model

    n_params = sum(p.numel() for p in model.parameters())
    log(f"{n_params / 1e6:.2f} M parameters, {total_steps} steps of {tokens_per_step} tokens, "
        f"{world} GPU(s), train split {train_tokens.numel()} tokens")

    def evaluate_and_save():
        nonlocal best_val
        val = validation_loss(model, valid_tokens, args.seq_len, vocab)
        history.append({"step": step, "tokens": step * tokens_per_step, "val_loss": val, "elapsed": elapsed})
        improved = val < best_val
        best_val = min(best_val, val)
        if rank == 0:
            if improved:
                torch.save({"config": asdict(cfg), "model": model.state_dict(), "step": step,
                            "val_loss": val}, best_path)
            torch.save({"config": asdict(cfg), "model": model.state_dict(), "optimizer": opt.state_dict(),
                        "step": step, "elapsed": elapsed, "best_val": best_val, "history": history}, last_path)
        log(f"step {step}: val loss {val:.4f} (ppl {math.exp(val):.2f}){' *' if improved else ''}")

    started, at_start = time.time(), elapsed
    window_start, window_step = time.time(), step
    while step < total_steps and elapsed < args.time_budget:
        lr = learning_rate(step, max(step / total_steps, elapsed / args.time_budget), args)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = batch_at(train_tokens, step, rank, args, device)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = ddp(x)
            if teacher is not None:
                with torch.no_grad():
                    teacher_logits = teacher(x)
        if teacher is not None:
            loss = soft_cross_entropy(logits, teacher_logits, vocab)
        else:
            loss = cross_entropy(logits, y, vocab)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        step += 1

        if step % args.log_every == 0 or step == total_steps:
            # Time is read here only, and agreed on, so that every process stops at the same step.
            elapsed = all_max(at_start + time.time() - started, device)
            rate = (step - window_step) * tokens_per_step / (time.time() - window_start)
            log(f"step {step}/{total_steps} loss {loss.item():.4f} lr {lr:.2e} {rate / 1e3:.0f} k tok/s "
                f"{elapsed:.0f} s")
            window_start, window_step = time.time(), step
        if step % args.eval_every == 0 or step >= total_steps or elapsed >= args.time_budget:
            evaluate_and_save()

    if not history or history[-1]["step"] != step:
        evaluate_and_save()
    if rank == 0:
        best = min(history, key=lambda h: h["val_loss"])
        summary = {"stage": args.stage, "config": asdict(cfg), "args": vars(args), "steps": step,
                   "planned_steps": total_steps, "train_tokens_seen": step * tokens_per_step,
                   "stopped_by": "tokens" if step >= total_steps else "time", "seconds": elapsed,
                   "best_step": best["step"], "best_val_loss": best["val_loss"], "history": history,
                   "parameters": n_params, "gpus": world}
        with open(os.path.join(args.out, "summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
        log(f"done: {step} steps, {elapsed:.0f} s, best val loss {best['val_loss']:.4f} at step {best['step']}")
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
