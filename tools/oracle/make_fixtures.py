#!/usr/bin/python3
"""Write the oracle fixtures for the Go tests (testdata/oracle/), or time the full model.

    /usr/bin/python3 tools/oracle/make_fixtures.py            # writes testdata/oracle/*
    /usr/bin/python3 tools/oracle/make_fixtures.py --full     # full-size timings/shapes, writes nothing
    /usr/bin/python3 tools/oracle/make_fixtures.py --check64  # only the float32-vs-float64 report

Everything is seeded; re-running gives the same bytes on the same torch build.
See testdata/oracle/README.md for the file contents.
"""

import argparse
import json
import os
import struct
import sys
import time
from dataclasses import replace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pointmae as pm  # noqa: E402
import pointpeft_model as pp  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "testdata", "oracle")
SEED = 20240227

# ----------------------------------------------------------------------------
# reduced configurations

BACKBONE = pm.MAEConfig(trans_dim=36, depth=2, num_heads=6, drop_path_rate=0.1, num_group=16, group_size=8,
                        cls_dim=5, npoints=256, enc_widths=(16, 32, 64), pos_hidden=32, head_hidden=32,
                        decoder_depth=1, decoder_num_heads=6)
PEFT_BASE = replace(BACKBONE, depth=4)
CP = replace(PEFT_BASE, num_group=8, group_size=8)  # pre-training / cp model (64x32 in the full config)
BANK_N = 12
BATCH = 3


def peft_config(mode):
    return pp.PEFTConfig(base=PEFT_BASE, num_tokens=4, prompt_layers=(0, 1), adapter_dim=8, cp_reduction=4,
                         mode=mode)


# ----------------------------------------------------------------------------
# safetensors


def write_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype.is_floating_point:
            arr, dt = t.to(torch.float32).numpy().astype("<f4"), "F32"
        else:
            arr, dt = t.to(torch.int64).numpy().astype("<i8"), "I64"
        b = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {k: str(v) for k, v in (metadata or {}).items()}
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((-len(hb)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for k, v in header.items():
        b, e = v["data_offsets"]
        dt = {"F32": "<f4", "I64": "<i8"}[v["dtype"]]
        out[k] = torch.from_numpy(np.frombuffer(data[b:e], dtype=dt).copy().reshape(v["shape"]))
    return out, meta


# ----------------------------------------------------------------------------
# deterministic non-trivial initialisation


def randomize(model, gen, skip=()):
    """Give every parameter and BN buffer a seeded, non-trivial value."""
    def nrm(shape, std, mean=0.0):
        return torch.randn(shape, generator=gen) * std + mean

    mods = dict(model.named_modules())
    with torch.no_grad():
        for name, p in model.named_parameters():
            if any(name.startswith(s) for s in skip):
                continue
            mname, _, leaf = name.rpartition(".")
            m = mods.get(mname)
            if isinstance(m, (nn.LayerNorm, nn.BatchNorm1d)):
                p.copy_(nrm(p.shape, 0.2, 1.0) if leaf == "weight" else nrm(p.shape, 0.1))
            elif isinstance(m, (nn.Linear, nn.Conv1d)):
                if leaf == "weight":
                    fan_in = p.shape[1] * (p.shape[2] if p.dim() == 3 else 1)
                    p.copy_(nrm(p.shape, fan_in ** -0.5))
                else:
                    p.copy_(nrm(p.shape, 0.1))
            elif leaf == "prompt_cor":
                v = nrm(p.shape, 0.6)
                v[min(2, p.shape[0] - 1)] = torch.tensor([0.01, -0.015, 0.02])  # |p|^2 <= 1e-3: FPS must skip it
                p.copy_(v)
            else:  # cls_token, cls_pos, mask_token, prompt_embeddings, ad_gate
                p.copy_(nrm(p.shape, 0.5))
        for name, bnm in model.named_modules():
            if isinstance(bnm, nn.BatchNorm1d):
                if any(name.startswith(s) for s in skip):
                    continue
                bnm.running_mean.copy_(nrm(bnm.running_mean.shape, 0.1))
                bnm.running_var.copy_(torch.rand(bnm.running_var.shape, generator=gen) + 0.5)
                bnm.num_batches_tracked.fill_(7)


def make_points(gen, B=BATCH, N=256):
    """Three clouds that exercise the FPS/kNN rules:
    0: uniform cube with two exact duplicate points (kNN ties -> lower index);
    1: unit sphere plus three points with |p|^2 <= 1e-3 that plain FPS would pick;
    2: anisotropic Gaussian whose point 0 is near the origin (FPS still starts there)."""
    p0 = torch.rand(N, 3, generator=gen) * 2 - 1
    p0[11] = p0[10]
    p0[41] = p0[40]
    s = torch.randn(N, 3, generator=gen)
    p1 = s / s.norm(dim=1, keepdim=True)
    for i, v in ((7, (0.01, 0.0, -0.02)), (100, (0.0, 0.0, 0.0)), (200, (-0.012, 0.02, 0.005))):
        p1[i] = torch.tensor(v)
    p2 = torch.randn(N, 3, generator=gen) * torch.tensor([0.8, 0.4, 0.25])
    p2[0] = torch.tensor([0.005, 0.01, -0.01])
    return torch.stack([p0, p1, p2])[:B]


def bn_buffers(model):
    return {k: v for k, v in model.state_dict().items()
            if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


def detach_all(d, prefix):
    return {prefix + k: (v.detach() if torch.is_tensor(v) else torch.tensor(v)) for k, v in d.items()}


def as1(x):
    return x.detach().reshape(1)


# ----------------------------------------------------------------------------
# backbone


def build_backbone(gen):
    torch.manual_seed(SEED)
    m = pm.PointTransformer(BACKBONE)
    randomize(m, gen)
    return m


def run_backbone(model, pts, labels, dtype=torch.float32):
    """Returns (eval trace, train trace incl. grads)."""
    import copy
    m = copy.deepcopy(model).to(dtype)
    pts = pts.to(dtype)
    m.eval()
    ev = {}
    with torch.no_grad():
        m(pts, trace=ev)
    m.train()
    pm.disable_stochasticity(m)
    logits = m(pts)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in m.named_parameters()}
    tr = {"logits": logits.detach(), "loss": loss.detach()}
    return ev, tr, grads, bn_buffers(m)


# ----------------------------------------------------------------------------
# pre-training model / cp model


def build_pretrain(gen):
    torch.manual_seed(SEED + 1)
    m = pm.Point_MAE(CP)
    randomize(m, gen)
    return m


def cp_feature(cp_model, pts, trace=None):
    cp_model.eval()
    with torch.no_grad():
        return cp_model(pts, eval=True, trace=trace)


# ----------------------------------------------------------------------------
# Point-PEFT


def build_peft(mode, pretrain, gen_state):
    """PEFT model = pre-trained weights loaded with the authors' key mapping, then every
    PEFT-trainable parameter and every BN running statistic re-randomised (a model in the
    middle of training, so that the backbone differs from the cp model)."""
    torch.manual_seed(SEED + 2)
    m = pp.PointTransformer_best(peft_config(mode))
    sd = {"module." + k: v for k, v in pretrain.state_dict().items()}
    inc = m.load_model_from_ckpt(sd)
    gen = torch.Generator().manual_seed(gen_state)
    frozen = [n for n, _ in m.named_parameters() if not pp.is_trainable(n)]
    randomize(m, gen, skip=tuple(frozen))
    return m, inc


def make_bank(gen, C):
    b = torch.randn(C, BANK_N, generator=gen)
    return b / b.norm(dim=0, keepdim=True)


def run_peft(model, pts, labels, cp_feat, bank, dtype=torch.float32):
    import copy
    m = copy.deepcopy(model).to(dtype)
    m.train_images_features_agg = bank.to(dtype)
    pts, cp_feat = pts.to(dtype), cp_feat.to(dtype)
    m.eval()
    ev = {}
    with torch.no_grad():
        m(pts, cp_feat, trace=ev)
    m.train()
    pm.disable_stochasticity(m)
    pp.apply_trainable_filter(m)
    logits = m(pts, cp_feat)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    grads, nograd = trainable_grads(m)
    return ev, {"logits": logits.detach(), "loss": loss.detach()}, grads, bn_buffers(m), nograd


def trainable_grads(model):
    """The gradient of every trainable parameter by name, zeros where autograd left
    None, and the names of those."""
    grads, nograd = {}, []
    for n, p in model.named_parameters():
        if p.requires_grad:
            if p.grad is None:
                nograd.append(n)
                grads[n] = torch.zeros_like(p)
            else:
                grads[n] = p.grad.detach().clone()
    return grads, nograd


# ----------------------------------------------------------------------------
# float64 cross-check


def rel(a, b):
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def grad_report(g32, g64):
    """Per-tensor max|g32-g64| / max|g64| over tensors whose float64 gradient is not
    (structurally) zero, i.e. max|g64| >= 1e-6 * the largest gradient entry; the rest are
    listed with their largest float32 entry relative to that global scale."""
    scale = max(v.abs().max().item() for v in g64.values())
    big = {k: rel(g32[k], g64[k]) for k in g64 if g64[k].abs().max().item() >= 1e-6 * scale}
    zero = {k: g32[k].abs().max().item() / scale for k in g64 if k not in big}
    worst = max(big, key=big.get)
    return {"grad_rel_max": big[worst], "grad_rel_worst": worst,
            "grad_rel_median": float(np.median(list(big.values()))),
            "zero_grad_tensors": {k: f"{v:.1e}" for k, v in sorted(zero.items())}}


def check64(pts, labels, backbone, pretrain, pefts, bank):
    rep = {}
    e32, t32, g32, _ = run_backbone(backbone, pts, labels, torch.float32)
    e64, t64, g64, _ = run_backbone(backbone, pts, labels, torch.float64)
    rep["backbone"] = {
        "eval_logits": rel(e32["logits"], e64["logits"]),
        "train_logits": rel(t32["logits"], t64["logits"]),
        "loss": rel(t32["loss"], t64["loss"]),
        "indices_equal": bool(torch.equal(e32["center_idx"], e64["center_idx"]) and
                              torch.equal(e32["knn_idx"], e64["knn_idx"])),
    }
    rep["backbone"].update(grad_report(g32, g64))
    import copy
    pre64 = copy.deepcopy(pretrain).double()
    q32 = cp_feature(pretrain, pts)
    q64 = cp_feature(pre64, pts.double())
    rep["cp_feature"] = rel(q32, q64)
    for mode, m in pefts.items():
        e32, t32, g32, _, _ = run_peft(m, pts, labels, q32, bank, torch.float32)
        e64, t64, g64, _, _ = run_peft(m, pts, labels, q64, bank, torch.float64)
        g32 = {k: v for k, v in g32.items() if g64[k].abs().max() > 0 or v.abs().max() > 0}
        g64 = {k: g64[k] for k in g32}
        r = {
            "eval_logits": rel(e32["logits"], e64["logits"]),
            "train_logits": rel(t32["logits"], t64["logits"]),
            "loss": rel(t32["loss"], t64["loss"]),
            "indices_equal": all(torch.equal(e32[k], e64[k]) for k in e64 if not e64[k].dtype.is_floating_point),
        }
        r.update(grad_report(g32, g64))
        rep["peft_" + mode] = r
    return rep


# ----------------------------------------------------------------------------
# main: fixtures


def fixtures(write=True):
    gen = torch.Generator().manual_seed(SEED)
    pts = make_points(gen)
    labels = torch.randint(0, BACKBONE.cls_dim, (BATCH,), generator=gen)
    os.makedirs(OUT, exist_ok=True)

    # FPS rule sanity: the |p|^2 <= 1e-3 rule must change cloud 1's picks
    plain = _fps_without_rule(pts[1:2], BACKBONE.num_group)
    ruled = pm.fps_indices(pts[1:2], BACKBONE.num_group)
    assert not torch.equal(plain, ruled), "fixture cloud 1 no longer exercises the FPS skip rule"

    # ---- backbone
    backbone = build_backbone(gen)
    ev, tr, grads, bn = run_backbone(backbone, pts, labels)
    t = {"points": pts, "labels": labels}
    t.update(detach_all(ev, "eval."))
    t["train.logits"] = tr["logits"]
    t["train.loss"] = as1(tr["loss"])
    t.update({"grad." + k: v for k, v in grads.items()})
    t.update({"bn_after." + k: v for k, v in bn.items()})
    if write:
        torch.save({"base_model": backbone.state_dict()}, os.path.join(OUT, "pointmae_finetune.pth"))
        write_safetensors(os.path.join(OUT, "pointmae_finetune.safetensors"), t,
                          {"config": json.dumps(BACKBONE.__dict__), "seed": SEED})

    # ---- pre-training model and cp model
    pretrain = build_pretrain(gen)
    mask = pretrain.MAE_encoder.random_mask(BATCH, CP.num_group, generator=gen)
    cp_tr = {}
    q = cp_feature(pretrain, pts, cp_tr)
    pretrain.eval()
    mae_ev = {}
    with torch.no_grad():
        pretrain(pts, mask=mask, trace=mae_ev)
    import copy
    ptr = copy.deepcopy(pretrain).train()
    pm.disable_stochasticity(ptr)
    with torch.no_grad():
        loss_train = ptr(pts, mask=mask)
    t = {"points": pts, "mask": mask.long()}
    t.update(detach_all({k: v for k, v in cp_tr.items()}, "cp."))
    for k in ("x_vis", "x_rec", "rebuild", "gt"):
        t["mae_eval." + k] = mae_ev[k]
    t["mae_eval.loss"] = as1(mae_ev["loss"])
    t["mae_train.loss"] = as1(loss_train)
    if write:
        sd = {"module." + k: v for k, v in pretrain.state_dict().items()}
        torch.save({"base_model": sd, "epoch": 300}, os.path.join(OUT, "pointmae_pretrain.pth"))
        write_safetensors(os.path.join(OUT, "pointmae_pretrain.safetensors"), t,
                          {"config": json.dumps(CP.__dict__), "seed": SEED})

    # ---- Point-PEFT
    bank = make_bank(gen, CP.trans_dim)
    peft_seed = SEED + 7
    pefts = {}
    for mode in ("faithful", "fixed"):
        m, inc = build_peft(mode, pretrain, peft_seed)
        pefts[mode] = m
    # both modes share one set of weights (same seed, same construction)
    sdf, sdx = pefts["faithful"].state_dict(), pefts["fixed"].state_dict()
    assert all(torch.equal(sdf[k], sdx[k]) for k in sdf)
    common = {"points": pts, "labels": labels, "bank": bank, "cp_feat": q}
    modes_meta = {}
    for mode, m in pefts.items():
        ev, tr, grads, bn, nograd = run_peft(m, pts, labels, q, bank)
        t = {}
        shared = ("center_idx", "knn_idx", "center", "neighborhood", "tokens", "pos", "l2.center_idx",
                  "l2.knn_idx", "l2.center", "bank.scores", "bank.topk_idx", "bank.topk_w", "cache_prompt")
        for k, v in ev.items():
            if k in shared:
                if k in common:
                    assert torch.equal(common[k], v.detach())
                common[k] = v.detach()
            else:
                t["eval." + k] = v
        t["train.logits"] = tr["logits"]
        t["train.loss"] = as1(tr["loss"])
        t.update({"grad." + k: v for k, v in grads.items()})
        t.update({"bn_after." + k: v for k, v in bn.items()})
        modes_meta[mode] = nograd
        if write:
            write_safetensors(os.path.join(OUT, f"pointpeft_{mode}.safetensors"), t,
                              {"config": json.dumps(_cfg_dict(peft_config(mode))), "seed": SEED,
                               "grad_none": json.dumps(nograd)})
    if write:
        torch.save({"base_model": pefts["faithful"].state_dict()}, os.path.join(OUT, "pointpeft.pth"))
        torch.save(bank, os.path.join(OUT, "bank.pt"))
        write_safetensors(os.path.join(OUT, "pointpeft_common.safetensors"), common,
                          {"config": json.dumps(_cfg_dict(peft_config("faithful"))),
                           "cp_config": json.dumps(CP.__dict__), "seed": SEED})
        _roundtrip_check()
        print("wrote", OUT)
        for f in sorted(os.listdir(OUT)):
            print(f"  {f:36s} {os.path.getsize(os.path.join(OUT, f)):9d} bytes")
        print("grad None (written as zeros):", json.dumps(modes_meta))
    tp, tot = pp.param_counts(pefts["faithful"])
    print(f"reduced PEFT: trainable {tp} of {tot}; backbone params {pm.count_params(backbone)}")
    return pts, labels, backbone, pretrain, pefts, bank


def _cfg_dict(cfg):
    d = dict(cfg.__dict__)
    d["base"] = cfg.base.__dict__
    d["K"] = cfg.K
    return d


@torch.no_grad()
def _fps_without_rule(xyz, n):
    B, N, _ = xyz.shape
    temp = torch.full((B, N), 1e10)
    out = torch.zeros(B, n, dtype=torch.long)
    old = torch.zeros(B, dtype=torch.long)
    for j in range(1, n):
        d = ((xyz - xyz[torch.arange(B), old][:, None]) ** 2).sum(-1)
        temp = torch.minimum(temp, d)
        old = temp.argmax(1)
        out[:, j] = old
    return out


def _roundtrip_check():
    for f in os.listdir(OUT):
        if f.endswith(".safetensors"):
            with open(os.path.join(OUT, f), "rb") as fh:
                n = struct.unpack("<Q", fh.read(8))[0]
                assert n % 8 == 0
            read_safetensors(os.path.join(OUT, f))
    sd = torch.load(os.path.join(OUT, "pointpeft.pth"))["base_model"]
    m = pp.PointTransformer_best(peft_config("faithful"))
    m.load_state_dict(sd, strict=True)
    pre = torch.load(os.path.join(OUT, "pointmae_pretrain.pth"))["base_model"]
    assert all(k.startswith("module.") for k in pre)


# ----------------------------------------------------------------------------
# the authors' exported checkpoint (for the CLI)


@torch.no_grad()
def authors_checkpoint():
    """Writes pointpeft_authors.pth, the weights of pointpeft.pth as the authors' runner
    saves them (builder.save_checkpoint of a DataParallel model: every key under
    "module.", beside "optimizer", "epoch", "metrics" and "best_metrics"), and
    pointpeft_authors.safetensors with the eval logits of the committed points in both
    modes: "fixed" for the batch of 3, "faithful.single" for each sample alone (the
    faithful pass mixes the samples of a batch, so a CLI that predicts files one at a
    time is compared with this)."""
    sd = torch.load(os.path.join(OUT, "pointpeft.pth"))["base_model"]
    bank = torch.load(os.path.join(OUT, "bank.pt"))
    common, _ = read_safetensors(os.path.join(OUT, "pointpeft_common.safetensors"))
    pts, q = common["points"], common["cp_feat"]
    out = {}
    for mode in ("faithful", "fixed"):
        m = pp.PointTransformer_best(peft_config(mode))
        m.load_state_dict(sd, strict=True)
        m.train_images_features_agg = bank
        m.eval()
        if mode == "fixed":
            out["fixed"] = m(pts, q)
        else:
            out["faithful.single"] = torch.cat([m(pts[i:i + 1], q[i:i + 1]) for i in range(pts.shape[0])])
    gen = torch.Generator().manual_seed(SEED + 14)
    # the optimizer holds what the authors train (prompts, adapters, GA, head): small
    trained = ("prompt", "adapter", "attn1", "norm3", "out_transform", "cls_head")
    params = [torch.nn.Parameter(v.clone()) for k, v in sd.items()
              if v.is_floating_point() and "running" not in k and any(t in k for t in trained)]
    opt = torch.optim.AdamW(params, lr=5e-4, weight_decay=0.05)
    for p_ in params:
        p_.grad = torch.randn(p_.shape, generator=gen)
    with torch.enable_grad():
        opt.step()
    ckpt = {"base_model": {"module." + k: v for k, v in sd.items()}, "optimizer": opt.state_dict(), "epoch": 300,
            "metrics": {"acc": 0.0}, "best_metrics": {"acc": 0.0}}
    torch.save(ckpt, os.path.join(OUT, "pointpeft_authors.pth"))
    write_safetensors(os.path.join(OUT, "pointpeft_authors.safetensors"), out,
                      {"config": json.dumps(_cfg_dict(peft_config("faithful"))), "seed": SEED})
    for f in ("pointpeft_authors.pth", "pointpeft_authors.safetensors"):
        print(f"  {f:36s} {os.path.getsize(os.path.join(OUT, f)):9d} bytes")


# ----------------------------------------------------------------------------
# main: full size


def full(batch, out=None, threads=None):
    """Full-size PB_T50_RS configuration: prints timings and shapes.  With ``out`` it
    also writes (outside the repo) the weights and the main outputs so that the Go
    side can compare at full size: pretrain.pth (module.MAE_encoder.* layout),
    finetune.pth, pointpeft.pth, bank.pt and full_*.safetensors."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    cfg = pm.full_finetune_config()
    pts = torch.randn(batch, cfg.npoints, 3, generator=gen) * 0.5
    labels = torch.randint(0, cfg.cls_dim, (batch,), generator=gen)
    if out:
        os.makedirs(out, exist_ok=True)

    def timed(label, fn):
        t0 = time.perf_counter()
        r = fn()
        print(f"  {label:42s} {time.perf_counter() - t0:8.2f} s")
        return r

    def step(model, x, *extra):
        model.train()
        pm.disable_stochasticity(model)
        logits = model(x, *extra)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        return logits.detach(), loss.detach()

    print(f"full size, batch {batch}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    # the pre-trained model (authors' default init) is the source of every backbone weight
    pre = pm.Point_MAE(pm.full_pretrain_config())
    # Copies: state_dict() returns the live tensors, and the train-mode forward below
    # updates the BatchNorm statistics in place; cp_feat is computed with the saved ones.
    psd = {"module." + k: v.clone() for k, v in pre.state_dict().items()}
    print(f"Point-MAE pre-train: params {pm.count_params(pre):,}")
    q = timed("cp feature (eval, no_grad)", lambda: cp_feature(pre, pts))
    print(f"    cp_feat        {tuple(q.shape)}")
    pre.train()
    with torch.no_grad():
        timed("pre-training loss forward (train)", lambda: pre(pts))

    m = pm.PointTransformer(cfg)
    m.load_state_dict(pm.map_pretrain_to_finetune(psd), strict=False)
    print(f"Point-MAE fine-tune: params {pm.count_params(m):,}")
    m.eval()
    ev = {}
    with torch.no_grad():
        timed("backbone eval forward", lambda: m(pts, trace=ev))
    for k in ("center_idx", "knn_idx", "neighborhood", "tokens", "pos", "block.11", "features", "logits"):
        print(f"    {k:14s} {tuple(ev[k].shape)}")
    bsd = {k: v.clone() for k, v in m.state_dict().items()}
    lg, ls = timed("backbone train forward+backward", lambda: step(m, pts))
    if out:
        torch.save({"base_model": psd, "epoch": 300}, os.path.join(out, "pretrain.pth"))
        torch.save({"base_model": bsd}, os.path.join(out, "finetune.pth"))
        t = {"points": pts, "labels": labels, "cp_feat": q}
        t.update({"eval." + k: ev[k] for k in ("center_idx", "knn_idx", "tokens", "block.0", "features", "logits")})
        t.update({"train.logits": lg, "train.loss": ls.reshape(1)})
        write_safetensors(os.path.join(out, "full_backbone.safetensors"), t)

    bank = torch.randn(384, 11392, generator=gen)
    bank = bank / bank.norm(dim=0, keepdim=True)
    if out:
        torch.save(bank, os.path.join(out, "bank.pt"))
    for mode in ("faithful", "fixed"):
        torch.manual_seed(SEED + 2)
        pm_ = pp.PointTransformer_best(pp.full_scan_config(mode), bank)
        pm_.load_model_from_ckpt(psd)
        t, tot = pp.param_counts(pm_)
        print(f"Point-PEFT {mode}: trainable {t:,} of {tot:,}")
        if out and mode == "faithful":
            torch.save({"base_model": pm_.state_dict()}, os.path.join(out, "pointpeft.pth"))
        pm_.eval()
        ev = {}
        with torch.no_grad():
            timed(f"PEFT {mode} eval forward", lambda: pm_(pts, q, trace=ev))
        for k in ("cache_prompt", "prompt.0", "l2p.center_idx", "l2p.knn_idx", "block.11", "logits"):
            print(f"    {k:14s} {tuple(ev[k].shape)}")
        pp.apply_trainable_filter(pm_)
        lg, ls = timed(f"PEFT {mode} train forward+backward", lambda: step(pm_, pts, q))
        if out:
            t = {"cache_prompt": ev["cache_prompt"], "eval.logits": ev["logits"], "eval.block.0": ev["block.0"],
                 "eval.block.11": ev["block.11"], "train.logits": lg, "train.loss": ls.reshape(1)}
            t.update({"grad." + n: (p.grad if p.grad is not None else torch.zeros_like(p))
                      for n, p in pm_.named_parameters() if p.requires_grad})
            write_safetensors(os.path.join(out, f"full_pointpeft_{mode}.safetensors"), t)
    pp._check_counts()
    if out:
        print("wrote", out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="full-size timings and shapes; writes nothing")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--out", default=None, help="with --full: directory (outside the repo) for full-size outputs")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--check64", action="store_true", help="float32 vs float64 report only")
    ap.add_argument("--authors", action="store_true",
                    help="only pointpeft_authors.{pth,safetensors}, from the committed pointpeft.pth, bank.pt and points")
    ap.add_argument("--no-check64", action="store_true")
    a = ap.parse_args()
    if a.authors:
        authors_checkpoint()
        return
    if a.full:
        full(a.batch, a.out, a.threads)
        return
    pp._check_counts()
    st = fixtures(write=not a.check64)
    if not a.no_check64:
        rep = check64(*st)
        print("float32 vs float64 (max|f32-f64| / max|f64| per tensor):")
        print(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
