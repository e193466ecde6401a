"""Measure the five models on the held-out file and export them in the official Bi-Mamba layout.

  python3 training/evaluate.py --runs training/runs --heldout training/heldout.txt

Reads RUNS/tokens (tokenizer), RUNS/{teacher,fp,bimamba-kd,bimamba-ce} (best.pt, summary.json);
builds the PTB model from the FP baseline; writes RUNS/export/<model>/ checkpoint folders and
RUNS/results.json.

Perplexity, the same method as the runtime's `bimamba ppl`: the whole file is tokenized with no
special tokens and cut into non-overlapping windows of --window tokens (the last, shorter one
included); each window runs from a fresh state; ppl = exp(mean NLL of token t+1 given tokens <= t)
over all windows. Computed in fp32 (TF32 off).
"""

import argparse
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from checkpoint import export_official, load_official
from model import MambaLM, ModelConfig, count_parameters, ptb_model

MODELS = {
    "teacher": "full-precision Mamba-2, several times the students' size, cross-entropy",
    "fp": "full-precision Mamba-2 of the students' shape, cross-entropy (the FP baseline)",
    "bimamba-kd": "Bi-Mamba, distilled from the teacher (the paper's recipe)",
    "bimamba-ce": "Bi-Mamba, plain cross-entropy (ablation)",
    "bimamba-ptb": "post-training binarization of the FP baseline (column-wise), no training",
}


@torch.no_grad()
def perplexity(model, ids, window, vocab, device):
    model.eval()
    nll, count = 0.0, 0
    for start in range(0, len(ids), window):
        w = torch.tensor(ids[start : start + window], dtype=torch.long, device=device)
        if w.numel() < 2:
            continue
        logits = model(w[None])[0, :-1, :vocab].float()
        nll += F.cross_entropy(logits, w[1:], reduction="sum").double().item()
        count += w.numel() - 1
    return math.exp(nll / count), count


def load_best(run_folder, device):
    ckpt = torch.load(os.path.join(run_folder, "best.pt"), map_location="cpu", weights_only=True)
    model = MambaLM(ModelConfig(**{**ckpt["config"], "dropout": 0.0}))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="training/runs")
    ap.add_argument("--heldout", default="training/heldout.txt")
    ap.add_argument("--window", type=int, default=2048)
    ap.add_argument("--shipped", default="bimamba-kd", help="the model that becomes the built-in default")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False  # reported figures in true fp32
    torch.backends.cudnn.allow_tf32 = False

    tokenizer_path = os.path.join(args.runs, "tokens", "tokenizer.json")
    tok = Tokenizer.from_file(tokenizer_path)
    with open(args.heldout, encoding="utf-8") as f:
        heldout_ids = tok.encode(f.read(), add_special_tokens=False).ids
    valid_ids = np.load(os.path.join(args.runs, "tokens", "valid.npy")).astype(np.int64).tolist()
    vocab = tok.get_vocab_size()

    models = {name: load_best(os.path.join(args.runs, name), device) for name in ("teacher", "fp", "bimamba-kd", "bimamba-ce")}
    models["bimamba-ptb"] = ptb_model(models["fp"]).eval()

    results = {
        "heldout_file": "training/heldout.txt",
        "heldout_tokens": len(heldout_ids),
        "ppl_method": f"non-overlapping windows of {args.window} tokens from a fresh state, no special tokens, fp32",
        "tokenizer": {"kind": "byte-level BPE (HF tokenizers)", "vocab_size": vocab},
        "models": {},
    }
    export_root = os.path.join(args.runs, "export")
    for name, model in models.items():
        ppl, predicted = perplexity(model, heldout_ids, args.window, vocab, device)
        valid_ppl, _ = perplexity(model, valid_ids, args.window, vocab, device)
        entry = {"description": MODELS[name], "heldout_ppl": round(ppl, 4), "valid_ppl": round(valid_ppl, 4),
                 "parameters": count_parameters(model), "heldout_predictions": predicted}
        summary_path = os.path.join(args.runs, name, "summary.json")
        if os.path.exists(summary_path):
            with open(summary_path) as f:
                s = json.load(f)
            entry["training"] = {k: s[k] for k in ("steps", "train_tokens_seen", "seconds", "stopped_by",
                                                   "best_step", "best_val_loss", "gpus", "gpu_name")}
            entry["config"] = {k: s["config"][k] for k in ("d_model", "n_layer", "d_state", "headdim", "binary")}
            entry["history"] = [{k: round(h[k], 4) for k in ("tokens", "val_loss", "ptb_val_loss", "elapsed") if k in h}
                                for h in s["history"]]
        else:
            entry["training"] = {"note": "no training: built from the FP baseline"}
        # Full-precision models travel in fp16; the binary models keep fp32 tensors with +-1 latents.
        folder = os.path.join(export_root, f"{name}-fp16" if name in ("teacher", "fp") else name)
        if name in ("teacher", "fp"):
            export_official(model, folder, tokenizer_path, dtype=torch.float16)
        else:
            export_official(model, folder, tokenizer_path, signs_only=True)
        entry["export"] = os.path.relpath(folder, args.runs)
        results["models"][name] = entry
        print(f"{name}: held-out ppl {ppl:.3f}, valid ppl {valid_ppl:.3f}, {entry['parameters']}", flush=True)

    # The shipped model, read back from its exported files: the figure `bimamba ppl` must match.
    shipped = load_official(os.path.join(export_root, args.shipped), device).eval()
    ppl, _ = perplexity(shipped, heldout_ids, args.window, vocab, device)
    results["shipped"] = {"model": args.shipped, "pytorch_heldout_ppl": round(ppl, 4),
                          "from": f"export/{args.shipped} (fp32 weights)"}
    for name in ("teacher", "fp"):
        fp16 = load_official(os.path.join(export_root, f"{name}-fp16"), device).eval()
        results["models"][name]["heldout_ppl_fp16_export"] = round(
            perplexity(fp16, heldout_ids, args.window, vocab, device)[0], 4)
    print(f"shipped {args.shipped} read back from its export: held-out ppl {ppl:.4f}", flush=True)
    with open(os.path.join(args.runs, "results.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
