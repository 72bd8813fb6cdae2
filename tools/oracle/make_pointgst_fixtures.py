#!/usr/bin/python3
"""Write the PointGST oracle fixtures (testdata/oracle/pointgst_*), or full-size outputs.

    /usr/bin/python3 tools/oracle/make_pointgst_fixtures.py             # reduced, into testdata/oracle/
    /usr/bin/python3 tools/oracle/make_pointgst_fixtures.py --full DIR  # PB_T50_RS size, into DIR (~90 MB)

Seeded: re-running gives the same bytes on the same torch build. It also asserts the
full-size parameter counts, prints the float32-vs-float64 spread of the reduced model,
and what the released get_basis does on this machine at full size (pointgst.literal_basis_report).
"""

import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402
import pointgst as pg  # noqa: E402
import pointmae as pm  # noqa: E402

SEED = 20250601
REDUCED = pm.MAEConfig(trans_dim=36, depth=2, num_heads=6, drop_path_rate=0.1, num_group=16, group_size=8,
                       cls_dim=5, npoints=256, enc_widths=(16, 32, 64), pos_hidden=32, head_hidden=32)


def reduced_config(mode):
    return pg.GSTConfig(base=REDUCED, rank=6, local=8, mode=mode)


def build(cfg, gen):
    """The model with every parameter and BN statistic seeded and non-trivial (up and
    adapt1 start at zero in the authors' init, which would hide most of the adapter)."""
    torch.manual_seed(SEED)
    m = pg.PointTransformer_PGST(cfg)
    mf.randomize(m, gen)
    return m


def run(model, pts, labels, dtype=torch.float32):
    """make_fixtures.run_backbone (eval trace; one train-mode step without dropout or
    drop path), keeping the gradients of what the authors' filter trains: they do not
    depend on what else requires grad."""
    ev, tr, grads, bn = mf.run_backbone(model, pts, labels, dtype)
    grads = {n: g for n, g in grads.items() if pg.is_trainable(n)}
    return ev, tr["logits"], tr["loss"], grads, bn


def state(model):
    """The authors' checkpoint layout: DataParallel keys under 'base_model'."""
    return {"base_model": {"module." + k: v for k, v in model.state_dict().items()}}


def tensors(ev, logits, loss, grads, bn):
    t = {"eval.logits": ev["logits"], "eval.U": ev["U"], "eval.sub_U": ev["sub_U"],
         "train.logits": logits, "train.loss": loss.reshape(1)}
    t.update({"grad." + k: v for k, v in grads.items()})
    t.update({"bn_after." + k: v for k, v in bn.items()})
    return t


def reduced():
    gen = torch.Generator().manual_seed(SEED)
    pts = mf.make_points(gen)
    labels = torch.randint(0, REDUCED.cls_dim, (pts.shape[0],), generator=gen)
    model = build(reduced_config("faithful"), gen)
    sd = model.state_dict()
    common = {"points": pts, "labels": labels}
    for mode in ("faithful", "fixed"):
        m = pg.PointTransformer_PGST(reduced_config(mode))
        m.load_state_dict(sd)
        ev, logits, loss, grads, bn = run(m, pts, labels)
        common.update({"center": ev["center"], "z_order": ev["z_order"]})
        meta = {"config": json.dumps(REDUCED.__dict__), "rank": 6, "local": 8, "mode": mode, "seed": SEED}
        mf.write_safetensors(os.path.join(mf.OUT, f"pointgst_{mode}.safetensors"),
                             tensors(ev, logits, loss, grads, bn), meta)
        ev64, logits64, _, grads64, _ = run(m, pts, labels, torch.float64)
        print(f"{mode}: float32 vs float64 eval logits {mf.rel(ev['logits'], ev64['logits']):.2e}, "
              f"train logits {mf.rel(logits, logits64):.2e}, "
              f"gradients {json.dumps(mf.grad_report(grads, grads64))}")
    mf.write_safetensors(os.path.join(mf.OUT, "pointgst_common.safetensors"), common,
                         {"config": json.dumps(REDUCED.__dict__), "seed": SEED})
    torch.save(state(model), os.path.join(mf.OUT, "pointgst.pth"))
    for f in sorted(os.listdir(mf.OUT)):
        if f.startswith("pointgst"):
            print(f"  {f:32s} {os.path.getsize(os.path.join(mf.OUT, f)):8d} bytes")


def full(out, batch=4):
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)
    cfg = pg.full_scan_config()
    pts = torch.randn(batch, cfg.base.npoints, 3, generator=gen) * 0.5
    labels = torch.randint(0, cfg.base.cls_dim, (batch,), generator=gen)
    # A backbone in the authors' default initialisation (the role of the pre-trained
    # weights); only what trains is re-randomised. Seeding every frozen weight too makes
    # the 12-block float32 pass itself ill-conditioned (train logits 3e-4 from float64).
    torch.manual_seed(SEED)
    model = pg.PointTransformer_PGST(cfg)
    mf.randomize(model, gen, skip=tuple(n for n, _ in model.named_parameters() if not pg.is_trainable(n)))
    torch.save(state(model), os.path.join(out, "pointgst.pth"))
    mf.write_safetensors(os.path.join(out, "full_pointgst_common.safetensors"), {"points": pts, "labels": labels})
    for mode in ("faithful", "fixed"):
        m = pg.PointTransformer_PGST(pg.full_scan_config(mode))
        m.load_state_dict(model.state_dict())
        ev, logits, loss, grads, bn = run(m, pts, labels)
        mf.write_safetensors(os.path.join(out, f"full_pointgst_{mode}.safetensors"), tensors(ev, logits, loss, grads, bn))
        ev64, logits64, _, grads64, _ = run(m, pts, labels, torch.float64)
        print(f"{mode}: float32 vs float64 eval logits {mf.rel(ev['logits'], ev64['logits']):.2e}, "
              f"train logits {mf.rel(logits, logits64):.2e}, gradients {json.dumps(mf.grad_report(grads, grads64))}")
        if mode == "faithful":
            print("released get_basis at full size:", json.dumps(pg.literal_basis_report(ev["center"])))
    print("wrote", out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", metavar="DIR", help="write the full-size PB_T50_RS outputs into DIR (outside the repo)")
    a = ap.parse_args()
    pg.check_counts()
    if a.full:
        full(a.full)
    else:
        reduced()


if __name__ == "__main__":
    main()
