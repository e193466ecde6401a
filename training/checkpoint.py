"""Reading and writing the official Bi-Mamba / mamba_ssm checkpoint layout.

A checkpoint folder holds
    config.json         {"d_model", "n_layer", "vocab_size", "ssm_cfg": {"layer": "Mamba2", "d_state", "headdim"},
                         "pad_vocab_size_multiple", "tie_embeddings", "rms_norm", "residual_in_fp32", ...}
    pytorch_model.bin   torch.save(state_dict): mamba_ssm names; for Bi-Mamba also
                        {in,out}_proj.wscale / .wbias of shape [1, in_features]; lm_head.weight shares
                        the embedding's storage
    tokenizer.json      HF tokenizers
This is the layout `bimamba convert` reads.
"""

import json
import os
import shutil

import torch

from model import MambaLM, ModelConfig, binarized_projection_names

# mamba_ssm's Mamba2 defaults for what config.json leaves out.
MAMBA2_DEFAULTS = {"d_state": 128, "headdim": 64, "expand": 2, "ngroups": 1, "d_conv": 4}


def official_config(cfg: ModelConfig):
    return {
        "d_model": cfg.d_model,
        "d_intermediate": 0,
        "n_layer": cfg.n_layer,
        "vocab_size": cfg.vocab_size,
        "ssm_cfg": {"layer": "Mamba2", "d_state": cfg.d_state, "headdim": cfg.headdim,
                    "expand": cfg.expand, "ngroups": cfg.ngroups, "d_conv": cfg.d_conv},
        "attn_layer_idx": [],
        "attn_cfg": {},
        "rms_norm": True,
        "residual_in_fp32": True,
        "fused_add_norm": True,
        "pad_vocab_size_multiple": cfg.pad_vocab_size_multiple,
        "tie_embeddings": True,
    }


def export_official(model: MambaLM, folder, tokenizer_path, dtype=torch.float32, signs_only=False):
    """Write `model` as an official checkpoint folder.

    dtype: storage type of every tensor (fp16 halves a full-precision teacher).
    signs_only: store the binarized layers' latent weights as +-1 (what inference reads of them;
    a latent of exactly 0 becomes +1). The file then compresses well; training cannot resume from it.
    """
    os.makedirs(folder, exist_ok=True)
    cfg = model.cfg
    binarized = set(binarized_projection_names(cfg)) if cfg.binary else set()
    state = {}
    for name, value in model.state_dict().items():
        if name == "lm_head.weight":
            continue
        value = value.detach().float().cpu()
        if signs_only and name in binarized:
            value = torch.where(value >= 0, 1.0, -1.0)
        state[name] = value.to(dtype).clone()
    state["lm_head.weight"] = state["backbone.embedding.weight"]  # tied: saved once, as mamba_ssm does
    torch.save(state, os.path.join(folder, "pytorch_model.bin"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(official_config(cfg), f, indent=2)
    shutil.copyfile(tokenizer_path, os.path.join(folder, "tokenizer.json"))


def load_official(folder, device="cpu"):
    """An official Mamba-2 / Bi-Mamba checkpoint folder -> MambaLM in fp32 (no pickle code runs)."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    ssm = {**MAMBA2_DEFAULTS, **config.get("ssm_cfg", {})}
    if ssm.get("layer") != "Mamba2":
        raise ValueError(f"{folder}: only Mamba2 layers are supported, config says {ssm.get('layer')!r}")
    state = torch.load(os.path.join(folder, "pytorch_model.bin"), map_location="cpu", weights_only=True)
    cfg = ModelConfig(
        vocab_size=config["vocab_size"], d_model=config["d_model"], n_layer=config["n_layer"],
        d_state=ssm["d_state"], headdim=ssm["headdim"], expand=ssm["expand"], ngroups=ssm["ngroups"],
        d_conv=ssm["d_conv"], pad_vocab_size_multiple=config.get("pad_vocab_size_multiple", 8),
        binary=any(name.endswith(".wscale") for name in state),
    )
    model = MambaLM(cfg)
    model.load_state_dict({name: value.float() for name, value in state.items()})
    return model.to(device)
