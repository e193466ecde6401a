"""1-bit linear layers (Bi-Mamba) and post-training binarization (PTB).

A binarized weight is column-wise affine in the signs of a latent full-precision matrix W [out, in]:

    W_hat[i, j] = wscale[j] * sign(W[i, j]) + wbias[j]        sign(0) = +1, as the runtime packs it

Training keeps W (the "latent" weights) and learns wscale/wbias; the gradient reaches W through a
straight-through estimator: sign is treated as the identity where |W| <= 1, and as flat beyond.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def sign_ste(w):
    """sign(w) with sign(0) = +1 going forward; the clipped identity going backward."""
    clipped = w.clamp(-1.0, 1.0)
    sign = torch.where(w >= 0, 1.0, -1.0).to(w.dtype)
    return clipped + (sign - clipped).detach()


class BinaryLinear(nn.Module):
    """y = x W_hat^T with W_hat as above. Parameter names follow the Bi-Mamba release."""

    def __init__(self, in_features, out_features, bias=False):
        super().__init__()
        if bias:
            raise ValueError("BinaryLinear has no bias (Mamba-2's in_proj/out_proj have none)")
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))  # latent, fp32
        self.wscale = nn.Parameter(torch.ones(1, in_features))
        self.wbias = nn.Parameter(torch.zeros(1, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # nn.Linear's default
        self.reset_scales()

    @torch.no_grad()
    def reset_scales(self):
        """wscale_j = mean_i |W_ij - mean_i W_ij|, wbias_j = mean_i W_ij (call after changing W)."""
        mu = self.weight.mean(dim=0, keepdim=True)
        self.wscale.copy_((self.weight - mu).abs().mean(dim=0, keepdim=True))
        self.wbias.copy_(mu)

    def binarized_weight(self):
        return self.wscale * sign_ste(self.weight) + self.wbias  # [out, in]

    def forward(self, x):
        return F.linear(x, self.binarized_weight())

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, 1-bit"


@torch.no_grad()
def ptb_binarize(weight):
    """Post-training binarization of a full-precision [out, in] weight, column-wise:
    mu_j = mean_i W_ij, alpha_j = mean_i |W_ij - mu_j|, bits sign(W_ij - mu_j), beta_j = mu_j.

    Returns (latent, wscale, wbias) in the Bi-Mamba layout: latent = W - mu has the right signs.
    """
    mu = weight.mean(dim=0, keepdim=True)
    centered = weight - mu
    return centered, centered.abs().mean(dim=0, keepdim=True), mu
