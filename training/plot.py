"""Validation loss against training tokens for the four trained models (and PTB of the FP baseline,
where the run evaluated it), as an SVG (standard library only).

  python3 training/plot.py training/results.json training/validation-loss.svg
"""

import json
import math
import sys

SERIES = [("teacher", "teacher (full precision, large)", "#1f77b4"),
          ("fp", "FP baseline (full precision, student's shape)", "#2ca02c"),
          ("bimamba-kd", "Bi-Mamba, distilled", "#d62728"),
          ("bimamba-ce", "Bi-Mamba, cross-entropy", "#ff7f0e")]
PTB_SERIES = ("bimamba-ptb", "PTB of the FP baseline at that point (dashed; no training of its own)", "#7f7f7f")
W, H = 720, 456
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 40, 136


def nice_ticks(lo, hi, n=6):
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if (hi - lo) / (step * m) <= n)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def main():
    results_path, out_path = sys.argv[1], sys.argv[2]
    with open(results_path) as f:
        models = json.load(f)["models"]
    curves = {name: [(h["tokens"], h["val_loss"]) for h in models[name]["history"] if h["tokens"] > 0]
              for name, _, _ in SERIES}
    # PTB of the FP baseline at each evaluation, where the run recorded it (dashed).
    ptb = [(h["tokens"], h["ptb_val_loss"]) for h in models["fp"]["history"] if h["tokens"] > 0 and "ptb_val_loss" in h]
    if ptb:
        curves["bimamba-ptb"] = ptb
    xs = [x for c in curves.values() for x, _ in c]
    ys = [y for c in curves.values() for _, y in c]
    x_hi = max(xs)
    y_lo = min(ys) - 0.05
    y_hi = min(max(ys), y_lo + 3.0)  # the first evaluations are far above; the plot keeps the interesting part
    px = lambda x: LEFT + (W - LEFT - RIGHT) * x / x_hi
    py = lambda y: TOP + (H - TOP - BOTTOM) * (y_hi - min(y, y_hi)) / (y_hi - y_lo)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">Validation loss (nats/token) against training tokens</text>']
    for t in nice_ticks(0, x_hi):
        out.append(f'<line x1="{px(t):.1f}" y1="{TOP}" x2="{px(t):.1f}" y2="{H - BOTTOM}" stroke="#ddd"/>')
        out.append(f'<text x="{px(t):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{t / 1e6:g}M</text>')
    for t in nice_ticks(y_lo, y_hi):
        out.append(f'<line x1="{LEFT}" y1="{py(t):.1f}" x2="{W - RIGHT}" y2="{py(t):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - TOP - BOTTOM}" fill="none" stroke="#444"/>')
    out.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - BOTTOM + 34}" text-anchor="middle">training tokens</text>')
    series = SERIES + ([PTB_SERIES] if ptb else [])
    for i, (name, label, color) in enumerate(series):
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in curves[name])
        dash = ' stroke-dasharray="6 4"' if name == "bimamba-ptb" else ""
        out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        best = models[name]["heldout_ppl"]
        y = H - BOTTOM + 56 + 16 * i
        out.append(f'<line x1="{LEFT}" y1="{y - 4}" x2="{LEFT + 24}" y2="{y - 4}" stroke="{color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{LEFT + 30}" y="{y}">{label}: held-out ppl {best:.2f}</text>')
    out.append("</svg>")
    with open(out_path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
