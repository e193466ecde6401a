"""Tests of the PyTorch side (run where torch is installed: `python3 -m pytest training -q`).

The chunked scan and the whole mixer are checked against plain step-by-step recurrences on seeded
random data at awkward sizes; the model against the bimamba-tiny reference fixture (outputs of HF
transformers), found at ../shared relative to the project root.
"""

import json
import math
import os

import pytest
import torch
import torch.nn.functional as F

from binary import BinaryLinear, ptb_binarize, sign_ste
from checkpoint import export_official, load_official
from evaluate import perplexity
from model import MambaLM, ModelConfig, ptb_model
from ssd import ssd_chunked, ssd_sequential

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "..", "shared", "fixtures", "bimamba-tiny")


def random_scan_inputs(b, l, h, p, n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, l, h, p, generator=g, dtype=torch.float64)
    a = -torch.rand(b, l, h, generator=g, dtype=torch.float64) * 0.7  # decays in (0.5, 1]
    B = torch.randn(b, l, h, n, generator=g, dtype=torch.float64)
    C = torch.randn(b, l, h, n, generator=g, dtype=torch.float64)
    return x, a, B, C


@pytest.mark.parametrize("l,chunk", [(1, 4), (45, 16), (100, 16), (37, 64), (130, 32)])
def test_chunked_scan_equals_the_recurrence(l, chunk):
    x, a, B, C = random_scan_inputs(2, l, 3, 5, 7, seed=l)
    expected = ssd_sequential(x, a, B, C)
    got = ssd_chunked(x, a, B, C, chunk)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)


def test_chunked_scan_survives_strong_decay():
    x, a, B, C = random_scan_inputs(1, 300, 2, 3, 4, seed=7)
    a = a * 40  # exp(a) down to 1e-12: long products underflow, nothing may turn into nan
    got = ssd_chunked(x.float(), a.float(), B.float(), C.float(), 64)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got.double(), ssd_sequential(x, a, B, C), rtol=1e-4, atol=1e-4)


def test_sign_ste_forward_and_clipped_identity_backward():
    w = torch.tensor([-2.0, -1.0, -0.3, 0.0, 0.4, 1.0, 1.5], requires_grad=True)
    s = sign_ste(w)
    assert s.tolist() == [-1, -1, -1, 1, 1, 1, 1]  # sign(0) = +1, as the runtime packs it
    upstream = torch.arange(1.0, 8.0)
    s.backward(upstream)
    assert w.grad.tolist() == [0, 2, 3, 4, 5, 6, 0]  # flat where |w| > 1


def test_binary_linear_init_and_forward():
    torch.manual_seed(3)
    lin = BinaryLinear(13, 7)
    W = lin.weight.detach()
    for j in range(13):  # column-wise statistics, written out
        col = [W[i, j].item() for i in range(7)]
        mu = sum(col) / 7
        assert lin.wbias[0, j].item() == pytest.approx(mu, abs=1e-6)
        assert lin.wscale[0, j].item() == pytest.approx(sum(abs(c - mu) for c in col) / 7, abs=1e-6)
    with torch.no_grad():
        lin.weight[2, 5] = 0.0
        lin.wscale.uniform_(0.5, 1.5)
        lin.wbias.normal_()
    x = torch.randn(3, 13)
    y = lin(x)
    for t in range(3):
        for i in range(7):
            ref = 0.0
            for j in range(13):
                s = 1.0 if lin.weight[i, j] >= 0 else -1.0
                ref += (lin.wscale[0, j].item() * s + lin.wbias[0, j].item()) * x[t, j].item()
            assert y[t, i].item() == pytest.approx(ref, rel=1e-5, abs=1e-5)


def test_ptb_binarization_is_column_wise():
    g = torch.Generator().manual_seed(11)
    W = torch.randn(9, 6, generator=g) + torch.linspace(-1, 1, 6)  # columns with different means
    latent, wscale, wbias = ptb_binarize(W)
    for j in range(6):
        mu = W[:, j].mean().item()
        assert wbias[0, j].item() == pytest.approx(mu, abs=1e-6)
        assert wscale[0, j].item() == pytest.approx((W[:, j] - mu).abs().mean().item(), abs=1e-6)
        for i in range(9):
            assert (latent[i, j] >= 0) == (W[i, j] >= mu)


# ------------------------------------------------------------------------------------------------
# The whole mixer against a token-by-token recurrence written from the Mamba-2 equations.


def mixer_step_reference(mixer, u):
    """u [l, d_model] float64 -> [l, d_model], one token at a time with explicit conv and SSM state."""
    cfg = mixer.cfg
    H, P, G, N, W = cfg.nheads, cfg.headdim, cfg.ngroups, cfg.d_state, cfg.d_conv
    di = cfg.d_inner
    if isinstance(mixer.in_proj, BinaryLinear):
        w_in = mixer.in_proj.binarized_weight().double()
        w_out = mixer.out_proj.binarized_weight().double()
    else:
        w_in, w_out = mixer.in_proj.weight.double(), mixer.out_proj.weight.double()
    conv_w = mixer.conv1d.weight.double()[:, 0, :]  # [C, W]
    conv_b = mixer.conv1d.bias.double()
    A = -torch.exp(mixer.A_log.double())
    conv_state = torch.zeros(mixer.conv_dim, W, dtype=torch.float64)  # oldest input first
    ssm = torch.zeros(H, P, N, dtype=torch.float64)
    out = []
    for t in range(u.shape[0]):
        zxbcdt = w_in @ u[t]
        z, xBC, dt = zxbcdt[:di], zxbcdt[di : di + mixer.conv_dim], zxbcdt[di + mixer.conv_dim :]
        conv_state = torch.cat([conv_state[:, 1:], xBC[:, None]], dim=1)
        xBC = F.silu((conv_state * conv_w).sum(1) + conv_b)
        x, B, C = xBC[:di], xBC[di : di + G * N], xBC[di + G * N :]
        dt = F.softplus(dt + mixer.dt_bias.double())
        y = torch.zeros(di, dtype=torch.float64)
        for h in range(H):
            g = h // (H // G)
            xh, Bg, Cg = x[h * P : (h + 1) * P], B[g * N : (g + 1) * N], C[g * N : (g + 1) * N]
            ssm[h] = torch.exp(dt[h] * A[h]) * ssm[h] + dt[h] * torch.outer(xh, Bg)
            y[h * P : (h + 1) * P] = ssm[h] @ Cg + mixer.D[h].double() * xh
        gated = y * F.silu(z)
        group = di // G
        for g in range(G):
            part = gated[g * group : (g + 1) * group]
            gated[g * group : (g + 1) * group] = part / torch.sqrt(part.pow(2).mean() + 1e-5)
        out.append(w_out @ (gated * mixer.norm.weight.double()))
    return torch.stack(out)


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("ngroups", [1, 3])
def test_mixer_equals_the_step_recurrence(binary, ngroups):
    torch.manual_seed(5 + ngroups)
    # d_inner 48 = 6 heads of 8; d_state 5; 37 tokens over chunks of 16
    cfg = ModelConfig(vocab_size=50, d_model=24, n_layer=1, d_state=5, headdim=8, expand=2,
                      ngroups=ngroups, chunk_size=16, binary=binary)
    mixer = MambaLM(cfg).backbone.layers[0].mixer
    with torch.no_grad():  # move every parameter off its neat initial value
        for p in mixer.parameters():
            p.add_(0.1 * torch.randn_like(p))
        if binary:
            mixer.in_proj.weight[0, :3] = 0.0  # exact zeros count as +1
    mixer.double()
    u = torch.randn(1, 37, cfg.d_model, dtype=torch.float64)
    with torch.no_grad():
        got = mixer(u)[0]
        expected = mixer_step_reference(mixer, u[0])
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-8)


# ------------------------------------------------------------------------------------------------
# Export and the reference fixture.


def test_export_round_trip_and_layout(tmp_path):
    torch.manual_seed(9)
    cfg = ModelConfig(vocab_size=1000, d_model=64, n_layer=2, d_state=32, headdim=32, binary=True)
    model = MambaLM(cfg).eval()
    tok = tmp_path / "tokenizer.json"
    tok.write_text("{}")
    export_official(model, tmp_path / "out", tok, signs_only=True)
    state = torch.load(tmp_path / "out" / "pytorch_model.bin", weights_only=True)
    assert state["lm_head.weight"].data_ptr() == state["backbone.embedding.weight"].data_ptr()
    latent = state["backbone.layers.1.mixer.in_proj.weight"]
    assert set(latent.unique().tolist()) == {-1.0, 1.0}
    assert state["backbone.layers.0.mixer.out_proj.wscale"].shape == (1, 128)
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["ssm_cfg"]["layer"] == "Mamba2" and config["pad_vocab_size_multiple"] == 16

    back = load_official(tmp_path / "out").eval()
    ids = torch.randint(0, 1000, (2, 29))
    with torch.no_grad():
        torch.testing.assert_close(back(ids), model(ids), rtol=1e-5, atol=1e-5)

    if os.path.isdir(FIXTURE):  # the same names and shapes as the official release's layout
        ref = torch.load(os.path.join(FIXTURE, "checkpoint", "pytorch_model.bin"), weights_only=True)
        assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in ref.items()}


def test_ptb_model_keeps_everything_but_the_projections():
    torch.manual_seed(4)
    teacher = MambaLM(ModelConfig(vocab_size=100, d_model=32, n_layer=2, d_state=8, headdim=16)).eval()
    ptb = ptb_model(teacher)
    t, p = teacher.state_dict(), ptb.state_dict()
    for name, value in t.items():
        if "in_proj" in name or "out_proj" in name:
            mu = value.mean(0, keepdim=True)
            w_hat = ptb.get_submodule(name[: -len(".weight")]).binarized_weight()
            assert torch.equal(torch.sign(w_hat - mu) >= 0, value - mu >= 0)
        else:
            assert torch.equal(value, p[name])


@pytest.mark.skipif(not os.path.isdir(FIXTURE), reason="reference fixtures not found at ../shared")
def test_matches_the_bimamba_tiny_reference():
    from safetensors.torch import load_file

    model = load_official(os.path.join(FIXTURE, "checkpoint")).eval()
    expected = load_file(os.path.join(FIXTURE, "expected.safetensors"))
    torch.backends.cuda.matmul.allow_tf32 = False
    with torch.no_grad():
        logits = model(expected["input_ids"][None])[0, :, :1000]
    torch.testing.assert_close(logits, expected["logits"], rtol=1e-4, atol=1e-4)
    ids = expected["greedy_prompt"].tolist()
    with torch.no_grad():
        for _ in range(20):
            ids.append(int(model(torch.tensor([ids]))[0, -1, :1000].argmax()))
    assert ids[8:] == expected["greedy_tokens"].tolist()


def test_perplexity_windows_restart_and_count():
    torch.manual_seed(2)
    model = MambaLM(ModelConfig(vocab_size=60, d_model=16, n_layer=1, d_state=4, headdim=8)).eval()
    ids = torch.randint(0, 60, (23,)).tolist()
    ppl, count = perplexity(model, ids, 7, 60, torch.device("cpu"))
    assert count == 6 + 6 + 6 + 1  # windows of 7, 7, 7, 2; each first token is context only
    nll = 0.0
    for start in range(0, 23, 7):
        w = ids[start : start + 7]
        with torch.no_grad():
            logp = F.log_softmax(model(torch.tensor([w]))[0, :, :60], -1)
        nll -= sum(logp[t, w[t + 1]].item() for t in range(len(w) - 1))
    assert ppl == pytest.approx(math.exp(nll / count), rel=1e-6)
