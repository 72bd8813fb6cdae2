"""PointGST reference model in plain PyTorch (torch 1.13, CPU): an oracle for the Go port
(peft/pointgst), written from the authors' code (github.com/jerryfeng2003/PointGST,
models/PGST.py, models/PointTransformer.py, tools/builder.py).

What differs from the released code, and why:

* Grouping is pointmae.Group (CPU FPS + kNN with the CUDA kernels' rules) instead of
  pointnet2_ops / KNN_CUDA.
* The z-order key is the authors' lookup-table encoding (ported from models/z_order.py),
  and the token sort is stable (torch.sort on CUDA does not promise an order for equal
  keys; equal keys need two centres within 0.01 of each other on every axis).
* get_basis measures distances exactly (``compute_mode="donot_use_mm_for_euclid_dist"``,
  in float64). Released, torch.cdist switches to the Gram-matrix formula above 25 nodes,
  whose diagonal holds float32 cancellation residues (2^-14 = 6.1e-5 and up); the
  "smallest positive distance" that scales the graph is then one of those residues, and
  the self-loop weights 1/(residue/s + 1) vary between 1/12 and 1 with the rounding of
  the BLAS in use. That basis is not reproducible across machines (see
  ``literal_basis_report``), so both modes use exact distances.
* Eigenvector signs are made canonical (largest-magnitude component positive): LAPACK,
  cuSOLVER and gonum choose them arbitrarily and the adapter is not sign-invariant.
  The basis is computed in float64 (the released code: float32 on the GPU).

Modes: ``faithful`` keeps the released "Fourier transform" U @ x (the authors' comment:
"should be U.transpose(-2, -1), we keep it for reproducing our results") and the scale
s = the smallest positive distance over the whole batch (``L[L > 0]`` flattens the
batch); ``fixed`` transforms with U^T and scales each graph by its own smallest distance.
"""

from dataclasses import dataclass

import torch
import torch.nn as nn

import pointmae as pm


@dataclass
class GSTConfig:
    base: pm.MAEConfig
    rank: int = 36
    local: int = 32
    mode: str = "faithful"


def full_scan_config(mode="faithful"):
    """cfgs/mae/finetune_scan_hardest_pgst.yaml (PB_T50_RS)."""
    return GSTConfig(base=pm.full_finetune_config(), mode=mode)


def full_modelnet_config(mode="faithful"):
    """cfgs/mae/finetune_modelnet_pgst.yaml."""
    return GSTConfig(base=pm.MAEConfig(num_group=64, cls_dim=40, npoints=1024), mode=mode)


# ----------------------------------------------------------------------------
# geometry: z-order and graph Fourier bases (no gradient)


def _spread8(v, shift):
    """Bits of v (0..255) placed at 3i+shift: the authors' KeyLUT tables."""
    key = torch.zeros_like(v)
    for i in range(8):
        key = key | (((v >> i) & 1) << (3 * i + shift))
    return key


_R256 = torch.arange(256, dtype=torch.int64)
_EX, _EY, _EZ = _spread8(_R256, 2), _spread8(_R256, 1), _spread8(_R256, 0)


def xyz2key(x, y, z):
    """16-bit Morton key from two 8-bit table look-ups, as models/z_order.py does."""
    x, y, z = x.long(), y.long(), z.long()
    lo = _EX[x & 255] | _EY[y & 255] | _EZ[z & 255]
    hi = _EX[(x >> 8) & 255] | _EY[(y >> 8) & 255] | _EZ[(z >> 8) & 255]
    return hi << 24 | lo


@torch.no_grad()
def z_order(center):
    """idx0 (z-order permutation) and idx1 (its inverse), [B,G] each. The key is taken
    from float32 centres, as released, also in a float64 run: x100 then truncation makes
    it sensitive to the last bit."""
    c = center.float() * 100
    key = xyz2key(c[:, :, 1], c[:, :, 0], c[:, :, 2])
    _, idx0 = torch.sort(key, dim=-1, stable=True)
    _, idx1 = torch.sort(idx0, dim=-1, stable=True)
    return idx0, idx1


def laplacian(adj):
    """Normalised Laplacian I - D^-1/2 A D^-1/2 with D = rowsum(A) + 1e-6 (get_laplacian)."""
    d = torch.rsqrt(adj.sum(-1) + 1e-6)
    dm = torch.diag_embed(d)
    return torch.eye(adj.shape[-1], dtype=adj.dtype) - dm @ adj @ dm


def canonical_signs(u):
    """Flip each eigenvector (column) so its largest-magnitude component is positive."""
    i = u.abs().argmax(dim=-2, keepdim=True)
    s = torch.sign(torch.gather(u, -2, i))
    return u * s


@torch.no_grad()
def get_basis(center, mode):
    """Laplacian eigenvectors [N,k,k] (columns, ascending eigenvalues) of the complete
    graphs on center [N,k,3] with weights 1/(d/s + I)."""
    c = center.double()
    d = torch.cdist(c, c, compute_mode="donot_use_mm_for_euclid_dist")
    eye = torch.eye(d.shape[-1], dtype=d.dtype)
    if mode == "faithful":
        s = d[d > 0].min()
    else:
        s = d.masked_fill(eye.bool(), float("inf")).amin(dim=(-2, -1), keepdim=True)
    adj = 1 / (d / s + eye)
    _, u = torch.linalg.eigh(laplacian(adj))
    return canonical_signs(u).to(center.dtype)


def sort_rows(pts, idx):
    return torch.gather(pts, 1, idx.unsqueeze(-1).expand(-1, -1, pts.size(-1)))


@torch.no_grad()
def literal_basis_report(center):
    """What the released get_basis does with float32 centres [B,G,3] on this machine:
    the scale it finds (a diagonal residue of the Gram-matrix cdist) against the true
    smallest distance, and how far its basis is from ours."""
    d = torch.cdist(center, center)
    diag = torch.diagonal(d, dim1=-2, dim2=-1)
    off = d + torch.eye(d.shape[-1]) * 1e9
    s = d[d > 0].min()
    adj = 1 / (d / s + torch.eye(d.shape[-1]))
    _, u = torch.linalg.eigh(laplacian(adj))
    ours = get_basis(center, "faithful")
    return {"positive_diagonal_residues": int((diag > 0).sum()), "largest_residue": diag.max().item(),
            "scale_found": s.item(), "smallest_distance": off.min().item(),
            "self_loop_weight_min": torch.diagonal(adj, dim1=-2, dim2=-1).min().item(),
            "basis_max_abs_diff": (canonical_signs(u.double()) - ours.double()).abs().max().item()}


# ----------------------------------------------------------------------------
# the adapter and the model


class PCSA(nn.Module):
    """Point Cloud Spectral Adapter (models/PGST.py), dropouts (all 0) omitted."""

    def __init__(self, dim, rank, mode):
        super().__init__()
        self.rank, self.mode = rank, mode
        self.norm_ly1 = nn.LayerNorm(rank)
        self.norm_ly2 = nn.LayerNorm(rank)
        self.act = nn.SiLU()
        self.down = nn.Linear(dim, rank)
        self.up = nn.Linear(rank, dim)
        self.adapt1 = nn.Linear(rank, rank)
        nn.init.zeros_(self.adapt1.weight)
        nn.init.zeros_(self.adapt1.bias)
        nn.init.xavier_uniform_(self.down.weight)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def _gft(self, u, x, norm):
        fwd, inv = (u, u.transpose(-2, -1)) if self.mode == "faithful" else (u.transpose(-2, -1), u)
        f = fwd @ x
        f = f + self.act(self.adapt1(norm(f)))
        return inv @ f

    def forward(self, inp, u, sub_u, idx):
        h = self.down(inp)
        B, gn, gs, _ = sub_u.shape
        G = gn * gs
        x = h[:, -G:, :]
        h = self.act(h)
        sub = sort_rows(x, idx[0]).reshape(B, gn, gs, self.rank)
        x = self._gft(u, x, self.norm_ly1)
        sub = self._gft(sub_u, sub, self.norm_ly2).reshape(B, G, self.rank)
        x = x + sort_rows(sub, idx[1])
        h[:, -G:, :] = x + h[:, -G:, :]
        return self.up(h)


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, drop_path, rank, mode):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.drop_path = pm.DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = pm.Mlp(dim, int(dim * mlp_ratio))
        self.attn = pm.Attention(dim, num_heads)
        self.gft_adapter = PCSA(dim, rank, mode)

    def forward(self, x, u, sub_u, idx):
        x = x + self.drop_path(self.attn(self.norm1(x)))
        t = self.gft_adapter(x, u, sub_u, idx)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x + t


class TransformerEncoder(nn.Module):
    def __init__(self, cfg: GSTConfig):
        super().__init__()
        b = cfg.base
        dpr = pm._dpr(b.drop_path_rate, b.depth)
        self.blocks = nn.ModuleList([Block(b.trans_dim, b.num_heads, b.mlp_ratio, dpr[i], cfg.rank, cfg.mode)
                                     for i in range(b.depth)])

    def forward(self, x, pos, u, sub_u, idx):
        for blk in self.blocks:
            x = blk(x + pos, u, sub_u, idx)
        return x


class PointTransformer_PGST(nn.Module):
    def __init__(self, cfg: GSTConfig):
        super().__init__()
        b = cfg.base
        self.cfg = cfg
        C = b.trans_dim
        self.group_divider = pm.Group(b.num_group, b.group_size)
        self.encoder = pm.Encoder(C, b.enc_widths)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        self.cls_pos = nn.Parameter(torch.randn(1, 1, C))
        self.pos_embed = pm.make_pos_embed(b)
        self.blocks = TransformerEncoder(cfg)
        self.norm = nn.LayerNorm(C)
        self.cls_head_finetune = pm.make_cls_head(b)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.cls_pos, std=0.02)

    def forward(self, pts, trace=None):
        nb, center, _, _ = self.group_divider(pts)
        mode, L = self.cfg.mode, self.cfg.local
        u = get_basis(center, mode)
        B, G, _ = center.shape
        idx0, idx1 = z_order(center)
        sub_center = sort_rows(center, idx0)
        sub_u = get_basis(sub_center.reshape(B * (G // L), L, 3), mode).reshape(B, G // L, L, L)
        tok = self.encoder(nb)
        pos = self.pos_embed(center)
        x = torch.cat([self.cls_token.expand(B, -1, -1), tok], dim=1)
        posf = torch.cat([self.cls_pos.expand(B, -1, -1), pos], dim=1)
        x = self.norm(self.blocks(x, posf, u, sub_u, [idx0, idx1]))
        f = torch.cat([x[:, 0], x[:, 1:].max(1)[0]], dim=-1)
        logits = self.cls_head_finetune(f)
        if trace is not None:
            trace.update({"center": center, "U": u, "sub_U": sub_u, "z_order": idx0, "logits": logits})
        return logits


def is_trainable(name):
    """tools/builder.py, optimizer part 'adapt'."""
    return "adapt" in name or "cls" in name


def apply_trainable_filter(model):
    for n, p in model.named_parameters():
        p.requires_grad_(is_trainable(n))


def param_counts(model):
    total = sum(p.numel() for p in model.parameters())
    train = sum(p.numel() for n, p in model.named_parameters() if is_trainable(n))
    return train, total


def check_counts():
    for name, cfg, want in (("PB_T50_RS", full_scan_config(), (622831, 22447855)),
                            ("ModelNet40", full_modelnet_config(), (629256, 22454280))):
        got = param_counts(PointTransformer_PGST(cfg))
        assert got == want, f"{name}: {got}, want {want}"
