#!/usr/bin/python3
"""PyTorch reference for `pointpeft bench`: one configuration per process.

    /usr/bin/python3 tools/bench/reference.py --config peft-train-pb --batch 32 --steps 5 --threads 2

Runs the oracle models of tools/oracle (the authors' Point-MAE and PointTransformer_best,
plain-torch FPS/kNN) with Debian's torch 1.13 on random clouds, times --warmup untimed and
--steps timed steps, and prints one JSON line:
{"config", "samples_per_s", "step_seconds" (median), "peak_rss_mb" (ru_maxrss, MiB), ...}.
One process per configuration keeps each peak RSS its own.

A training step is forward, cross-entropy, backward and AdamW (weight decay 0.05 on the
authors' parameter groups). Point-PEFT's cp feature comes from the frozen pre-trained
Point-MAE in eval mode under no_grad (spec 9.2), inside the step, as in training.
The configuration names and shapes match bench.Configs() in the Go package.

--variant authors runs the Point-PEFT model as the authors' code does it, the baseline the
benchmark issue measured: the cp feature with its graph recorded (and back-propagated
through), and the propagation as a [B,G,G2,C] broadcast and sum (spec App. B.4-5).
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time
from dataclasses import replace

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "oracle"))

import pointmae as pm  # noqa: E402
import pointpeft_model as pp  # noqa: E402

# name -> (shape, kind, model); bank sizes are the training splits (PB_T50_RS, ModelNet40).
CONFIGS = {
    "peft-train-pb": ("pb", "train", "peft"),
    "full-train-pb": ("pb", "train", "mae"),
    "peft-infer-pb": ("pb", "infer", "peft"),
    "mae-infer-pb": ("pb", "infer", "mae"),
    "peft-train-mn40": ("mn40", "train", "peft"),
    "full-train-mn40": ("mn40", "train", "mae"),
    "bank-pb": ("pb", "bank", None),
}
BANK_SIZE = {"pb": 11392, "mn40": 9843}
LR = 5e-4


def peft_config(shape, mode):
    return pp.full_scan_config(mode) if shape == "pb" else pp.full_modelnet_config(mode)


def param_groups(model, weight_decay):
    """The authors' add_weight_decay: no decay for 1-D tensors, biases and tokens."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.dim() == 1 or name.endswith(".bias") or "token" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


def authors_propagate(self, xyz1, xyz2, points1, points2):
    """The released propagation: weights [B,N,S] broadcast against [B,S,C] and summed."""
    d2 = pm.sqdist_pairs(xyz1, xyz2)
    r = 1.0 / (d2 + 1e-8)
    w = r / r.sum(dim=2, keepdim=True)
    return points1 + self.cfg.pro_cof * (w.unsqueeze(-1) * points2.unsqueeze(1)).sum(2)


def build(name, batch, mode, gen, variant):
    """Returns the step function of one configuration."""
    if variant == "authors":
        pp.PointTransformer_best.propagate = authors_propagate
    shape, kind, which = CONFIGS[name]
    cfg = peft_config(shape, mode)
    base = cfg.base
    pts = torch.randn(batch, base.npoints, 3, generator=gen) * 0.5
    labels = torch.randint(0, base.cls_dim, (batch,), generator=gen)
    cp = pm.Point_MAE(replace(pm.full_pretrain_config(), npoints=base.npoints))
    cp.eval()

    def cp_feature():
        if variant == "authors":
            return cp(pts, eval=True)
        with torch.no_grad():
            return cp(pts, eval=True)

    if kind == "bank":
        return cp_feature
    if which == "peft":
        bank = torch.randn(base.trans_dim, BANK_SIZE[shape], generator=gen)
        bank = bank / bank.norm(dim=0, keepdim=True)
        model = pp.PointTransformer_best(cfg, bank)
        model.load_model_from_ckpt({"module." + k: v for k, v in cp.state_dict().items()})

        def forward():
            return model(pts, cp_feature())
    else:
        model = pm.PointTransformer(base)

        def forward():
            return model(pts)

    if kind == "infer":
        model.eval()

        def infer():
            with torch.no_grad():
                F.softmax(forward(), dim=-1)
        return infer
    if which == "peft":
        pp.apply_trainable_filter(model)
    model.train()
    opt = torch.optim.AdamW(param_groups(model, 0.05), lr=LR)

    params = [p for p in model.parameters() if p.requires_grad]

    def train():
        # The authors' runner's step, which finetune runs too: clip at norm 10, then AdamW.
        loss = F.cross_entropy(forward(), labels)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10, norm_type=2)
        opt.step()
    return train


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, choices=sorted(CONFIGS))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5, help="timed steps; the median is reported")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--mode", default="faithful", choices=("faithful", "fixed"), help="Point-PEFT mode")
    ap.add_argument("--variant", default="oracle", choices=("oracle", "authors"),
                    help="oracle: cp feature under no_grad, matrix-product propagation; authors: as released")
    a = ap.parse_args()
    if a.batch < 1 or a.steps < 1 or a.warmup < 0:
        ap.error("need --batch and --steps >= 1, --warmup >= 0")
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    step = build(a.config, a.batch, a.mode, torch.Generator().manual_seed(1), a.variant)
    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    # ru_maxrss is in KiB on Linux.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"config": a.config, "samples_per_s": a.batch / med, "step_seconds": med, "peak_rss_mb": rss,
                      "threads": torch.get_num_threads(), "torch": torch.__version__, "variant": a.variant}))


if __name__ == "__main__":
    main()
