"""The Mamba-2 selective state-space scan ("SSD"), in plain PyTorch.

For every head, with a state S of shape [p, n] starting at zero:

    S_t = exp(a_t) * S_{t-1} + x_t B_t^T        x_t [p], B_t [n], a_t <= 0 (a scalar per head)
    y_t = S_t C_t                               C_t [n]

`ssd_sequential` runs this loop as written (slow, the reference). `ssd_chunked` computes the same
thing in chunks of Q steps with matrix products (the "state space duality" form of the Mamba-2
paper): inside a chunk the scan is a masked attention-like product; between chunks only the
states are carried forward.
"""

import torch
import torch.nn.functional as F


def segsum(a):
    """a [..., T] -> [..., T, T] with out[i, j] = a[j+1] + ... + a[i] for i >= j and -inf above.

    exp(segsum(a))[i, j] is the decay from step j to step i. Summing masked copies (instead of
    differencing one cumulative sum) keeps small sums exact next to large ones.
    """
    T = a.size(-1)
    rep = a.unsqueeze(-1).expand(*a.shape, T)  # rep[..., i, j] = a[i]
    strictly_lower = torch.tril(torch.ones(T, T, dtype=torch.bool, device=a.device), diagonal=-1)
    out = torch.cumsum(rep.masked_fill(~strictly_lower, 0.0), dim=-2)
    lower = torch.tril(torch.ones(T, T, dtype=torch.bool, device=a.device))
    return out.masked_fill(~lower, float("-inf"))


def ssd_chunked(x, a, B, C, chunk):
    """x [b, l, h, p] (inputs already times dt), a [b, l, h] (A*dt), B, C [b, l, h, n] -> y [b, l, h, p]."""
    b, l, h, p = x.shape
    n = B.shape[-1]
    pad = (-l) % chunk
    if pad:  # zero inputs with no decay at the end change nothing before them
        x = F.pad(x, (0, 0, 0, 0, 0, pad))
        a = F.pad(a, (0, 0, 0, pad))
        B = F.pad(B, (0, 0, 0, 0, 0, pad))
        C = F.pad(C, (0, 0, 0, 0, 0, pad))
    c = (l + pad) // chunk

    # To [b, h, c, Q, ...]: heads and chunks become batch dimensions of the matrix products.
    x = x.view(b, c, chunk, h, p).permute(0, 3, 1, 2, 4)
    B = B.view(b, c, chunk, h, n).permute(0, 3, 1, 2, 4)
    C = C.view(b, c, chunk, h, n).permute(0, 3, 1, 2, 4)
    a = a.view(b, c, chunk, h).permute(0, 3, 1, 2)  # [b, h, c, Q]
    a_cum = torch.cumsum(a, dim=-1)  # decay from the chunk's start to each step (log)

    # 1. Within a chunk: y_i = sum_{j <= i} (C_i . B_j) * exp(a_{j+1} + ... + a_i) * x_j
    decay = torch.exp(segsum(a))  # [b, h, c, Q, Q]
    y = ((C @ B.transpose(-1, -2)) * decay) @ x  # [b, h, c, Q, p]

    # 2. The state each chunk leaves behind from its own inputs (stored as [n, p]).
    to_end = torch.exp(a_cum[..., -1:] - a_cum)  # [b, h, c, Q]
    states = (B * to_end[..., None]).transpose(-1, -2) @ x  # [b, h, c, n, p]

    # 3. The state entering each chunk: earlier chunks' states, decayed across the chunks between.
    chunk_decay = torch.exp(segsum(F.pad(a_cum[..., -1], (1, 0))))  # [b, h, c+1, c+1]
    states = torch.cat([torch.zeros_like(states[:, :, :1]), states], dim=2)  # [b, h, c+1, n, p]
    entering = torch.einsum("bhzs,bhsnp->bhznp", chunk_decay, states)[:, :, :-1]  # [b, h, c, n, p]

    # 4. Each step also reads the entering state, decayed from the chunk's start.
    y = y + (C @ entering) * torch.exp(a_cum)[..., None]  # [b, h, c, Q, p]
    return y.permute(0, 2, 3, 1, 4).reshape(b, c * chunk, h, p)[:, :l]


def ssd_sequential(x, a, B, C):
    """The same scan, one step at a time (the reference for tests). Shapes as in ssd_chunked."""
    b, l, h, p = x.shape
    n = B.shape[-1]
    S = x.new_zeros(b, h, p, n)
    ys = []
    for t in range(l):
        S = torch.exp(a[:, t])[..., None, None] * S + x[:, t, :, :, None] * B[:, t, :, None, :]
        ys.append(torch.einsum("bhpn,bhn->bhp", S, C[:, t]))
    return torch.stack(ys, dim=1)
