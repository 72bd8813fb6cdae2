#!/usr/bin/python3
"""DAPT oracle: the authors' PointTransformer_DAPT in plain PyTorch (torch 1.13, CPU).

Written from github.com/LMD0311/DAPT (models/DAPT.py, tools/builder.py, HEAD 41aa0bc):
Dynamic Adapter (per-token ReLU scale), internal prompts (one per block, inserted
after cls), TFTS scale-and-shift pairs, and the cls/prompt/patch head. The grouping,
token encoder, positional MLP, GELU and DropPath are pointmae.py's (CUDA FPS/kNN
replaced by the pure-torch functions with the kernels' rules). Module names are the
authors', so state dicts load both ways.

    /usr/bin/python3 tools/oracle/dapt.py                    # counts + reduced fixtures
    /usr/bin/python3 tools/oracle/dapt.py --full --out DIR   # full-size outputs (outside the repo)

Fixtures (testdata/oracle/dapt_*): see testdata/oracle/README.md.
"""

import argparse
import copy
import json
import os
import sys
from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pointmae as pm  # noqa: E402
import make_fixtures as mf  # noqa: E402


@dataclass
class DAPTConfig:
    base: pm.MAEConfig
    rank: int = 64
    drop_adapter_rate: float = 0.2
    prompt_token: str = "mean"  # "mean", "max" or "None"


def scan_config():
    """finetune_scan_hardest_dapt.yaml"""
    return DAPTConfig(base=replace(pm.full_finetune_config(), drop_path_rate=0.3), rank=64, drop_adapter_rate=0.2,
                      prompt_token="mean")


def modelnet_config():
    """finetune_modelnet_dapt.yaml"""
    base = replace(pm.full_finetune_config(), drop_path_rate=0.1, cls_dim=40, num_group=64, npoints=1024)
    return DAPTConfig(base=base, rank=72, drop_adapter_rate=0.0, prompt_token="None")


def tfts_pair(dim):
    """init_tfts: gamma ~ N(1, 0.02), beta ~ N(0, 0.02)."""
    return nn.Parameter(torch.randn(dim) * 0.02 + 1), nn.Parameter(torch.randn(dim) * 0.02)


def tfts(x, gamma, beta):
    return x * gamma + beta


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = pm.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(0.0)
        self.tfts_gamma_1, self.tfts_beta_1 = tfts_pair(hidden)
        self.tfts_gamma_2, self.tfts_beta_2 = tfts_pair(dim)

    def forward(self, x):
        x = self.drop(self.act(tfts(self.fc1(x), self.tfts_gamma_1, self.tfts_beta_1)))
        return self.drop(tfts(self.fc2(x), self.tfts_gamma_2, self.tfts_beta_2))


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(0.0)
        self.tfts_gamma_1, self.tfts_beta_1 = tfts_pair(dim * 3)
        self.tfts_gamma_2, self.tfts_beta_2 = tfts_pair(dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = tfts(self.qkv(x), self.tfts_gamma_1, self.tfts_beta_1)
        qkv = qkv.reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = self.attn_drop(((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1))
        x = self.proj(((a @ v).transpose(1, 2).reshape(B, N, C)))
        return self.proj_drop(tfts(x, self.tfts_gamma_2, self.tfts_beta_2))


class Adapter(nn.Module):
    """The Dynamic Adapter (layer norm option "in", no residual, as the blocks use it)."""

    def __init__(self, d_model, bottleneck, dropout=0.0):
        super().__init__()
        self.dropout = dropout
        self.adapter_layer_norm_before = nn.LayerNorm(d_model)
        self.scale = nn.Linear(d_model, 1)
        self.down_proj = nn.Linear(d_model, bottleneck)
        self.non_linear_func = pm.GELU()
        self.up_proj = nn.Linear(bottleneck, d_model)
        with torch.no_grad():
            nn.init.kaiming_uniform_(self.down_proj.weight, a=5 ** 0.5)
            nn.init.zeros_(self.up_proj.weight)
            nn.init.zeros_(self.down_proj.bias)
            nn.init.zeros_(self.up_proj.bias)
            nn.init.kaiming_uniform_(self.scale.weight, a=5 ** 0.5)
            nn.init.zeros_(self.scale.bias)

    def forward(self, x):
        x = self.adapter_layer_norm_before(x)
        scale = F.relu(self.scale(x))
        down = F.dropout(self.non_linear_func(self.down_proj(x)), p=self.dropout, training=self.training)
        return self.up_proj(down) * scale


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, drop_path, rank, adapter_drop):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.attn = Attention(dim, num_heads)
        self.drop_path1 = pm.DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.drop_path2 = pm.DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.Adapter_MLP = Adapter(dim, rank, adapter_drop)
        self.non_linear_func = pm.GELU()
        self.tfts_gamma_1, self.tfts_beta_1 = tfts_pair(dim)
        self.tfts_gamma_2, self.tfts_beta_2 = tfts_pair(dim)
        self.tfts_gamma_3, self.tfts_beta_3 = tfts_pair(dim)

    def forward(self, x):
        x = x + self.drop_path1(self.attn(tfts(self.norm1(x), self.tfts_gamma_1, self.tfts_beta_1)))
        h = tfts(self.norm2(x), self.tfts_gamma_2, self.tfts_beta_2)
        ad = self.Adapter_MLP(h)
        x = x + self.drop_path2(self.mlp(h) + ad)
        p = tfts(self.non_linear_func(ad).mean(dim=1, keepdim=True), self.tfts_gamma_3, self.tfts_beta_3)
        return torch.cat([x[:, :1], p, x[:, 1:]], dim=1)


class TransformerEncoder(nn.Module):
    def __init__(self, cfg: DAPTConfig):
        super().__init__()
        b = cfg.base
        dpr = pm._dpr(b.drop_path_rate, b.depth)
        self.blocks = nn.ModuleList([Block(b.trans_dim, b.num_heads, b.mlp_ratio, dpr[i], cfg.rank,
                                           cfg.drop_adapter_rate) for i in range(b.depth)])

    def forward(self, x, trace=None):
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if trace is not None:
                trace[f"block.{i}"] = x
        return x


class PointTransformer_DAPT(nn.Module):
    def __init__(self, cfg: DAPTConfig):
        super().__init__()
        b = cfg.base
        C = b.trans_dim
        self.cfg = cfg
        self.num_group = b.num_group
        self.group_divider = pm.Group(b.num_group, b.group_size)
        self.encoder = pm.Encoder(C, b.enc_widths)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        self.cls_pos = nn.Parameter(torch.randn(1, 1, C))
        self.pos_embed = pm.make_pos_embed(b)
        self.blocks = TransformerEncoder(cfg)
        self.prompt_token = cfg.prompt_token
        channels = 2 if cfg.prompt_token == "None" else 3
        self.norm = nn.LayerNorm(C)
        h = b.head_hidden
        self.cls_head_finetune = nn.Sequential(
            nn.Linear(C * channels, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True), nn.Dropout(b.head_dropout),
            nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True), nn.Dropout(b.head_dropout),
            nn.Linear(h, b.cls_dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.cls_pos, std=0.02)
        self.tfts_gamma_1, self.tfts_beta_1 = tfts_pair(C)
        self.tfts_gamma_2, self.tfts_beta_2 = tfts_pair(C)

    def forward(self, pts, trace=None):
        nb, center, _, _ = self.group_divider(pts)
        tok = tfts(self.encoder(nb), self.tfts_gamma_1, self.tfts_beta_1)
        B = tok.shape[0]
        x = torch.cat([self.cls_token.expand(B, -1, -1), tok], dim=1)
        pos = torch.cat([self.cls_pos.expand(B, -1, -1), self.pos_embed(center)], dim=1)
        x = self.blocks(x + pos, trace)  # positions once, not before every block
        x = tfts(self.norm(x), self.tfts_gamma_2, self.tfts_beta_2)
        parts = [x[:, 0]]
        prompts = x[:, 1:-self.num_group]
        if self.prompt_token == "max":
            parts.append(prompts.max(dim=1)[0])
        elif self.prompt_token == "mean":
            parts.append(prompts.mean(dim=1))
        parts.append(x[:, -self.num_group:].max(dim=1)[0])
        f = torch.cat(parts, dim=-1)
        logits = self.cls_head_finetune(f)
        if trace is not None:
            cidx, kidx = self.group_divider.last_local
            trace.update({"center_idx": cidx, "knn_idx": kidx, "tokens": tok, "features": f, "logits": logits})
        return logits


def is_trainable(name):
    """tools/builder.py, optimizer part 'dapt' (names of model.module, no 'module.')."""
    return "cls" in name or "tfts" in name or "Adapter" in name


def apply_trainable_filter(model):
    for n, p in model.named_parameters():
        p.requires_grad_(is_trainable(n))


def disable_stochasticity(model):
    pm.disable_stochasticity(model)
    for m in model.modules():
        if isinstance(m, Adapter):
            m.dropout = 0.0


def counts(model):
    return (sum(p.numel() for n, p in model.named_parameters() if is_trainable(n)),
            sum(p.numel() for p in model.parameters()))


def check_counts():
    for name, cfg, want in (("PB_T50_RS", scan_config(), (1087771, 22912795)),
                            ("ModelNet40", modelnet_config(), (1069716, 22894740))):
        got = counts(PointTransformer_DAPT(cfg))
        print(f"{name}: trainable {got[0]:,} of {got[1]:,}")
        assert got == want, (name, got, want)


# ----------------------------------------------------------------------------
# fixtures

SEED = 20240303
BASE = replace(mf.BACKBONE, depth=2, drop_path_rate=0.3)
VARIANTS = {"mean": DAPTConfig(base=BASE, rank=8, drop_adapter_rate=0.2, prompt_token="mean"),
            "none": DAPTConfig(base=BASE, rank=8, drop_adapter_rate=0.0, prompt_token="None")}


def build(cfg, seed):
    """The model with the authors' init, then every parameter and BN statistic
    randomised (a model in mid-training: non-zero up_proj, scales away from 1).
    The fixtures use SEED + 12 and then centre_scales: their float32 gradients are
    within 5e-5 of float64 (SEED + 1: 1.1e-3, where a one-element scale.bias gradient is
    a sum with heavy cancellation), so the Go test's 1e-3 tolerance measures logic,
    not rounding."""
    torch.manual_seed(seed)
    m = PointTransformer_DAPT(cfg)
    gen = torch.Generator().manual_seed(seed)
    mf.randomize(m, gen)
    with torch.no_grad():  # TFTS: scales near 1 (randomize draws N(0, 0.5) for loose tensors)
        for n, p in m.named_parameters():
            if "tfts_gamma" in n:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2 + 1)
            elif "tfts_beta" in n:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return m


@torch.no_grad()
def centre_scales(model, pts, quantile=0.4):
    """Shifts each block's scale bias, first block first, so that its dynamic scale is
    positive on about 1 - quantile of the tokens of pts. Random weights otherwise leave
    whole blocks with no active token at full size (their adapters then get no
    gradient), or with every token active (the ReLU then goes untested)."""
    was = model.training
    model.eval()
    for blk in model.blocks.blocks:
        ad = blk.Adapter_MLP
        got = []
        h = ad.register_forward_hook(lambda mod, inp, out: got.append(mod.scale(mod.adapter_layer_norm_before(inp[0]))))
        model(pts)
        h.remove()
        ad.scale.bias -= torch.quantile(got[0].flatten(), quantile)
    model.train(was)


def check_activity(model, pts, lo=0.1, hi=0.95):
    """Asserts that every block's dynamic scale is positive on between lo and hi of the
    tokens: a block whose scales are all 0 passes no gradient to its adapter, and a
    fixture with one would test nothing there."""
    frac, hooks = [], []
    for blk in model.blocks.blocks:
        def hook(mod, inp, out):
            frac.append((mod.scale(mod.adapter_layer_norm_before(inp[0])) > 0).float().mean().item())
        hooks.append(blk.Adapter_MLP.register_forward_hook(hook))
    was = model.training
    model.eval()
    with torch.no_grad():
        model(pts)
    model.train(was)
    for h in hooks:
        h.remove()
    assert all(lo < f < hi for f in frac), f"dynamic scales active on {frac} of the tokens"
    return frac


def run(model, pts, labels, dtype=torch.float32):
    """Eval forward, then a train-mode forward+backward of the trainable set with every
    dropout and drop path at 0. Returns (eval trace, train logits, loss, grads, buffers,
    trainable names without a gradient)."""
    m = copy.deepcopy(model).to(dtype)
    pts = pts.to(dtype)
    m.eval()
    ev = {}
    with torch.no_grad():
        m(pts, trace=ev)
    m.train()
    disable_stochasticity(m)
    apply_trainable_filter(m)
    logits = m(pts)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    grads, none = mf.trainable_grads(m)
    return ev, logits.detach(), loss.detach(), grads, mf.bn_buffers(m), none


def fixtures():
    gen = torch.Generator().manual_seed(SEED)
    pts = mf.make_points(gen)
    labels = torch.randint(0, BASE.cls_dim, (mf.BATCH,), generator=gen)
    for tag, cfg in VARIANTS.items():
        m = build(cfg, SEED + 12)
        centre_scales(m, pts)
        active = check_activity(m, pts)
        ev, lg, ls, grads, bn, none = run(m, pts, labels)
        t = {"points": pts, "labels": labels}
        t.update({"eval." + k: v.detach() for k, v in ev.items()})
        t.update({"train.logits": lg, "train.loss": ls.reshape(1)})
        t.update({"grad." + k: v for k, v in grads.items()})
        t.update({"bn_after." + k: v for k, v in bn.items()})
        meta = {"config": json.dumps(BASE.__dict__), "rank": cfg.rank, "drop_adapter_rate": cfg.drop_adapter_rate,
                "prompt_token": cfg.prompt_token, "seed": SEED, "grad_none": json.dumps(none),
                "param_order": json.dumps([n for n, _ in m.named_parameters()])}
        mf.write_safetensors(os.path.join(mf.OUT, f"dapt_{tag}.safetensors"), t, meta)
        torch.save({"base_model": m.state_dict()}, os.path.join(mf.OUT, f"dapt_{tag}.pth"))
        # float32 vs float64: how far two correct float32 implementations may drift
        e64, lg64, ls64, g64, _, _ = run(m, pts, labels, torch.float64)
        scale = max(v.abs().max().item() for v in g64.values())
        grel = max(mf.rel(grads[k], g64[k]) for k in g64 if g64[k].abs().max().item() >= 1e-5 * scale)
        print(f"{tag}: eval logits f32/f64 {mf.rel(ev['logits'], e64['logits']):.1e}, train logits "
              f"{mf.rel(lg, lg64):.1e}, loss {mf.rel(ls, ls64):.1e}, gradients max {grel:.1e}; "
              f"no gradient: {none}; scales active on {[round(f, 2) for f in active]}")
    for f in sorted(os.listdir(mf.OUT)):
        if f.startswith("dapt_"):
            print(f"  {f:28s} {os.path.getsize(os.path.join(mf.OUT, f)):8d} bytes")


def full(out, batch):
    """Full-size PB_T50_RS model, every parameter and BN statistic randomised as in
    the fixtures (a model in mid-training), scales centred (centre_scales); writes
    dapt.pth and full_dapt.safetensors to out and prints the float32-vs-float64
    difference. Batch 4: at batch 2 the train-mode head BatchNorm over two samples
    makes float32 gradients differ from float64 by 2.6e-3 (median)."""
    os.makedirs(out, exist_ok=True)
    cfg = scan_config()
    gen = torch.Generator().manual_seed(SEED)
    pts = torch.randn(batch, cfg.base.npoints, 3, generator=gen) * 0.5
    labels = torch.randint(0, cfg.base.cls_dim, (batch,), generator=gen)
    m = build(cfg, SEED + 4)
    centre_scales(m, pts)
    print("scales active on", [round(f, 2) for f in check_activity(m, pts)])
    ev, lg, ls, grads, _, none = run(m, pts, labels)
    t = {"points": pts, "labels": labels, "eval.logits": ev["logits"], "train.logits": lg, "train.loss": ls.reshape(1)}
    t.update({"grad." + k: v for k, v in grads.items()})
    mf.write_safetensors(os.path.join(out, "full_dapt.safetensors"), t, {"grad_none": json.dumps(none)})
    torch.save({"base_model": m.state_dict()}, os.path.join(out, "dapt.pth"))
    print("wrote", out)
    _, lg64, _, g64, _, _ = run(m, pts, labels, torch.float64)
    scale = max(v.abs().max().item() for v in g64.values())
    rels = sorted(mf.rel(grads[k], g64[k]) for k in g64 if g64[k].abs().max().item() >= 1e-5 * scale)
    print(f"float32 vs float64: train logits {mf.rel(lg, lg64):.1e}, gradients max {rels[-1]:.1e}, "
          f"median {rels[len(rels) // 2]:.1e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--batch", type=int, default=4)
    a = ap.parse_args()
    check_counts()
    if a.full:
        full(a.out or "/tmp/dapt_full", a.batch)
        return
    fixtures()


if __name__ == "__main__":
    main()
