"""Point-MAE reference model in plain PyTorch (written for torch 1.13, CPU).

This is an oracle for the Go port, not a training library.  It re-implements the
logic of the upstream Point-MAE models (github.com/Pang-Yatian/Point-MAE,
models/Point_MAE.py) without any CUDA extension:

* ``Group``           furthest point sampling with the pointnet2 kernel rules
                      (start at index 0, never select a point whose squared norm is
                      <= 1e-3) and kNN by squared Euclidean distance (ties -> lower
                      index), returning the same 4-tuple as the Point-PEFT ``Group``.
* ``Encoder``         the mini-PointNet token embedder.
* ``PointTransformer``the fine-tuning classifier (cls token, pos embed re-added before
                      every block, final LN, concat(cls, max) head).
* ``MaskTransformer`` / ``Point_MAE``  the pre-training model (random masking, decoder,
                      Chamfer-L2 reconstruction loss) and its ``eval=True`` path, which
                      is the "cp model" of Point-PEFT (max-pooled encoder feature).

Module names follow the official code so that ``state_dict()`` keys match the
official checkpoints.  Layer widths that the authors hard-code (mini-PointNet
128/256/512, pos-embed hidden 128, head hidden 256) are configurable so that small
fixtures can be produced; the defaults are the authors' values.
"""

import math
from dataclasses import dataclass, field, replace
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------
# configuration


@dataclass
class MAEConfig:
    trans_dim: int = 384
    depth: int = 12
    num_heads: int = 6
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.1
    num_group: int = 128
    group_size: int = 32
    cls_dim: int = 15
    npoints: int = 2048
    # widths the authors hard-code
    enc_widths: Tuple[int, int, int] = (128, 256, 512)  # first_conv hidden, first_conv out, second_conv hidden
    pos_hidden: int = 128
    head_hidden: int = 256
    head_dropout: float = 0.5
    # pre-training model only
    decoder_depth: int = 4
    decoder_num_heads: int = 6
    mask_ratio: float = 0.6


def full_finetune_config() -> MAEConfig:
    """Point-MAE fine-tuning on ScanObjectNN PB_T50_RS (finetune_scan_hardest.yaml)."""
    return MAEConfig()


def full_pretrain_config() -> MAEConfig:
    """Point-MAE pre-training / Point-PEFT cp model (cfgs/pretrain.yaml, cache_prompt.yaml)."""
    return MAEConfig(num_group=64, group_size=32)


# ----------------------------------------------------------------------------
# torch-1.13 safe GELU


class _ContiguousGrad(torch.autograd.Function):
    """Identity whose backward hands on a contiguous gradient.

    torch < 2.1 computes a wrong GELU backward on CPU when the incoming gradient
    does not share the input's memory layout (pytorch#107876).  Wrapping the GELU
    output in this function guarantees that GELU's backward always sees a
    contiguous gradient.
    """

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return g.contiguous()


class GELU(nn.Module):
    """Exact (erf) GELU, safe to differentiate on torch 1.13 CPU."""

    def forward(self, x):
        return _ContiguousGrad.apply(F.gelu(x.contiguous()))


class DropPath(nn.Module):
    """Stochastic depth per sample (timm semantics: keep with prob 1-p, rescale 1/(1-p))."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        mask = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x.div(keep) * mask


def disable_stochasticity(model: nn.Module) -> None:
    """Set every Dropout probability and every DropPath rate to 0 (for train-mode fixtures)."""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
        if isinstance(m, DropPath):
            m.drop_prob = 0.0


# ----------------------------------------------------------------------------
# geometry: FPS and kNN


def sqdist_pairs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared distances [B,N,M] between a [B,N,3] and b [B,M,3] as dx*dx+dy*dy+dz*dz
    (sum of squared differences in this fixed order, never the -2ab expansion)."""
    d = a[:, :, None, :] - b[:, None, :, :]
    return d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2]


@torch.no_grad()
def fps_indices(xyz: torch.Tensor, n: int) -> torch.Tensor:
    """Furthest point sampling with the pointnet2_ops CUDA kernel's rules.

    xyz [B,N,3] -> int64 [B,n] per-batch-local indices.
    * the first pick is always index 0 (whatever its norm);
    * a point with x*x+y*y+z*z <= 1e-3 is never a candidate afterwards;
    * running distance = min over picks of the squared distance; the next pick is the
      candidate with the largest running distance, ties -> lowest index;
    * if no candidate exists, index 0 is picked (the kernel's besti default).
    """
    B, N, _ = xyz.shape
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    valid = (x * x + y * y + z * z) > 1e-3
    temp = torch.full((B, N), 1e10, dtype=xyz.dtype)
    out = torch.zeros(B, n, dtype=torch.long)
    old = torch.zeros(B, dtype=torch.long)
    ar = torch.arange(B)
    neg = torch.full((B, N), -1.0, dtype=xyz.dtype)
    for j in range(1, n):
        p = xyz[ar, old]  # [B,3]
        dx = x - p[:, 0:1]
        dy = y - p[:, 1:2]
        dz = z - p[:, 2:3]
        d = dx * dx + dy * dy + dz * dz
        temp = torch.where(valid, torch.minimum(temp, d), temp)
        cand = torch.where(valid, temp, neg)
        old = torch.argmax(cand, dim=1)  # first maximum; all -1 -> 0
        out[:, j] = old
    return out


@torch.no_grad()
def knn_indices(xyz: torch.Tensor, center: torch.Tensor, k: int) -> torch.Tensor:
    """k nearest points of xyz [B,N,3] for each centre [B,G,3] -> int64 [B,G,k],
    ascending squared distance, ties broken by lower point index (stable sort)."""
    d = sqdist_pairs(center, xyz)  # [B,G,N]
    _, idx = torch.sort(d, dim=-1, stable=True)
    return idx[..., :k].contiguous()


def gather_points(xyz: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """xyz [B,N,D], idx int64 [B,...] (local) -> [B,...,D]; differentiable in xyz."""
    B = xyz.shape[0]
    flat = idx.reshape(B, -1)
    out = torch.gather(xyz, 1, flat[..., None].expand(-1, -1, xyz.shape[-1]))
    return out.reshape(*idx.shape, xyz.shape[-1])


class Group(nn.Module):
    """FPS + kNN grouping.  forward(xyz) returns (neighborhood [B,G,M,3] centred,
    center [B,G,3], idx_flat [B*G*M] (= local + b*N), center_idx_flat [B*G]).
    The per-batch-local indices of the last call are kept in ``last_local``."""

    def __init__(self, num_group: int, group_size: int):
        super().__init__()
        self.num_group = num_group
        self.group_size = group_size
        self.last_local = None

    def forward(self, xyz):
        B, N, _ = xyz.shape
        cidx = fps_indices(xyz, self.num_group)  # [B,G]
        center = gather_points(xyz, cidx)  # differentiable in xyz (like gather_operation)
        idx = knn_indices(xyz, center, self.group_size)  # [B,G,M]
        self.last_local = (cidx, idx)
        base = torch.arange(B).view(-1, 1) * N
        idx_flat = (idx + base.view(-1, 1, 1)).reshape(-1)
        cidx_flat = (cidx + base).reshape(-1)
        nb = xyz.reshape(B * N, -1)[idx_flat].reshape(B, self.num_group, self.group_size, 3)
        nb = nb - center.unsqueeze(2)
        return nb, center, idx_flat, cidx_flat


# ----------------------------------------------------------------------------
# token encoder and transformer


class Encoder(nn.Module):
    """Mini-PointNet: [B,G,M,3] -> [B,G,C].  Conv1d(k=1) weights are [out,in,1]."""

    def __init__(self, encoder_channel: int, widths=(128, 256, 512)):
        super().__init__()
        h1, h2, h3 = widths
        self.encoder_channel = encoder_channel
        self.first_conv = nn.Sequential(
            nn.Conv1d(3, h1, 1), nn.BatchNorm1d(h1), nn.ReLU(inplace=True), nn.Conv1d(h1, h2, 1))
        self.second_conv = nn.Sequential(
            nn.Conv1d(2 * h2, h3, 1), nn.BatchNorm1d(h3), nn.ReLU(inplace=True), nn.Conv1d(h3, encoder_channel, 1))

    def forward(self, point_groups):
        bs, g, n, _ = point_groups.shape
        f = self.first_conv(point_groups.reshape(bs * g, n, 3).transpose(2, 1))  # [BG,h2,n]
        fg = torch.max(f, dim=2, keepdim=True)[0]
        f = torch.cat([fg.expand(-1, -1, n), f], dim=1)  # [global; local]
        f = self.second_conv(f)
        return torch.max(f, dim=2)[0].reshape(bs, g, self.encoder_channel)


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features, drop=0.0):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(0.0)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        a = self.attn_drop(a)
        x = (a @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class Block(nn.Module):
    """Upstream Point-MAE pre-LN block; DropPath on both residual branches."""

    def __init__(self, dim, num_heads, mlp_ratio=4.0, drop_path=0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.attn = Attention(dim, num_heads)

    def forward(self, x):
        x = x + self.drop_path(self.attn(self.norm1(x)))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x


class TransformerEncoder(nn.Module):
    def __init__(self, embed_dim, depth, num_heads, mlp_ratio=4.0, drop_path_rate=0.0):
        super().__init__()
        dpr = drop_path_rate if isinstance(drop_path_rate, list) else [drop_path_rate] * depth
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, dpr[i]) for i in range(depth)])

    def forward(self, x, pos, trace=None):
        for i, blk in enumerate(self.blocks):
            x = blk(x + pos)
            if trace is not None:
                trace[f"block.{i}"] = x
        return x


class TransformerDecoder(nn.Module):
    def __init__(self, embed_dim, depth, num_heads, mlp_ratio=4.0, drop_path_rate=0.1):
        super().__init__()
        dpr = drop_path_rate if isinstance(drop_path_rate, list) else [drop_path_rate] * depth
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, dpr[i]) for i in range(depth)])
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Identity()

    def forward(self, x, pos, return_token_num):
        for blk in self.blocks:
            x = blk(x + pos)
        return self.head(self.norm(x[:, -return_token_num:]))


def _dpr(rate, depth):
    return [v.item() for v in torch.linspace(0, rate, depth)]


def make_pos_embed(cfg: MAEConfig) -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, cfg.pos_hidden), GELU(), nn.Linear(cfg.pos_hidden, cfg.trans_dim))


def make_cls_head(cfg: MAEConfig) -> nn.Sequential:
    h = cfg.head_hidden
    return nn.Sequential(
        nn.Linear(cfg.trans_dim * 2, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True), nn.Dropout(cfg.head_dropout),
        nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True), nn.Dropout(cfg.head_dropout),
        nn.Linear(h, cfg.cls_dim))


# ----------------------------------------------------------------------------
# fine-tuning classifier


class PointTransformer(nn.Module):
    """Point-MAE full fine-tuning classifier (upstream ``PointTransformer``)."""

    def __init__(self, cfg: MAEConfig):
        super().__init__()
        self.cfg = cfg
        C = cfg.trans_dim
        self.group_divider = Group(cfg.num_group, cfg.group_size)
        self.encoder = Encoder(C, cfg.enc_widths)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        self.cls_pos = nn.Parameter(torch.randn(1, 1, C))
        self.pos_embed = make_pos_embed(cfg)
        self.blocks = TransformerEncoder(C, cfg.depth, cfg.num_heads, cfg.mlp_ratio, _dpr(cfg.drop_path_rate, cfg.depth))
        self.norm = nn.LayerNorm(C)
        self.cls_head_finetune = make_cls_head(cfg)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.cls_pos, std=0.02)

    def forward(self, pts, trace=None):
        nb, center, _, _ = self.group_divider(pts)
        tok = self.encoder(nb)
        B = tok.shape[0]
        pos = self.pos_embed(center)
        x = torch.cat([self.cls_token.expand(B, -1, -1), tok], dim=1)
        posf = torch.cat([self.cls_pos.expand(B, -1, -1), pos], dim=1)
        if trace is not None:
            cidx, kidx = self.group_divider.last_local
            trace.update({"center_idx": cidx, "knn_idx": kidx, "center": center, "neighborhood": nb,
                          "tokens": tok, "pos": pos})
        x = self.blocks(x, posf, trace)
        x = self.norm(x)
        f = torch.cat([x[:, 0], x[:, 1:].max(1)[0]], dim=-1)
        logits = self.cls_head_finetune(f)
        if trace is not None:
            trace.update({"norm": x, "features": f, "logits": logits})
        return logits


# ----------------------------------------------------------------------------
# pre-training model (also the Point-PEFT "cp model")


def chamfer_l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """ChamferDistanceL2 of the upstream extension: a [P,n,3], b [P,m,3].
    dist1[p,i] = min_j |a_pi - b_pj|^2, dist2[p,j] = min_i |a_pi - b_pj|^2;
    loss = mean(dist1) + mean(dist2)   (means over all P*n resp. P*m entries, summed,
    not halved; the L1 variant takes sqrt and halves, the L2 one does not)."""
    d = sqdist_pairs(a, b)  # [P,n,m]
    return d.min(dim=2)[0].mean() + d.min(dim=1)[0].mean()


class MaskTransformer(nn.Module):
    def __init__(self, cfg: MAEConfig):
        super().__init__()
        self.cfg = cfg
        self.mask_ratio = cfg.mask_ratio
        self.encoder = Encoder(cfg.trans_dim, cfg.enc_widths)
        self.pos_embed = make_pos_embed(cfg)
        self.blocks = TransformerEncoder(cfg.trans_dim, cfg.depth, cfg.num_heads, cfg.mlp_ratio,
                                         _dpr(cfg.drop_path_rate, cfg.depth))
        self.norm = nn.LayerNorm(cfg.trans_dim)

    def random_mask(self, B, G, generator=None):
        """Upstream 'rand' masking: exactly int(ratio*G) masked tokens per sample at
        random places (True = masked).  Returned as a bool [B,G] tensor."""
        num_mask = int(self.mask_ratio * G)
        rows = []
        for _ in range(B):
            perm = torch.randperm(G, generator=generator)
            m = torch.zeros(G, dtype=torch.bool)
            m[perm[:num_mask]] = True
            rows.append(m)
        return torch.stack(rows)

    def forward(self, neighborhood, center, eval=False, mask=None, trace=None):
        B, G, _ = center.shape
        if eval:
            mask = torch.zeros(B, G, dtype=torch.bool)
        elif mask is None:
            mask = self.random_mask(B, G)
        tok = self.encoder(neighborhood)
        C = tok.shape[-1]
        x_vis = tok[~mask].reshape(B, -1, C)
        pos = self.pos_embed(center[~mask].reshape(B, -1, 3))
        if trace is not None:
            trace.update({"tokens": tok, "pos": pos})
        x_vis = self.norm(self.blocks(x_vis, pos, trace))
        return x_vis, mask


class Point_MAE(nn.Module):
    """Upstream pre-training model.  forward(pts) -> Chamfer-L2 loss;
    forward(pts, eval=True) -> max over tokens of the normalised encoder output
    (the Point-PEFT cp feature)."""

    def __init__(self, cfg: MAEConfig):
        super().__init__()
        self.cfg = cfg
        C = cfg.trans_dim
        self.MAE_encoder = MaskTransformer(cfg)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, C))
        self.decoder_pos_embed = make_pos_embed(cfg)
        self.MAE_decoder = TransformerDecoder(C, cfg.decoder_depth, cfg.decoder_num_heads, cfg.mlp_ratio,
                                              _dpr(cfg.drop_path_rate, cfg.decoder_depth))
        self.group_divider = Group(cfg.num_group, cfg.group_size)
        self.increase_dim = nn.Sequential(nn.Conv1d(C, 3 * cfg.group_size, 1))
        nn.init.trunc_normal_(self.mask_token, std=0.02)

    def forward(self, pts, eval=False, mask=None, trace=None):
        nb, center, _, _ = self.group_divider(pts)
        if trace is not None:
            cidx, kidx = self.group_divider.last_local
            trace.update({"center_idx": cidx, "knn_idx": kidx, "center": center, "neighborhood": nb})
        if eval:
            x_vis, _ = self.MAE_encoder(nb, center, eval=True, trace=trace)
            feat = x_vis.max(dim=1)[0]
            if trace is not None:
                trace.update({"norm": x_vis, "feature": feat})
            return feat
        x_vis, mask = self.MAE_encoder(nb, center, mask=mask, trace=trace)
        B, _, C = x_vis.shape
        pos_vis = self.decoder_pos_embed(center[~mask]).reshape(B, -1, C)
        pos_msk = self.decoder_pos_embed(center[mask]).reshape(B, -1, C)
        M = pos_msk.shape[1]
        x_full = torch.cat([x_vis, self.mask_token.expand(B, M, -1)], dim=1)
        pos_full = torch.cat([pos_vis, pos_msk], dim=1)
        x_rec = self.MAE_decoder(x_full, pos_full, M)
        rebuild = self.increase_dim(x_rec.transpose(1, 2)).transpose(1, 2).reshape(B * M, -1, 3)
        gt = nb[mask].reshape(B * M, -1, 3)
        loss = chamfer_l2(rebuild, gt)
        if trace is not None:
            trace.update({"mask": mask, "x_vis": x_vis, "x_rec": x_rec, "rebuild": rebuild, "gt": gt, "loss": loss})
        return loss


# ----------------------------------------------------------------------------
# checkpoint key mapping (load_model_from_ckpt of the fine-tuning models)


def map_pretrain_to_finetune(state: dict) -> dict:
    """Apply the authors' key rewrite: drop every 'module.' occurrence, then strip a
    leading 'MAE_encoder.' or 'base_model.'.  Keys that the fine-tuning model does not
    have (decoder, mask_token, ...) are left in and ignored by load_state_dict(strict=False)."""
    out = {}
    for k, v in state.items():
        k = k.replace("module.", "")
        if k.startswith("MAE_encoder"):
            k = k[len("MAE_encoder."):]
        elif k.startswith("base_model"):
            k = k[len("base_model."):]
        out[k] = v
    return out


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
