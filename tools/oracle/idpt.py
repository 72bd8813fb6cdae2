#!/usr/bin/python3
"""IDPT oracle: the authors' ScanObjectNN / ModelNet40 model in plain PyTorch (CPU).

Re-implemented from github.com/zyh16143998882/ICCV23-IDPT (HEAD bf152f2):
models/Point_MAE.py ``PointTransformer`` with ``prompt_module: dgcnn`` and
``cls_type: all`` (cfgs/finetune_scan_hardest_idpt.yaml, finetune_modelnet_idpt.yaml),
its ``TransformerPromptEncoderLayerI`` and models/dgcnn.py ``DGCNNView``.  Module names
are theirs, so ``state_dict()`` keys (the BatchNorm aliases ``blocks.cls.convX.1.*``
included) are those of their fine-tuned checkpoints.

What differs from their code, none of it in the numbers:
* FPS/kNN grouping is ``pointmae.Group`` (pure torch, the pointnet2/KNN_CUDA rules);
* ``get_graph_feature`` builds its batch offsets on the input's device, not ``cuda``;
* GELU is ``pointmae.GELU`` (torch 1.13 CPU backward trap, see README.md);
* DropPath is ``pointmae.DropPath``.

    /usr/bin/python3 tools/oracle/idpt.py                 # counts + reduced fixtures
    /usr/bin/python3 tools/oracle/idpt.py --full DIR      # full-size outputs in DIR

The fixtures are testdata/oracle/idpt.pth and idpt.safetensors (see that folder's
README.md, section IDPT).
"""

import argparse
import json
import os
import sys
from dataclasses import dataclass, field, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402
import pointmae as pm  # noqa: E402

SEED = 20261201


@dataclass
class IDPTConfig:
    base: pm.MAEConfig = field(default_factory=pm.MAEConfig)
    prompt_layer: int = 11
    k: int = 20


# ----------------------------------------------------------------------------
# the prompt module (DGCNN, dynamic kNN graph in feature space)


def knn_feature(x, k):
    """x [B,C,N] -> int64 [B,N,k]: the k largest -|xi|^2 + 2 xi.xj - |xj|^2 (self included)."""
    inner = -2 * torch.matmul(x.transpose(2, 1), x)
    xx = torch.sum(x ** 2, dim=1, keepdim=True)
    score = -xx - inner - xx.transpose(2, 1)
    return score.topk(k=k, dim=-1)[1]


def graph_feature(x, k):
    """x [B,C,N] -> edge features [B,2C,N,k] = [x_j - x_i; x_i]."""
    B, C, N = x.shape
    idx = knn_feature(x, k) + torch.arange(B, device=x.device).view(-1, 1, 1) * N
    xt = x.transpose(2, 1).contiguous()
    nb = xt.view(B * N, C)[idx.view(-1)].view(B, N, k, C)
    ctr = xt.view(B, N, 1, C).expand(-1, -1, k, -1)
    return torch.cat((nb - ctr, ctr), dim=3).permute(0, 3, 1, 2).contiguous()


class DGCNNView(nn.Module):
    def __init__(self, dim, k):
        super().__init__()
        self.k = k
        # registered before the Sequentials that reuse them, as upstream
        self.bn1 = nn.BatchNorm2d(dim)
        self.bn2 = nn.BatchNorm2d(dim)
        self.bn3 = nn.BatchNorm2d(dim)
        self.bn5 = nn.BatchNorm1d(dim)
        self.conv1 = nn.Sequential(nn.Conv2d(2 * dim, dim, 1, bias=False), self.bn1, nn.LeakyReLU(0.2))
        self.conv2 = nn.Sequential(nn.Conv2d(2 * dim, dim, 1, bias=False), self.bn2, nn.LeakyReLU(0.2))
        self.conv3 = nn.Sequential(nn.Conv2d(2 * dim, dim, 1, bias=False), self.bn3, nn.LeakyReLU(0.2))
        self.conv5 = nn.Sequential(nn.Conv1d(3 * dim, dim, 1, bias=False), self.bn5, nn.LeakyReLU(0.2))

    def forward(self, x):  # [B,C,N] -> [B,1,C]
        x1 = self.conv1(graph_feature(x, self.k)).max(dim=-1)[0]
        x2 = self.conv2(graph_feature(x1, self.k)).max(dim=-1)[0]
        x3 = self.conv3(graph_feature(x2, self.k)).max(dim=-1)[0]
        x = self.conv5(torch.cat((x1, x2, x3), dim=1))
        return F.adaptive_max_pool1d(x, 1).view(x.shape[0], -1).unsqueeze(1)


class PromptEncoder(nn.Module):
    """Upstream TransformerPromptEncoderLayerI: blocks, and the prompt module 'cls'."""

    def __init__(self, cfg: IDPTConfig):
        super().__init__()
        b = cfg.base
        dpr = pm._dpr(b.drop_path_rate, b.depth)
        self.num_group = b.num_group
        self.prompt_layer = cfg.prompt_layer
        self.blocks = nn.ModuleList([pm.Block(b.trans_dim, b.num_heads, b.mlp_ratio, dpr[i]) for i in range(b.depth)])
        self.cls = DGCNNView(b.trans_dim, cfg.k)

    def forward(self, x, pos, trace=None):
        G = self.num_group
        pos_prompt = pos[:, 1:2]
        pos = torch.cat((pos[:, :1], pos[:, -G:]), dim=1)
        for i, blk in enumerate(self.blocks):
            if i == self.prompt_layer:
                prompt = self.cls(x[:, -G:].permute(0, 2, 1))
                if trace is not None:
                    trace["prompt"] = prompt
                x = torch.cat((x[:, :1], prompt, x[:, -G:]), dim=1)
                pos = torch.cat((pos[:, :1], pos_prompt, pos[:, -G:]), dim=1)
            x = blk(x + pos)
        return x


class PointTransformerIDPT(nn.Module):
    """Upstream PointTransformer (cls_type 'all'): head on [cls; prompt; max tokens]."""

    def __init__(self, cfg: IDPTConfig):
        super().__init__()
        b = cfg.base
        C = b.trans_dim
        self.group_divider = pm.Group(b.num_group, b.group_size)
        self.encoder = pm.Encoder(C, b.enc_widths)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        self.cls_pos = nn.Parameter(torch.randn(1, 1, C))
        self.prompt_pos = nn.Parameter(torch.randn(1, 1, C))
        self.pos_embed = pm.make_pos_embed(b)
        self.blocks = PromptEncoder(cfg)
        self.norm = nn.LayerNorm(C)
        h = b.head_hidden
        self.cls_head_finetune = nn.Sequential(
            nn.Linear(3 * C, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True), nn.Dropout(b.head_dropout),
            nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True), nn.Dropout(b.head_dropout),
            nn.Linear(h, b.cls_dim))
        for p in (self.cls_token, self.cls_pos, self.prompt_pos):
            nn.init.trunc_normal_(p, std=0.02)

    def forward(self, pts, trace=None):
        nb, center, _, _ = self.group_divider(pts)
        tok = self.encoder(nb)
        B = tok.shape[0]
        pos = torch.cat((self.cls_pos.expand(B, -1, -1), self.prompt_pos.expand(B, -1, -1), self.pos_embed(center)), 1)
        x = self.norm(self.blocks(torch.cat((self.cls_token.expand(B, -1, -1), tok), dim=1), pos, trace))
        f = torch.cat([x[:, 0], x[:, 1], x[:, 2:].max(1)[0]], dim=-1)
        logits = self.cls_head_finetune(f)
        if trace is not None:
            trace.update({"tokens": tok, "features": f, "logits": logits})
        return logits


def trains(name):
    """The authors' optimizer part 'only_new' (tools/builder.py)."""
    return "cls" in name


def counts(model):
    ps = list(model.named_parameters())
    return sum(p.numel() for n, p in ps if trains(n)), sum(p.numel() for _, p in ps)


def check_counts():
    for cls, groups, want in ((15, 128, (1_696_783, 23_522_191)), (40, 64, (1_703_208, 23_528_616))):
        m = PointTransformerIDPT(IDPTConfig(base=replace(pm.MAEConfig(), cls_dim=cls, num_group=groups)))
        got = counts(m)
        assert got == want, (cls, got, want)
        print(f"IDPT full size, {cls} classes: trainable {got[0]:,} of {got[1]:,}")


# ----------------------------------------------------------------------------
# fixtures


def randomize(model, gen):
    """Seeded non-trivial values: make_fixtures.randomize for the Point-MAE parts, then
    the prompt module's Conv2d/BatchNorm2d, which it does not know."""
    mf.randomize(model, gen)
    with torch.no_grad():
        for m in model.blocks.cls.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * fan_in ** -0.5)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.2 + 1)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.num_batches_tracked.fill_(7)


def knn_margin(model, pts):
    """Smallest gap, relative to the score scale, between the k-th and (k+1)-th
    neighbour score over every EdgeConv of an eval and a train-mode pass: a float32
    reimplementation picks the same graph when this is far above rounding (1e-6)."""
    import copy
    gaps = []

    def hook(mod, inp, out):
        x = inp[0]
        for conv in (mod.conv1, mod.conv2, mod.conv3):
            inner = -2 * torch.matmul(x.transpose(2, 1), x)
            xx = torch.sum(x ** 2, dim=1, keepdim=True)
            s = (-xx - inner - xx.transpose(2, 1)).double()
            top = s.topk(mod.k + 1, dim=-1)[0]
            gaps.append(((top[..., -2] - top[..., -1]) / s.abs().amax(-1)).min().item())
            x = conv(graph_feature(x, mod.k)).max(dim=-1)[0]

    m = copy.deepcopy(model)
    pm.disable_stochasticity(m)
    m.blocks.cls.register_forward_hook(hook)
    for train in (False, True):
        m.train(train)
        with torch.no_grad():
            m(pts)
    return min(gaps)


def run(model, pts, labels):
    """make_fixtures.run_backbone on IDPT, keeping the trainable gradients and the
    BatchNorm statistics under their non-alias names."""
    ev, tr, grads, bn = mf.run_backbone(model, pts, labels, pts.dtype)
    grads = {n: g for n, g in grads.items() if trains(n)}
    bn = {k: v for k, v in bn.items() if ".conv" not in k}
    return ev, tr["logits"], tr["loss"], grads, bn


def fixtures():
    cfg = IDPTConfig(base=replace(mf.BACKBONE, depth=3), prompt_layer=1, k=4)
    gen = torch.Generator().manual_seed(SEED)
    pts = mf.make_points(gen)
    labels = torch.randint(0, cfg.base.cls_dim, (mf.BATCH,), generator=gen)
    torch.manual_seed(SEED)
    model = PointTransformerIDPT(cfg)
    randomize(model, gen)
    margin = knn_margin(model, pts)
    assert margin > 1e-4, f"feature kNN margin {margin:.2e}: the fixture's graph is fragile"
    ev, logits, loss, grads, bn = run(model, pts, labels)
    t = {"points": pts, "labels": labels, "eval.prompt": ev["prompt"], "eval.features": ev["features"],
         "eval.logits": ev["logits"], "train.logits": logits, "train.loss": loss.reshape(1)}
    t.update({"grad." + k: v for k, v in grads.items()})
    t.update({"bn_after." + k: v for k, v in bn.items()})
    meta = {"config": json.dumps(cfg.base.__dict__), "prompt_layer": cfg.prompt_layer, "k": cfg.k, "seed": SEED}
    sd = model.state_dict()
    assert "blocks.cls.conv1.1.weight" in sd and "blocks.cls.bn1.weight" in sd
    torch.save({"base_model": sd}, os.path.join(mf.OUT, "idpt.pth"))
    mf.write_safetensors(os.path.join(mf.OUT, "idpt.safetensors"), t, meta)
    print(f"wrote idpt.pth, idpt.safetensors; kNN margin {margin:.2e}; reduced trainable {counts(model)}")
    # float32 against float64 for the README
    e64, l64, _, g64, _ = run(model.double(), pts.double(), labels)
    rep = mf.grad_report(grads, g64)
    print("f32 vs f64: eval logits %.1e, train logits %.1e, gradients max %.1e (%s), median %.1e; "
          "structurally zero: %s" % (mf.rel(ev["logits"], e64["logits"]), mf.rel(logits, l64), rep["grad_rel_max"],
                                     rep["grad_rel_worst"], rep["grad_rel_median"], rep["zero_grad_tensors"]))


def full(out, batch=4):
    """Full PB_T50_RS size with the authors' initialisation (batch ``batch``):
    idpt_full.pth and idpt_full.safetensors in ``out`` (outside the repo)."""
    cfg = IDPTConfig()
    gen = torch.Generator().manual_seed(SEED)
    pts = torch.randn(batch, cfg.base.npoints, 3, generator=gen) * 0.5
    labels = torch.randint(0, cfg.base.cls_dim, (batch,), generator=gen)
    torch.manual_seed(SEED)
    model = PointTransformerIDPT(cfg)
    print(f"kNN margin {knn_margin(model, pts):.2e}")
    ev, logits, loss, grads, _ = run(model, pts, labels)
    os.makedirs(out, exist_ok=True)
    torch.save({"base_model": model.state_dict()}, os.path.join(out, "idpt_full.pth"))
    t = {"points": pts, "labels": labels, "eval.logits": ev["logits"], "train.logits": logits,
         "train.loss": loss.reshape(1)}
    t.update({"grad." + k: v for k, v in grads.items()})
    mf.write_safetensors(os.path.join(out, "idpt_full.safetensors"), t, {"config": json.dumps(cfg.base.__dict__)})
    print("wrote", out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", metavar="DIR", help="write full-size outputs to DIR (outside the repo)")
    ap.add_argument("--batch", type=int, default=4)
    a = ap.parse_args()
    check_counts()
    if a.full:
        full(a.full, a.batch)
    else:
        fixtures()


if __name__ == "__main__":
    main()
