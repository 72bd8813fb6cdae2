#!/usr/bin/python3
"""Golden values for the tensor engine's normalisation and activation ops.

Run by hand with Debian's torch 1.13 (apt-get install python3-torch):
    /usr/bin/python3 tools/oracle/ops_golden.py > tensor/testdata/ops_golden.json
CI never runs it; the Go test (tensor/golden_test.go) reads the JSON.

Each case gives the inputs, the forward output and the gradients of
L = sum(out * R) for a fixed random R, all as flat float lists (row-major).
"""
import json

import torch

torch.manual_seed(0)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def case(name, inputs, fn, **extra):
    """Run fn on leaf copies of inputs; record output and dL/dinput."""
    leaves = [x.clone().requires_grad_(True) for x in inputs]
    out = fn(*leaves)
    r = torch.randn(out.shape)
    (out * r).sum().backward()
    entry = {
        "name": name,
        "inputs": [{"shape": list(x.shape), "data": flat(x)} for x in inputs],
        "out": {"shape": list(out.shape), "data": flat(out)},
        "r": flat(r),
        "grads": [flat(x.grad) for x in leaves],
    }
    for k, v in extra.items():
        entry[k] = v() if callable(v) else v
    return entry


cases = []

x = torch.randn(3, 5, 8) * 2 + 0.5
w, b = torch.randn(8), torch.randn(8)
cases.append(case("layernorm", [x, w, b],
                  lambda x, w, b: torch.nn.functional.layer_norm(x, (8,), w, b, 1e-5)))

# BatchNorm1d on [N, C, L] input: the Go op takes channels-last [N*L, C], so the test
# transposes. Training mode updates the running statistics; those are checked too.
bn = torch.nn.BatchNorm1d(4)
with torch.no_grad():
    bn.weight.copy_(torch.randn(4))
    bn.bias.copy_(torch.randn(4))
    bn.running_mean.copy_(torch.randn(4))
    bn.running_var.copy_(torch.rand(4) + 0.5)
rm0, rv0 = flat(bn.running_mean), flat(bn.running_var)
x = torch.randn(3, 4, 5) * 3 + 1
bn.train()
cases.append(case("batchnorm_train", [x, bn.weight.detach(), bn.bias.detach()],
                  lambda x, w, b: torch.nn.functional.batch_norm(
                      x, bn.running_mean, bn.running_var, w, b, True, 0.1, 1e-5),
                  running_mean_before=rm0, running_var_before=rv0,
                  running_mean_after=lambda: flat(bn.running_mean),
                  running_var_after=lambda: flat(bn.running_var)))
x = torch.randn(3, 4, 5)
cases.append(case("batchnorm_eval", [x, bn.weight.detach(), bn.bias.detach()],
                  lambda x, w, b: torch.nn.functional.batch_norm(
                      x, bn.running_mean, bn.running_var, w, b, False, 0.1, 1e-5),
                  running_mean_before=lambda: flat(bn.running_mean),
                  running_var_before=lambda: flat(bn.running_var)))

x = torch.linspace(-6, 6, 97)
cases.append(case("gelu", [x], lambda x: torch.nn.functional.gelu(x)))
cases.append(case("softmax", [torch.randn(4, 7) * 3], lambda x: torch.softmax(x, -1)))
cases.append(case("log_softmax", [torch.randn(4, 7) * 3], lambda x: torch.log_softmax(x, -1)))
labels = [1, 0, 5, 3]
for s in (0.0, 0.1):
    cases.append(case("cross_entropy_%g" % s, [torch.randn(4, 6) * 2],
                      lambda x, s=s: torch.nn.functional.cross_entropy(
                          x, torch.tensor(labels), label_smoothing=s),
                      labels=labels, smoothing=s))

print(json.dumps({"torch": torch.__version__, "cases": cases}))
