"""A Mamba-2 language model in plain PyTorch, optionally with 1-bit in_proj/out_proj (Bi-Mamba).

Module names are those of mamba_ssm's MambaLMHeadModel, so `state_dict()` is already in the layout
of the official checkpoints (see checkpoint.py):

    backbone.embedding                     [V, d]   (V padded to pad_vocab_size_multiple)
    backbone.layers.{i}.norm               RMSNorm(d)
    backbone.layers.{i}.mixer              Mamba2Mixer
    backbone.norm_f                        RMSNorm(d)
    lm_head                                [V, d]   tied to the embedding

Per layer: h = h + mixer(norm(h)), the residual stream h kept in fp32.
"""

import math
from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from binary import BinaryLinear, ptb_binarize
from ssd import ssd_chunked

NORM_EPS = 1e-5  # mamba_ssm's default for every RMSNorm


def upcast(t):
    """bf16/fp16 -> fp32; fp32 and fp64 stay (fp64 is for tests)."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


@dataclass
class ModelConfig:
    vocab_size: int = 4096  # the tokenizer's; the embedding is padded to a multiple below
    d_model: int = 384
    n_layer: int = 12
    d_state: int = 64
    headdim: int = 64
    expand: int = 2
    ngroups: int = 1
    d_conv: int = 4
    pad_vocab_size_multiple: int = 16
    binary: bool = False  # Bi-Mamba: in_proj and out_proj are BinaryLinear
    chunk_size: int = 64  # of the chunked scan; changes speed, not results
    dropout: float = 0.0  # on each mixer's output, training only

    @property
    def d_inner(self):
        return self.expand * self.d_model

    @property
    def nheads(self):
        return self.d_inner // self.headdim

    @property
    def padded_vocab(self):
        m = self.pad_vocab_size_multiple
        return (self.vocab_size + m - 1) // m * m


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):  # [..., d] -> fp32 [..., d]
        x = upcast(x)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS) * self.weight


class GatedRMSNorm(nn.Module):
    """rmsnorm(y * silu(z)) * w, normalised over groups of `group_size` channels."""

    def __init__(self, d, group_size):
        super().__init__()
        self.group_size = group_size
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, y, z):  # [..., d], [..., d] -> fp32 [..., d]
        u = upcast(y) * F.silu(upcast(z))
        shape = u.shape
        u = u.view(*shape[:-1], -1, self.group_size)
        u = u * torch.rsqrt(u.pow(2).mean(-1, keepdim=True) + NORM_EPS)
        return u.view(shape) * self.weight


class Mamba2Mixer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        H, G, N = cfg.nheads, cfg.ngroups, cfg.d_state
        self.conv_dim = cfg.d_inner + 2 * G * N  # the channels x, B, C go through the conv
        d_in_proj = cfg.d_inner + self.conv_dim + H  # rows: z, x, B, C, dt
        Linear = BinaryLinear if cfg.binary else nn.Linear
        self.in_proj = Linear(cfg.d_model, d_in_proj, bias=False)
        self.conv1d = nn.Conv1d(self.conv_dim, self.conv_dim, cfg.d_conv, groups=self.conv_dim,
                                padding=cfg.d_conv - 1, bias=True)
        # mamba_ssm's initialisation: dt log-uniform in [1e-3, 0.1], A uniform in [1, 16], D = 1.
        dt = torch.exp(torch.rand(H) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # softplus(dt_bias) = dt
        self.A_log = nn.Parameter(torch.log(torch.empty(H).uniform_(1, 16)))
        self.D = nn.Parameter(torch.ones(H))
        self.norm = GatedRMSNorm(cfg.d_inner, cfg.d_inner // G)
        self.out_proj = Linear(cfg.d_inner, cfg.d_model, bias=False)

    def forward(self, u):  # [b, l, d_model] -> [b, l, d_model]
        cfg = self.cfg
        b, l, _ = u.shape
        H, P, G, N = cfg.nheads, cfg.headdim, cfg.ngroups, cfg.d_state
        z, xBC, dt = torch.split(self.in_proj(u), [cfg.d_inner, self.conv_dim, H], dim=-1)
        xBC = F.silu(self.conv1d(xBC.transpose(1, 2))[..., :l].transpose(1, 2))  # causal conv
        x, B, C = torch.split(xBC, [cfg.d_inner, G * N, G * N], dim=-1)

        # The scan runs in fp32 even under autocast: exp of cumulated decays wants the precision.
        with torch.autocast(device_type=u.device.type, enabled=False):
            dt = F.softplus(upcast(dt) + self.dt_bias)  # [b, l, H]
            A = -torch.exp(self.A_log)  # [H]
            x = upcast(x).view(b, l, H, P)
            B = upcast(B).view(b, l, G, N).repeat_interleave(H // G, dim=2)  # head i uses group i // (H/G)
            C = upcast(C).view(b, l, G, N).repeat_interleave(H // G, dim=2)
            y = ssd_chunked(x * dt[..., None], A * dt, B, C, cfg.chunk_size)  # [b, l, H, P]
            y = y + x * self.D[:, None]
            y = self.norm(y.reshape(b, l, cfg.d_inner), z)
        return self.out_proj(y)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm = RMSNorm(cfg.d_model)
        self.mixer = Mamba2Mixer(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, h):  # h: fp32 residual stream [b, l, d]
        return h + upcast(self.drop(self.mixer(self.norm(h))))


class Backbone(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embedding = nn.Embedding(cfg.padded_vocab, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm_f = RMSNorm(cfg.d_model)

    def forward(self, ids):
        h = upcast(self.embedding(ids))
        for layer in self.layers:
            h = layer(h)
        return self.norm_f(h)


class MambaLM(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = Backbone(cfg)
        self.lm_head = nn.Linear(cfg.d_model, cfg.padded_vocab, bias=False)
        self.lm_head.weight = self.backbone.embedding.weight  # tied
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self):
        # As mamba_ssm: embedding N(0, 0.02); out_proj scaled down by sqrt(n_layer) so the residual
        # stream does not grow with depth. Binary layers then take their scales from the latents.
        nn.init.normal_(self.backbone.embedding.weight, std=0.02)
        for layer in self.backbone.layers:
            layer.mixer.out_proj.weight /= math.sqrt(self.cfg.n_layer)
            for proj in (layer.mixer.in_proj, layer.mixer.out_proj):
                if isinstance(proj, BinaryLinear):
                    proj.reset_scales()

    def forward(self, ids):  # [b, l] int64 -> logits [b, l, padded_vocab]
        return self.lm_head(self.backbone(ids))


def binarized_projection_names(cfg: ModelConfig):
    """State-dict names of the matrices Bi-Mamba binarizes."""
    return [f"backbone.layers.{i}.mixer.{p}.weight" for i in range(cfg.n_layer) for p in ("in_proj", "out_proj")]


def ptb_model(teacher: MambaLM) -> MambaLM:
    """The teacher with in_proj/out_proj binarized after training (column-wise PTB), nothing retrained."""
    cfg = replace(teacher.cfg, binary=True, dropout=0.0)
    student = MambaLM(cfg).to(next(teacher.parameters()).device)
    state = {}
    for name, value in teacher.state_dict().items():
        if name in binarized_projection_names(cfg):
            latent, wscale, wbias = ptb_binarize(value.float())
            prefix = name[: -len("weight")]
            state[name], state[prefix + "wscale"], state[prefix + "wbias"] = latent, wscale, wbias
        else:
            state[name] = value
    student.load_state_dict(state)
    return student


def count_parameters(model: MambaLM):
    """Parameters counted once (the tied head is the embedding), split into 1-bit and the rest."""
    total = sum(p.numel() for p in model.parameters())
    names = set(binarized_projection_names(model.cfg)) if model.cfg.binary else set()
    binary = sum(p.numel() for n, p in model.named_parameters() if n in names)
    return {"total": total, "binarized": binary, "full_precision": total - binary}
