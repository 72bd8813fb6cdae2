"""Point-PEFT (Tang et al., AAAI 2024) on Point-MAE, plain PyTorch oracle.

Models the authors' ``PointTransformer_best`` (MAE/models/Point_Mask_Rev_FT_scan_cp.py)
as described in shared/reference/point-peft-spec.md sections 2-5, in two modes:

``faithful``  the released forward pass with only the cp_feat[0] fix (spec 8.1).  The
              prompt layers use the grouping of FPS(G) over [prompt_cor; raw points]
              (centerP) and gather the level-2 neighbourhoods from the [P'; X] table with
              the wrong stride G instead of T+G (spec 4.3), so rows can come from other
              samples of the batch.
``fixed``     prompt tokens carry the learnable coordinates prompt_cor; the level-2
              FPS/kNN of the prompt layers runs over [prompt_cor; center] (T+G points per
              sample) and gathers with stride T+G; propagation goes back to the G point
              tokens at their true centres (spec 9.1).

Both modes: the cp query is an input computed beforehand under no_grad by the frozen
pre-trained encoder (``pointmae.Point_MAE(...)(pts, eval=True)``, spec 9.2); propagate
uses the matrix-product form (spec App. B.4) with squared distances as sums of squared
differences (App. B.3).  The memory bank is a plain attribute (not in the state dict),
as in the authors' code.

Run ``python3 pointpeft_model.py`` to print and check the trainable/total counts.
"""

from dataclasses import dataclass, field, replace
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

import pointmae as pm
from pointmae import GELU, DropPath, Encoder, Group, Mlp, Attention, MAEConfig


@dataclass
class PEFTConfig:
    base: MAEConfig = field(default_factory=pm.full_finetune_config)
    num_tokens: int = 10  # T
    prompt_layers: Tuple[int, ...] = (0, 1, 2, 3, 4, 5)
    adapter_dim: int = 16
    cp_reduction: int = 8
    adapter_dropout: float = 0.1  # "adapter_drop_path_rate" in the yaml, used as nn.Dropout
    prompt_dropout: float = 0.1
    attn1_dim: int = 18  # Attention1 inner width (hard-coded 18 = 6 heads x 3)
    ad_cof: float = 0.7
    center_cof: float = 0.3
    pro_cof: float = 0.3
    mode: str = "faithful"  # or "fixed"

    @property
    def K(self):  # retrieved bank entries
        return self.num_tokens - 2


def full_scan_config(mode="faithful") -> PEFTConfig:
    """PB_T50_RS, finetune_scan_hardest.yaml + hard-coded values of the released model."""
    return PEFTConfig(mode=mode)


def full_modelnet_config(mode="faithful") -> PEFTConfig:
    """ModelNet40 variant known only from the compiled pyc (spec 6.3): T=16, K=14,
    prompts/retrieval in all 12 layers, 40 classes, 1024 points, 64x32 groups."""
    base = replace(pm.full_finetune_config(), cls_dim=40, num_group=64, group_size=32, npoints=1024)
    return PEFTConfig(base=base, num_tokens=16, prompt_layers=tuple(range(12)), mode=mode)


# ----------------------------------------------------------------------------
# adapters and GA attention


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class AdapterSuper(nn.Module):
    """Residual bottleneck: x + ln2(Dropout(QuickGELU(ln1 x)))."""

    residual = True

    def __init__(self, embed_dims, reduction_dims, drop_rate_adapter=0.0):
        super().__init__()
        self.dropout = nn.Dropout(p=drop_rate_adapter)
        self.ln1 = nn.Linear(embed_dims, reduction_dims)
        self.activate = QuickGELU()
        self.ln2 = nn.Linear(reduction_dims, embed_dims)
        for m in (self.ln1, self.ln2):
            nn.init.xavier_uniform_(m.weight)
            nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x):
        out = self.ln2(self.dropout(self.activate(self.ln1(x))))
        return x + out if self.residual else out


class AdapterSuper_f(AdapterSuper):
    """Same bottleneck without the residual."""

    residual = False


class Attention1(nn.Module):
    """GA local attention: qkv Linear(C, 3*18, no bias), heads x (18/heads) dims,
    scale 18^-0.5 (not per-head), proj Linear(18, C)."""

    def __init__(self, dim, num_heads, inner=18):
        super().__init__()
        assert inner % num_heads == 0, "Attention1 needs 18 divisible by the head count"
        self.num_heads = num_heads
        self.inner = inner
        self.scale = inner ** -0.5
        self.qkv = nn.Linear(dim, inner * 3, bias=False)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(inner, dim)
        self.proj_drop = nn.Dropout(0.0)

    def forward(self, x):
        B, N, _ = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.inner // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        x = (self.attn_drop(a) @ v).transpose(1, 2).reshape(B, N, self.inner)
        return self.proj_drop(self.proj(x))


# ----------------------------------------------------------------------------
# block


class Block(nn.Module):
    def __init__(self, cfg: PEFTConfig, drop_path: float):
        super().__init__()
        b = cfg.base
        dim = b.trans_dim
        self.cfg = cfg
        self.norm1 = nn.LayerNorm(dim)
        self.cp_adapter = AdapterSuper(dim, cfg.cp_reduction, cfg.adapter_dropout)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * b.mlp_ratio))
        self.adapter = AdapterSuper_f(dim, cfg.adapter_dim, cfg.adapter_dropout)
        self.adapter1 = AdapterSuper(dim, cfg.adapter_dim, cfg.adapter_dropout)
        self.attn = Attention(dim, b.num_heads)
        self.ad_gate = nn.Parameter(torch.zeros(1))  # unused in the MAE model
        self.out_transform = nn.Sequential(nn.BatchNorm1d(dim), GELU())
        self.prompt_dropout = nn.Dropout(cfg.prompt_dropout)
        self.num_tokens = cfg.num_tokens
        self.prompt_embeddings = nn.Parameter(torch.zeros(cfg.num_tokens, dim))
        nn.init.trunc_normal_(self.prompt_embeddings, std=0.02)

    def pooling(self, nb):  # nb [B,G2,k,C]
        lc = nb.max(dim=2)[0]
        return self.out_transform(lc.permute(0, 2, 1)).permute(0, 2, 1)

    def propagate(self, xyz1, xyz2, points1, points2):
        """Inverse-squared-distance interpolation from all S coarse centres, as a
        [B,N,S] x [B,S,C] product; d2 = sum of squared differences."""
        d2 = pm.sqdist_pairs(xyz1, xyz2)
        r = 1.0 / (d2 + 1e-8)
        w = r / r.sum(dim=2, keepdim=True)
        return points1 + self.cfg.pro_cof * torch.bmm(w, points2)

    def ga(self, table, geo, attn1, norm3):
        """GA core on X.  table [B,R,C] is the token table gathered from (R = G or T+G);
        geo = (xyz1 [B,G,3], xyz2 [B,G2,3], idx_flat [B*G2*k], cidx_flat [B*G2], k)."""
        xyz1, xyz2, idx, cidx, k = geo
        B, R, C = table.shape
        G2 = xyz2.shape[1]
        flat = table.reshape(B * R, C)
        nb = flat[idx].reshape(B * G2, k, C)
        xc = flat[cidx].reshape(B, G2, C)
        nb = self.drop_path(attn1(norm3(nb))) + nb
        vis = self.pooling(nb.reshape(B, G2, k, C)) + self.cfg.center_cof * xc
        return vis

    def forward(self, x, prompt_layer, geo, cache_prompt, attn1, norm3, trace=None, tag=""):
        T = self.num_tokens
        B = x.shape[0]
        if prompt_layer:
            p = self.prompt_dropout(self.prompt_embeddings.repeat(B, 1, 1))
            if cache_prompt is not None:
                p = p + self.cp_adapter(cache_prompt)
            if trace is not None:
                trace[f"prompt.{tag}"] = p
            x = torch.cat((x[:, :1], p, x[:, 1:]), 1)
        x = x + self.attn(self.norm1(x))  # no DropPath on the attention branch
        f = self.drop_path(self.mlp(self.norm2(x)))
        x = self.cfg.ad_cof * self.adapter(f) + f + x
        if prompt_layer:
            p = x[:, 1:T + 1]
            x = torch.cat((x[:, :1], x[:, T + 1:]), 1)
        cls_x, X = x[:, 0], x[:, 1:]
        table = torch.cat((p, X), 1) if prompt_layer else X
        vis = self.ga(table, geo, attn1, norm3)
        X = self.propagate(geo[0], geo[1], X, vis)
        if prompt_layer:
            z = self.adapter1(torch.cat((cls_x.unsqueeze(1), p, X), 1))
            return torch.cat((z[:, :1], z[:, T + 1:]), 1)
        return self.adapter1(torch.cat((cls_x.unsqueeze(1), X), 1))


class TransformerEncoder(nn.Module):
    def __init__(self, cfg: PEFTConfig, dpr):
        super().__init__()
        b = cfg.base
        self.prompt_layers = set(cfg.prompt_layers)
        self.blocks = nn.ModuleList([Block(cfg, dpr[i]) for i in range(b.depth)])
        self.attn1 = Attention1(b.trans_dim, b.num_heads, cfg.attn1_dim)
        self.norm3 = nn.LayerNorm(b.trans_dim)

    def forward(self, x, pos, geo_prompt, geo_plain, cache_prompt, trace=None):
        for i, blk in enumerate(self.blocks):
            pl = i in self.prompt_layers
            x = blk(x + pos, pl, geo_prompt if pl else geo_plain, cache_prompt, self.attn1, self.norm3, trace, str(i))
            if trace is not None:
                trace[f"block.{i}"] = x
        return x


# ----------------------------------------------------------------------------
# the model


def cache_prompt_from_bank(q: torch.Tensor, bank: torch.Tensor, K: int, trace=None) -> torch.Tensor:
    """Parameter-free attention over the memory bank (spec 3.3).
    q [B,C] (un-normalised cp feature), bank [C,N]; returns [B,K+2,C] = [q; a; F_K]."""
    with torch.no_grad():
        qn = q / q.norm(dim=-1, keepdim=True)
        s = qn @ bank
        sk, ik = torch.topk(s, K, dim=1)  # sorted, largest first
        w = F.softmax(sk, dim=1).unsqueeze(1)  # [B,1,K]
        fk = bank[:, ik].permute(1, 2, 0)  # [B,K,C]
        a = torch.matmul(w, fk)
        cp = torch.cat((q.unsqueeze(1), a, fk), 1)
    if trace is not None:
        trace.update({"bank.scores": s, "bank.topk_idx": ik, "bank.topk_w": w.squeeze(1), "cache_prompt": cp})
    return cp


class PointTransformer_best(nn.Module):
    def __init__(self, cfg: PEFTConfig, bank: Optional[torch.Tensor] = None):
        super().__init__()
        assert cfg.mode in ("faithful", "fixed")
        self.cfg = cfg
        b = cfg.base
        C = b.trans_dim
        self.group_divider = Group(b.num_group, b.group_size)
        self.encoder = Encoder(C, b.enc_widths)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        self.cls_pos = nn.Parameter(torch.randn(1, 1, C))
        self.pos_embed = pm.make_pos_embed(b)
        dpr = [v.item() for v in torch.linspace(0, b.drop_path_rate, b.depth)]
        self.prompt_cor = nn.Parameter(torch.zeros(cfg.num_tokens, 3))
        nn.init.trunc_normal_(self.prompt_cor, std=0.02)
        self.blocks = TransformerEncoder(cfg, dpr)
        self.norm = nn.LayerNorm(C)
        self.train_images_features_agg = bank  # [C, N_bank]; plain attribute, not in state_dict
        self.cls_head_finetune = pm.make_cls_head(b)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.cls_pos, std=0.02)
        self.level2 = Group(b.num_group // 2, b.group_size // 2)

    def geometry(self, pts, center, trace=None):
        """Returns (geo_prompt, geo_plain) for the GA core.  Index tensors are flat
        (local + b*stride) as the authors' Group returns them."""
        cfg = self.cfg
        k = cfg.base.group_size // 2
        B = pts.shape[0]
        # non-prompt layers: FPS G/2 + kNN G/2 over the G token centres (correct in both modes)
        _, c2, idx2, cidx2 = self.level2(center)
        l_c, l_k = self.level2.last_local
        geo_plain = (center, c2, idx2, cidx2, k)
        if trace is not None:
            trace.update({"l2.center_idx": l_c, "l2.knn_idx": l_k, "l2.center": c2})
        pc = self.prompt_cor.unsqueeze(0).expand(B, -1, -1)
        if cfg.mode == "faithful":
            # FPS G over [prompt_cor; raw points] (the authors' Group(G,M) on prompt_pts;
            # its kNN output is unused), then level-2 grouping over those G positions.
            ppts = torch.cat((pc, pts), 1)
            pidx = pm.fps_indices(ppts, cfg.base.num_group)
            centerP = pm.gather_points(ppts, pidx)
            _, c2p, idx2p, cidx2p = self.level2(centerP)  # flat indices use stride G
            lp_c, lp_k = self.level2.last_local
            geo_prompt = (centerP, c2p, idx2p, cidx2p, k)
            if trace is not None:
                trace.update({"p.center_idx": pidx, "p.center": centerP})
        else:
            tokxyz = torch.cat((pc, center), 1)  # [B,T+G,3], same order as the [P'; X] table
            _, c2p, idx2p, cidx2p = self.level2(tokxyz)  # flat indices use stride T+G
            lp_c, lp_k = self.level2.last_local
            geo_prompt = (center, c2p, idx2p, cidx2p, k)
            if trace is not None:
                trace["p.tokxyz"] = tokxyz
        if trace is not None:
            trace.update({"l2p.center_idx": lp_c, "l2p.knn_idx": lp_k, "l2p.center": c2p})
        return geo_prompt, geo_plain

    def forward(self, pts, cp_feat=None, trace=None):
        nb, center, _, _ = self.group_divider(pts)
        if trace is not None:
            cidx, kidx = self.group_divider.last_local
            trace.update({"center_idx": cidx, "knn_idx": kidx, "center": center, "neighborhood": nb})
        tok = self.encoder(nb)
        B = tok.shape[0]
        pos = self.pos_embed(center)
        if trace is not None:
            trace.update({"tokens": tok, "pos": pos})
        x = torch.cat((self.cls_token.expand(B, -1, -1), tok), 1)
        posf = torch.cat((self.cls_pos.expand(B, -1, -1), pos), 1)
        geo_prompt, geo_plain = self.geometry(pts, center, trace)
        cache = None
        if cp_feat is not None:
            cache = cache_prompt_from_bank(cp_feat, self.train_images_features_agg, self.cfg.K, trace)
        x = self.blocks(x, posf, geo_prompt, geo_plain, cache, trace)
        x = self.norm(x)
        f = torch.cat([x[:, 0], x[:, 1:].max(1)[0]], dim=-1)
        logits = self.cls_head_finetune(f)
        if trace is not None:
            trace.update({"norm": x, "features": f, "logits": logits})
        return logits

    def load_model_from_ckpt(self, state: dict):
        return self.load_state_dict(pm.map_pretrain_to_finetune(state), strict=False)


# ----------------------------------------------------------------------------
# trainable-parameter filter (MAE/tools/runner_cache_prompt.py, applied to
# DataParallel names, i.e. with a leading "module.")

TRAINABLE_SUBSTRINGS = (
    "attn_free_linear", "cp", "adapter1", "norm3", "attn1.", "out_transform", ".adapter.", "proj.bias",
    "fc2.bias", "fc1.bias", "norm2.bias", "norm1.bias", "prompt_cor", "cache_gate", "cls_pos", "cls_token",
    "cls_head_", "norm.", ".gate", "ad_gate", "prompt_embedding",
)


def is_trainable(name: str) -> bool:
    n = "module." + name
    return any(s in n for s in TRAINABLE_SUBSTRINGS)


def apply_trainable_filter(model: nn.Module):
    for n, p in model.named_parameters():
        p.requires_grad_(is_trainable(n))


def param_counts(model: nn.Module):
    total = sum(p.numel() for p in model.parameters())
    train = sum(p.numel() for n, p in model.named_parameters() if is_trainable(n))
    return train, total


def _check_counts():
    for name, cfg, want_t, want_total in (
        ("PB_T50_RS", full_scan_config(), 773017, 22560409),
        ("ModelNet40", full_modelnet_config(), 807108, 22594500),
    ):
        m = PointTransformer_best(cfg)
        t, tot = param_counts(m)
        print(f"{name}: trainable {t:,} of total {tot:,}")
        assert t == want_t, (name, t, want_t)
        assert tot == want_total, (name, tot, want_total)
        head = sum(p.numel() for p in m.cls_head_finetune.parameters())
        print(f"  head {head:,}")


if __name__ == "__main__":
    _check_counts()
