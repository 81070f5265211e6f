#!/usr/bin/env python3
"""Print the torch reference numbers that tests/optim/test_*.cpp hold as literals.

Run once (torch 1.9 - 1.13, CPU) and paste the output into the tests:

    /usr/bin/python3 tests/optim/make_reference.py > /tmp/optim_reference.txt

It is not run by the test suite. Every number is printed with 17 significant
digits, so a double read back from the literal is the value torch computed.

Sections:
  * OneCycleLR (three_phase=False, anneal 'cos', pct_start 0.3, div_factor 25,
    final_div_factor 1e4, beta1 cycled 0.95 -> 0.85 -> 0.95), stepped once per
    epoch: lr and beta1 in force during epoch e, for e = 0..E-1, E = 100 and E = 7,
    max_lr 0.0025.
  * CosineAnnealingLR (T_max = E, eta_min 0), stepped once per epoch, base lr
    0.0025: lr in force during epoch e = 0..E, for E = 100 and E = 7.
  * Adam and AdamW in float64: three separate optimizers (one per parameter group,
    as in the reference training code), three steps with fixed gradients, and
    beta1 set by hand before every step (a different sequence per group).
"""
import torch


def fmt(x):
    return "%.17g" % x


def cpp_array(name, values, per_line=4):
    lines = []
    for i in range(0, len(values), per_line):
        lines.append("    " + ", ".join(fmt(v) for v in values[i:i + per_line]) + ",")
    return "const double %s[%d] = {\n%s\n};" % (name, len(values), "\n".join(lines))


def one_cycle(E, max_lr):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([p], lr=max_lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=max_lr, total_steps=E, pct_start=0.3, anneal_strategy="cos",
        cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
        div_factor=25.0, final_div_factor=1e4, three_phase=False)
    lrs, b1s = [], []
    for _ in range(E):
        lrs.append(opt.param_groups[0]["lr"])
        b1s.append(opt.param_groups[0]["betas"][0])
        opt.step()  # no gradient: a no-op, only keeps the scheduler from warning
        sched.step()
    return lrs, b1s


def cosine(E, base_lr):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([p], lr=base_lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=E, eta_min=0.0)
    lrs = []
    for _ in range(E + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


# Inputs of the optimizer test (all exactly representable in float32 as well).
P0 = {
    "weights": [0.5, -0.25, 1.0, 0.125, -0.75, 2.0],  # a 2 x 3 tensor, row-major
    "neuron": [0.25, -0.5],
    "skip": [0.0, 0.0, 0.0, 0.0],
}
GRADS = [  # one gradient per step and group
    {"weights": [0.1, -0.2, 0.3, 0.0, 0.5, -1.0], "neuron": [0.01, -0.02],
     "skip": [0.25, -0.125, 0.0, 0.5]},
    {"weights": [0.2, 0.1, -0.3, 0.0625, 0.5, -0.5], "neuron": [-0.03, 0.04],
     "skip": [0.125, 0.125, -0.0625, 0.25]},
    {"weights": [-0.1, 0.05, 0.2, -0.0625, 0.25, 0.75], "neuron": [0.02, 0.0],
     "skip": [-0.25, 0.5, 0.0625, 0.0]},
]
BETA1 = {  # beta1 in force at steps 1, 2, 3
    "weights": [0.95, 0.9, 0.85],
    "neuron": [0.9, 0.9, 0.9],
    "skip": [0.85, 0.95, 0.9],
}


def run_adam(cls, settings):
    params, opts = {}, {}
    for g in ("weights", "neuron", "skip"):
        params[g] = torch.tensor(P0[g], dtype=torch.float64, requires_grad=True)
        lr, wd = settings[g]
        opts[g] = cls([params[g]], lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    out = []
    for s, grads in enumerate(GRADS):
        for g in ("weights", "neuron", "skip"):
            opts[g].param_groups[0]["betas"] = (BETA1[g][s], 0.999)
            params[g].grad = torch.tensor(grads[g], dtype=torch.float64)
            opts[g].step()
        out.append([v for g in ("weights", "neuron", "skip") for v in params[g].tolist()])
    return out


ADAM_SETTINGS = {"weights": (0.01, 0.1), "neuron": (1e-4, 0.0), "skip": (0.25, 0.0)}
ADAMW_SETTINGS = {"weights": (0.001, 0.01), "neuron": (1e-4, 0.0), "skip": (0.1, 0.0)}

if __name__ == "__main__":
    torch.set_printoptions(precision=17)
    print("// torch", torch.__version__)
    for E in (100, 7):
        lrs, b1s = one_cycle(E, 0.0025)
        print(cpp_array("kOneCycleLr%d" % E, lrs))
        print(cpp_array("kOneCycleBeta1_%d" % E, b1s))
    for E in (100, 7):
        print(cpp_array("kCosineLr%d" % E, cosine(E, 0.0025)))
    for name, cls, settings in (("Adam", torch.optim.Adam, ADAM_SETTINGS),
                                ("AdamW", torch.optim.AdamW, ADAMW_SETTINGS)):
        steps = run_adam(cls, settings)
        for s, values in enumerate(steps):
            print(cpp_array("k%sStep%d" % (name, s + 1), values))
