#!/usr/bin/env python3
"""PyTorch baseline for asrc-bench: the Table 1 models run step by step, as the authors do.

The models follow the structure of the authors' public code (github.com/dgxdn/ASRC-SNN,
spikingjelly single-step modules): a Python loop over time steps; at every step each
hidden layer runs

    Linear -> dropout (mask fixed per sequence) -> + Linear_rec(no bias)(r_t) -> LIF

where r_t comes from a buffer of the layer's last K spike tensors (SRC: the oldest one,
s_{t-lambda}; ASRC in training: sum_j softmax(w / tau)_j s_{t-j}; ASRC in evaluation:
s_{t-j*}). The LIF neuron has decay 0.5, threshold 1, soft reset, and a Heaviside spike
whose backward is the triangle surrogate max(0, 1 - |x|) (a torch.autograd.Function).
The readout Linear runs at every step and its outputs are summed over time; the loss is
cross-entropy; a training step is forward, backward and an Adam / AdamW step.

Two forms of the spike buffer (--buffer):
  list (default)  a Python list of the last K spike tensors, rotated each step; the ASRC
                  mixture is a small autograd.Function that keeps references to those
                  tensors instead of a stacked copy. Same arithmetic as the authors' code,
                  but it does not keep a K x B x H copy alive per step for backward.
  roll            the authors' form: a K x B x H tensor shifted with torch.roll each
                  step and written at index 0; the SRC input is a view of it and the ASRC
                  mixture is (softmax(w / tau) * buffer).sum(0). Autograd keeps one buffer
                  per step and layer alive, so S-MNIST ASRC at batch 256 needs > 12 GB.

Each configuration runs in its own Python process, so that its peak resident memory
(VmHWM) is its own. Inputs are random with the sparsity of the real data.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# name: (input, hidden, classes, recurrence, skip, dropout, batch, steps, data,
#        optimizer, lr, weight decay, lr of the ASRC logits)
CONFIGS = {
    "gsc-src": (40, [128, 128, 128], 12, "src", 4, 0.1, 128, 101, "features", "adam", 2.5e-3, 0.0, 0.25),
    "gsc-asrc": (40, [128, 128, 128], 12, "asrc", 21, 0.1, 128, 101, "features", "adam", 2.5e-3, 0.0, 0.25),
    "ssc-src": (140, [256, 256, 256], 35, "src", 3, 0.1, 128, 250, "counts", "adam", 1e-3, 0.0, 0.1),
    "ssc-asrc": (140, [256, 256, 256], 35, "asrc", 6, 0.1, 128, 250, "counts", "adam", 1e-3, 0.0, 0.1),
    "smnist-src": (1, [64, 128, 128], 10, "src", 16, 0.0, 256, 784, "pixels", "adamw", 1e-3, 0.01, 0.1),
    "smnist-src-212": (1, [64, 212, 212], 10, "src", 12, 0.0, 256, 784, "pixels", "adamw", 1e-3, 0.01, 0.1),
    "smnist-asrc": (1, [64, 128, 128], 10, "asrc", 41, 0.0, 256, 784, "pixels", "adamw", 1e-3, 0.01, 0.1),
    "psmnist-src": (1, [64, 128, 128], 10, "src", 12, 0.0, 256, 784, "pixels", "adamw", 1e-3, 0.01, 0.1),
    "psmnist-src-212": (1, [64, 212, 212], 10, "src", 16, 0.0, 256, 784, "pixels", "adamw", 1e-3, 0.01, 0.1),
    "psmnist-asrc": (1, [64, 128, 128], 10, "asrc", 51, 0.0, 256, 784, "pixels", "adamw", 1e-3, 0.01, 0.1),
    "psmnist-asrc-212": (1, [64, 212, 212], 10, "asrc", 31, 0.0, 256, 784, "pixels", "adamw", 1e-3, 0.01, 0.1),
}


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def default_max_gb():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return round(0.9 * int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return 0.0


def vm_hwm_kib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


# ----------------------------------------------------------------------------------------
# One configuration (runs in a child process; imports torch only here).

def run_one(name, args):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    (n_in, hidden, n_out, rec, K, p_drop, batch, steps, data, opt_name, lr, wd,
     lr_skip) = CONFIGS[name]
    decay, theta = 0.5, 1.0

    class SpikeFn(torch.autograd.Function):
        """Heaviside forward, triangle surrogate max(0, 1 - |x|) backward."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x >= 0).to(x.dtype)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * torch.clamp(1.0 - x.abs(), min=0.0)

    class MixHistory(torch.autograd.Function):
        """sum_j p_j s_{t-j} over a list of spike tensors, saving references only."""

        @staticmethod
        def forward(ctx, p, *hist):
            ctx.save_for_backward(p, *hist)
            return torch.tensordot(p, torch.stack(hist), dims=1)

        @staticmethod
        def backward(ctx, grad):
            p, *hist = ctx.saved_tensors
            stacked = torch.stack(hist)
            grad_p = stacked.reshape(len(hist), -1) @ grad.reshape(-1)
            grad_hist = (p.view(-1, 1, 1) * grad.unsqueeze(0)).unbind(0)
            return (grad_p, *grad_hist)

    class Layer(nn.Module):
        def __init__(self, f, h):
            super().__init__()
            self.h = h
            self.fc = nn.Linear(f, h)
            self.rec = nn.Linear(h, h, bias=False)
            nn.init.orthogonal_(self.rec.weight, gain=1.0)
            self.skip_logits = nn.Parameter(torch.zeros(K, 1, 1)) if rec == "asrc" else None
            self.tau = 1.0

        def reset(self, b, like):
            self.v = torch.zeros(b, self.h, dtype=like.dtype)
            self.mask = None
            if args.buffer == "roll":
                self.buf = torch.zeros(K, b, self.h, dtype=like.dtype)
            else:
                self.buf = [torch.zeros(b, self.h, dtype=like.dtype) for _ in range(K)]

        def recurrent_input(self):
            if rec == "src":
                return self.buf[-1]  # s_{t-lambda}: the oldest entry
            if not self.training:  # ASRC evaluation: the single most likely lag
                return self.buf[int(torch.argmax(self.skip_logits))]
            p = torch.softmax(self.skip_logits / self.tau, dim=0)
            if args.buffer == "roll":
                return (p * self.buf).sum(0)
            return MixHistory.apply(p.view(-1), *self.buf)

        def step(self, x):
            a = self.fc(x)
            if self.training and p_drop > 0:
                if self.mask is None:  # drawn once per sequence, reused at every step
                    self.mask = torch.bernoulli(torch.full_like(a, 1.0 - p_drop)) / (1.0 - p_drop)
                a = a * self.mask
            i = self.rec(self.recurrent_input()) + a
            self.v = self.v * decay + i  # charge
            s = SpikeFn.apply(self.v - theta)  # fire
            self.v = self.v - s * theta  # soft reset
            if args.buffer == "roll":
                self.buf = torch.roll(self.buf, 1, 0)
                self.buf[0] = s
            else:
                self.buf.pop()
                self.buf.insert(0, s)
            return s

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            dims = [n_in] + hidden
            self.layers = nn.ModuleList(Layer(dims[i], dims[i + 1]) for i in range(len(hidden)))
            self.readout = nn.Linear(hidden[-1], n_out)

        def forward(self, x):  # x: [B, T, F], batch first as in the authors' code
            for layer in self.layers:
                layer.reset(x.shape[0], x)
            outputs = []
            for t in range(x.shape[1]):
                h = x[:, t, :]
                for layer in self.layers:
                    h = layer.step(h)
                outputs.append(self.readout(h))
            return torch.stack(outputs, 0).sum(0)

    g = torch.Generator().manual_seed(1)
    if data == "pixels":
        x = torch.rand(batch, steps, n_in, generator=g)
        x = torch.where(torch.rand(batch, steps, n_in, generator=g) < 0.8, torch.zeros_like(x), x)
    elif data == "counts":
        r = torch.rand(batch, steps, n_in, generator=g)
        x = (r >= 0.9).float() + (r >= 0.98).float() + (r >= 0.995).float()
    else:
        x = torch.randn(batch, steps, n_in, generator=g)
    y = torch.randint(0, n_out, (batch,), generator=g)

    model = Model()
    weights = [p for n, p in model.named_parameters() if "skip_logits" not in n]
    skips = [p for n, p in model.named_parameters() if "skip_logits" in n]
    Opt = torch.optim.AdamW if opt_name == "adamw" else torch.optim.Adam
    optimizers = [Opt(weights, lr=lr, weight_decay=wd)]
    if skips:
        optimizers.append(Opt(skips, lr=lr_skip, weight_decay=0.0))

    def train_step():
        for o in optimizers:
            o.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        for o in optimizers:
            o.step()
        return float(loss)

    def time_it(fn, reps):
        fn()  # warm-up
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    long_seq = steps > 300
    train_reps = args.train_steps or (1 if args.quick else (2 if long_seq else 3))
    eval_reps = args.eval_steps or (1 if args.quick else (2 if long_seq else 3))

    model.train()
    t_train = time_it(train_step, train_reps)
    rss_train = vm_hwm_kib()

    model.eval()

    def eval_step():
        with torch.no_grad():
            return model(x)

    t_eval = time_it(eval_step, eval_reps)
    return {
        "name": name, "batch": batch, "steps": steps, "buffer": args.buffer,
        "params": sum(p.numel() for p in model.parameters()),
        "train_step_s": t_train, "train_samples_per_s": batch / t_train, "train_reps": train_reps,
        "eval_step_s": t_eval, "eval_samples_per_s": batch / t_eval, "eval_reps": eval_reps,
        "rss_peak_kib": rss_train, "threads": args.threads, "torch": torch.__version__,
    }


# ----------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names (default: all)")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--train-steps", type=int, default=0, help="timed training steps (default: 3, 2 for MNIST)")
    ap.add_argument("--eval-steps", type=int, default=0, help="timed evaluation steps (default as training)")
    ap.add_argument("--quick", action="store_true", help="one timed step of each kind")
    ap.add_argument("--buffer", choices=["list", "roll"], default="list", help="spike-history form (see above)")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON ('-': to stdout)")
    ap.add_argument("--list", action="store_true", help="print the configuration names")
    ap.add_argument("--max-gb", type=float, default=default_max_gb(),
                    help="address-space limit of each configuration's process in GB (default: 90%% of "
                         "MemAvailable; 0: none); a configuration that needs more fails cleanly")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # child mode: one configuration, JSON on stdout
    args = ap.parse_args()

    if args.list:
        print("\n".join(CONFIGS))
        return 0
    if args.one:
        if args.max_gb > 0:  # fail cleanly (MemoryError) instead of waking the OOM killer
            import resource
            limit = int(args.max_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            print("RESULT " + json.dumps(run_one(args.one, args)), flush=True)
        except (MemoryError, RuntimeError) as e:
            if "memory" not in str(e).lower() and not isinstance(e, MemoryError):
                raise
            print(f"[pytorch] {args.one}: out of memory under the {args.max_gb:.1f} GB limit ({e})",
                  file=sys.stderr, flush=True)
            return 4
        return 0

    names = [n for n in args.configs.split(",") if n]
    for n in names:
        if n not in CONFIGS:
            sys.exit(f"unknown configuration '{n}' (see --list)")

    load_start = load_average()
    human = sys.stdout if args.json != "-" else sys.stderr
    print(f"pytorch_reference  threads: {args.threads}  buffer: {args.buffer}  load average: {load_start}",
          file=human, flush=True)
    results = []
    for n in names:
        cmd = [sys.executable, os.path.abspath(__file__), "--one", n, "--threads", str(args.threads),
               "--max-gb", str(args.max_gb),
               "--buffer", args.buffer, "--train-steps", str(args.train_steps),
               "--eval-steps", str(args.eval_steps)] + (["--quick"] if args.quick else [])
        print(f"[pytorch] {n} ...", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            why = "out of memory" if proc.returncode == 4 else f"exit {proc.returncode}"
            print(f"[pytorch] {n}: failed ({why})", file=sys.stderr)
            results.append({"name": n, "error": why})
            continue
        results.append(json.loads(lines[-1][len("RESULT "):]))
    load_end = load_average()

    print(f"\n{'config':<17} {'B':>4} {'T':>4} {'params':>7} | {'train/s':>9} {'step s':>8} | "
          f"{'eval/s':>9} {'step s':>8} | {'peak MB':>8}", file=human)
    for r in results:
        if "error" in r:
            print(f"{r['name']:<17} failed: {r['error']}", file=human)
            continue
        print(f"{r['name']:<17} {r['batch']:>4} {r['steps']:>4} {r['params']:>7} | "
              f"{r['train_samples_per_s']:>9.1f} {r['train_step_s']:>8.3f} | "
              f"{r['eval_samples_per_s']:>9.1f} {r['eval_step_s']:>8.3f} | {r['rss_peak_kib'] / 1024:>8.1f}",
              file=human)
    print(f"(median of timed steps after one warm-up; load average at end: {load_end})", file=human, flush=True)

    if args.json:
        doc = {"tool": "pytorch_reference", "threads": args.threads, "buffer": args.buffer,
               "quick": args.quick, "load_average_start": load_start, "load_average_end": load_end,
               "results": results}
        text = json.dumps(doc, indent=2)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as f:
                f.write(text + "\n")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
