#!/usr/bin/python3
"""PointLoRA (Wang et al., CVPR 2025) on Point-MAE: plain PyTorch oracle for peft/pointlora.

Re-implements, from a reading of github.com/songw-zju/PointLoRA (HEAD 82719f0:
models/PointLoRA.py ``PointTransformer_PointLoRA``, utils/lora.py ``LoRALinear``,
tools/runner_finetune_pointlora.py ``inject_pointlora2pt`` and the training loss,
tools/builder.py optimizer part ``pointlora``), the fine-tuning model after the LoRA
injection, with the authors' module names so that state-dict keys match theirs.  FPS and
kNN are pointmae.py's CPU versions of the CUDA kernels (pointnet2_ops, KNN_CUDA).

Two modes, differing in one place only (TransformerEncoder.forward):
``faithful``  the point-token prompt MLP covers tokens 1..prompt_tokens (the released
              code hard-codes 128), so with fewer point tokens it reaches the selected
              tokens too;
``fixed``     it covers the num_group point tokens.

    /usr/bin/python3 tools/oracle/pointlora.py            # counts (asserted) + fixtures
    /usr/bin/python3 tools/oracle/pointlora.py --full --out DIR [--batch 4]

The fixtures go to testdata/oracle/pointlora*.  ``--full`` writes the full-size
PB_T50_RS comparison (full_pointlora.pth, full_pointlora_<mode>.safetensors) to DIR for
peft/pointlora's opt-in test (POINTLORA_ORACLE_FULL=DIR).
"""

import argparse
import json
import os
import sys
from dataclasses import dataclass, field, replace
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pointmae as pm  # noqa: E402
import make_fixtures as mf  # noqa: E402

SEED = 20250611


@dataclass
class PLConfig:
    base: pm.MAEConfig = field(default_factory=lambda: replace(pm.full_finetune_config(), drop_path_rate=0.3))
    rank: int = 8  # gamma
    alpha: float = 8.0  # lora_alpha; the released forward never applies alpha/rank
    prompt_hidden: int = 32
    scales: Tuple[Tuple[int, int, int], ...] = ((128, 32, 32), (64, 64, 8))  # (groups, group size, keep)
    scale_loss_weights: Tuple[float, float] = (1.0, 0.25)
    mask_loss_weight: float = 0.004
    prompt_tokens: int = 128  # TransformerEncoder.num_gruop, hard-coded
    mode: str = "faithful"


def full_scan_config(mode="faithful"):
    return PLConfig(mode=mode)


def full_modelnet_config(mode="faithful"):
    base = replace(pm.full_finetune_config(), cls_dim=40, num_group=64, group_size=32, npoints=1024)
    return PLConfig(base=base, mode=mode)


class LoRALinear(nn.Module):
    """utils/lora.py LoRALinear: linear(x) + x A^T B^T + weight * prompt_mlp(x)."""

    def __init__(self, r, lora_alpha, linear):
        super().__init__()
        self.r, self.lora_alpha = r, lora_alpha
        self.linear = linear
        self.lora_A = nn.Parameter(linear.weight.new_zeros((r, linear.in_features)))
        self.lora_B = nn.Parameter(linear.weight.new_zeros((linear.out_features, r)))
        self.weight = nn.Parameter(torch.tensor([1.0]))
        nn.init.kaiming_uniform_(self.lora_A, a=5 ** 0.5)

    def forward(self, x, prompt_mlp):
        result = F.linear(x, self.linear.weight, bias=self.linear.bias)
        out = x @ self.lora_A.T @ self.lora_B.T
        out = out + self.weight * prompt_mlp(x)
        return result + out


class Attention(nn.Module):
    def __init__(self, dim, num_heads, r, alpha):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = LoRALinear(r, alpha, nn.Linear(dim, dim * 3, bias=False))
        self.proj = LoRALinear(r, alpha, nn.Linear(dim, dim))

    def forward(self, x, prompt_proj, prompt_qkv):
        B, N, C = x.shape
        qkv = self.qkv(x, prompt_qkv).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        x = (a @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x, prompt_proj)


class Block(nn.Module):
    """Registration order as the authors': norm1, drop_path, norm2, mlp, attn."""

    def __init__(self, dim, num_heads, mlp_ratio, drop_path, r, alpha):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.drop_path = pm.DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = pm.Mlp(dim, int(dim * mlp_ratio))
        self.attn = Attention(dim, num_heads, r, alpha)

    def forward(self, x, prompt_proj, prompt_qkv):
        x = x + self.drop_path(self.attn(self.norm1(x), prompt_proj, prompt_qkv))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def prompt_mlp(dim, hidden, out):
    m = nn.Sequential(nn.Linear(dim, hidden), pm.GELU(), nn.Linear(hidden, out))
    for lin in (m[0], m[2]):
        nn.init.trunc_normal_(lin.weight, std=0.02)
        nn.init.zeros_(lin.bias)
    return m


class TransformerEncoder(nn.Module):
    def __init__(self, cfg: PLConfig):
        super().__init__()
        b = cfg.base
        C = b.trans_dim
        dpr = [v.item() for v in torch.linspace(0, b.drop_path_rate, b.depth)]
        self.blocks = nn.ModuleList([Block(C, b.num_heads, b.mlp_ratio, dpr[i], cfg.rank, cfg.alpha)
                                     for i in range(b.depth)])
        self.prompt_mlp = prompt_mlp(C, cfg.prompt_hidden, C)
        self.prompt_pos_mlp = prompt_mlp(C, cfg.prompt_hidden, C)
        self.prompt_proj_mlp = prompt_mlp(C, cfg.prompt_hidden, C)
        self.prompt_qkv_mlp = prompt_mlp(C, cfg.prompt_hidden, 3 * C)
        self.num_gruop = cfg.prompt_tokens if cfg.mode == "faithful" else b.num_group
        self.num_gruop_center = sum(s[2] for s in cfg.scales)

    def forward(self, x, pos):
        S, K = self.num_gruop, self.num_gruop_center
        for block in self.blocks:
            x = x + pos
            # the released slice assignments, in place, in this order
            x[:, 1:S + 1] = x[:, 1:S + 1] + self.prompt_mlp(x[:, 1:S + 1])
            x[:, -K:] = x[:, -K:] + self.prompt_pos_mlp(x[:, -K:])
            x = block(x, self.prompt_proj_mlp, self.prompt_qkv_mlp)
        return x


class MaskPredictor(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim // 2)
        self.fc2 = nn.Linear(dim // 2, 1)

    def forward(self, tokens):
        return torch.sigmoid(self.fc2(F.relu(self.fc1(tokens))).squeeze(-1))


def neg_entropy(p):
    return torch.mean(p * torch.log(p + 1e-6) + (1 - p) * torch.log(1 - p + 1e-6))


class PointTransformer_PointLoRA(nn.Module):
    def __init__(self, cfg: PLConfig):
        super().__init__()
        assert cfg.alpha == cfg.rank, "the released forward ignores alpha/rank; keep them equal"
        self.cfg = cfg
        b = cfg.base
        C = b.trans_dim
        self.group_divider = pm.Group(b.num_group, b.group_size)
        self.center_divider1 = pm.Group(cfg.scales[0][0], cfg.scales[0][1])
        self.center_divider2 = pm.Group(cfg.scales[1][0], cfg.scales[1][1])
        self.encoder = pm.Encoder(C, b.enc_widths)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        self.cls_pos = nn.Parameter(torch.randn(1, 1, C))
        self.lora_mask_predictor = MaskPredictor(C)
        self.pos_embed = pm.make_pos_embed(b)
        self.blocks = TransformerEncoder(cfg)
        self.norm = nn.LayerNorm(C)
        self.cls_head_finetune = pm.make_cls_head(b)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.cls_pos, std=0.02)

    def forward(self, pts, trace=None):
        nb, center, _, _ = self.group_divider(pts)
        nb1, c1, _, _ = self.center_divider1(pts)
        nb2, c2, _, _ = self.center_divider2(pts)
        tok = self.encoder(nb)
        tok1 = self.encoder(nb1)
        tok2 = self.encoder(nb2)
        B = tok.shape[0]
        pos, pos1, pos2 = self.pos_embed(center), self.pos_embed(c1), self.pos_embed(c2)
        p1, p2 = self.lora_mask_predictor(tok1), self.lora_mask_predictor(tok2)
        w1, w2 = self.cfg.scale_loss_weights
        mask_loss = w1 * neg_entropy(p1) + w2 * neg_entropy(p2)
        xs, ps, sel = [tok], [pos], []
        for p, t, q, (_, _, k) in ((p1, tok1, pos1, self.cfg.scales[0]), (p2, tok2, pos2, self.cfg.scales[1])):
            _, top = torch.topk(p, k, dim=1)
            bi = torch.arange(B).unsqueeze(1).expand(-1, k)
            xs.append(t[bi, top])
            ps.append(q[bi, top])
            sel.append(top)
        x = torch.cat([self.cls_token.expand(B, -1, -1)] + xs, dim=1)
        posf = torch.cat([self.cls_pos.expand(B, -1, -1)] + ps, dim=1)
        x = self.norm(self.blocks(x, posf))
        logits = self.cls_head_finetune(torch.cat([x[:, 0], x[:, 1:].max(1)[0]], dim=-1))
        if trace is not None:
            trace.update({"mask_prob1": p1, "mask_prob2": p2, "selected1": sel[0], "selected2": sel[1],
                          "tokens": tok, "norm": x, "logits": logits, "mask_loss": mask_loss})
        return logits, mask_loss


TRAINABLE = ("cls", "prompt", "first_conv", "pos_embed", "lora_")


def is_trainable(name):
    return any(s in name for s in TRAINABLE)


def apply_trainable_filter(model):
    for n, p in model.named_parameters():
        p.requires_grad_(is_trainable(n))


def param_counts(model):
    return (sum(p.numel() for n, p in model.named_parameters() if is_trainable(n)),
            sum(p.numel() for p in model.parameters()))


def check_counts():
    for cfg, want in ((full_scan_config(), (772_752, 22_513_960)), (full_modelnet_config(), (779_177, 22_520_385))):
        got = param_counts(PointTransformer_PointLoRA(cfg))
        print(f"PointLoRA {cfg.base.cls_dim} classes, {cfg.base.num_group}x{cfg.base.group_size}: "
              f"trainable {got[0]:,} of {got[1]:,}")
        assert got == want, (got, want)


# ----------------------------------------------------------------------------
# fixtures

BASE = pm.MAEConfig(trans_dim=36, depth=2, num_heads=6, drop_path_rate=0.3, num_group=16, group_size=8, cls_dim=5,
                    npoints=256, enc_widths=(16, 32, 64), pos_hidden=32, head_hidden=32)


def small_config(mode):
    # prompt_tokens 24 > 16 point tokens: faithful mode shows the ModelNet40 overlap
    return PLConfig(base=BASE, rank=4, alpha=4.0, prompt_hidden=8, scales=((16, 8, 4), (8, 16, 2)),
                    prompt_tokens=24, mode=mode)


def randomize(model, gen):
    """mf.randomize for the layers, then LoRA matrices and gates at useful scales."""
    mf.randomize(model, gen)
    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, LoRALinear):
                mod.lora_A.copy_(torch.randn(mod.lora_A.shape, generator=gen) * mod.lora_A.shape[1] ** -0.5)
                mod.lora_B.copy_(torch.randn(mod.lora_B.shape, generator=gen) * 0.5 * mod.r ** -0.5)
                mod.weight.copy_(0.8 + 0.2 * torch.rand(1, generator=gen))


def run(model, pts, labels):
    import copy
    m = copy.deepcopy(model)
    m.eval()
    ev = {}
    with torch.no_grad():
        m(pts, trace=ev)
    m.train()
    pm.disable_stochasticity(m)
    apply_trainable_filter(m)
    logits, mask_loss = m(pts)
    ce = F.cross_entropy(logits, labels)
    (ce + m.cfg.mask_loss_weight * mask_loss).backward()
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().clone()
             for n, p in m.named_parameters() if p.requires_grad}
    tr = {"logits": logits.detach(), "loss": ce.detach().reshape(1), "mask_loss": mask_loss.detach().reshape(1)}
    return ev, tr, grads, mf.bn_buffers(m)


def _cfg_meta(cfg):
    d = dict(cfg.__dict__)
    d["base"] = cfg.base.__dict__
    return json.dumps(d)


def fixtures():
    gen = torch.Generator().manual_seed(SEED)
    pts = mf.make_points(gen)
    labels = torch.randint(0, BASE.cls_dim, (pts.shape[0],), generator=gen)
    torch.manual_seed(SEED)
    models = {mode: PointTransformer_PointLoRA(small_config(mode)) for mode in ("faithful", "fixed")}
    randomize(models["faithful"], gen)
    models["fixed"].load_state_dict(models["faithful"].state_dict(), strict=True)
    os.makedirs(mf.OUT, exist_ok=True)
    torch.save({"base_model": models["faithful"].state_dict()}, os.path.join(mf.OUT, "pointlora.pth"))
    for mode, m in models.items():
        ev, tr, grads, bn = run(m, pts, labels)
        t = {"points": pts, "labels": labels}
        t.update({"eval." + k: v.detach().reshape(1) if v.dim() == 0 else v.detach() for k, v in ev.items()})
        t.update({"train." + k: v for k, v in tr.items()})
        t.update({"grad." + k: v for k, v in grads.items()})
        t.update({"bn_after." + k: v for k, v in bn.items()})
        path = os.path.join(mf.OUT, f"pointlora_{mode}.safetensors")
        mf.write_safetensors(path, t, {"config": _cfg_meta(small_config(mode)), "seed": SEED})
        print(f"wrote {path} ({os.path.getsize(path)} bytes); trainable {param_counts(m)[0]} of {param_counts(m)[1]}")
    a = mf.read_safetensors(os.path.join(mf.OUT, "pointlora_faithful.safetensors"))[0]["eval.logits"]
    b = mf.read_safetensors(os.path.join(mf.OUT, "pointlora_fixed.safetensors"))[0]["eval.logits"]
    assert not torch.equal(a, b), "the fixture no longer tells faithful from fixed"


def full(batch, out):
    """Full-size PB_T50_RS: the authors' initialisation over a random 'pre-trained'
    Point-MAE loaded through their key mapping, then LoRA B drawn N(0, 0.02²) so that
    lora_A gets a gradient."""
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    cfg = full_scan_config("faithful")
    pts = torch.randn(batch, cfg.base.npoints, 3, generator=gen) * 0.5
    labels = torch.randint(0, cfg.base.cls_dim, (batch,), generator=gen)
    pre = pm.Point_MAE(pm.full_pretrain_config())
    m = PointTransformer_PointLoRA(cfg)
    sd = pm.map_pretrain_to_finetune({"module." + k: v for k, v in pre.state_dict().items()})
    # the injection wraps qkv/proj after loading: their weights sit under .linear.
    sd = {k.replace("attn.qkv.", "attn.qkv.linear.").replace("attn.proj.", "attn.proj.linear."): v
          for k, v in sd.items()}
    m.load_state_dict(sd, strict=False)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, LoRALinear):
                mod.lora_B.copy_(torch.randn(mod.lora_B.shape, generator=gen) * 0.02)
    os.makedirs(out, exist_ok=True)
    torch.save({"base_model": m.state_dict()}, os.path.join(out, "full_pointlora.pth"))
    ev, tr, grads, _ = run(m, pts, labels)
    t = {"points": pts, "labels": labels, "eval.logits": ev["logits"], "eval.selected1": ev["selected1"],
         "eval.selected2": ev["selected2"]}
    t.update({"train." + k: v for k, v in tr.items()})
    t.update({"grad." + k: v for k, v in grads.items()})
    mf.write_safetensors(os.path.join(out, "full_pointlora_faithful.safetensors"), t)
    print("wrote", out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--batch", type=int, default=4)  # 2 makes the head BN backward degenerate
    a = ap.parse_args()
    check_counts()
    if a.full:
        if not a.out:
            sys.exit("--full needs --out DIR (outside the repository)")
        full(a.batch, a.out)
        return
    fixtures()


if __name__ == "__main__":
    main()
