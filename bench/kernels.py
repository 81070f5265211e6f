#!/usr/bin/env python3
"""Spike-aware kernels vs the dense GEMM path, side by side, per Table 1 configuration.

Runs asrc-bench with --kernels auto and --kernels dense alternately for each
configuration (same threads, same load) and prints a markdown table of the ratios.

    python3 bench/kernels.py build-bench/bench/asrc-bench --threads 2 --out docs/results/kernels.md
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pytorch_reference import load_average  # noqa: E402


def bench(binary, name, threads, kernels, reps):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        path = tmp.name
    try:
        subprocess.run([binary, "--configs", name, "--threads", str(threads), "--kernels", kernels,
                        "--reps", str(reps), "--no-peak", "--no-rss", "--json", path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        with open(path) as f:
            return json.load(f)["results"][0]
    finally:
        os.unlink(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bench", nargs="?", default="build/bench/asrc-bench")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=2, help="timed training steps per run (median)")
    ap.add_argument("--configs", default="all")
    ap.add_argument("--out")
    args = ap.parse_args()
    names = (subprocess.run([args.bench, "--list"], stdout=subprocess.PIPE, text=True, check=True).stdout.split()
             if args.configs == "all" else args.configs.split(","))
    start = load_average()
    lines = ["# Spike-aware kernels vs dense GEMM (asrc-bench --kernels auto | dense)", "",
             f"- threads: {args.threads}; load average at start: {start}; median of {args.reps} timed steps",
             "", "| config | train samples/s, spike kernels | train samples/s, dense | ratio | "
             "eval samples/s, spike kernels | eval samples/s, dense | ratio |", "|---|---|---|---|---|---|---|"]
    for n in names:
        print(f"[kernels] {n}", file=sys.stderr, flush=True)
        a = bench(args.bench, n, args.threads, "auto", args.reps)
        d = bench(args.bench, n, args.threads, "dense", args.reps)
        lines.append(f"| {n} | {a['train_samples_per_s']:,.1f} | {d['train_samples_per_s']:,.1f} | "
                     f"**{a['train_samples_per_s'] / d['train_samples_per_s']:.2f}x** | "
                     f"{a['eval_samples_per_s']:,.1f} | {d['eval_samples_per_s']:,.1f} | "
                     f"**{a['eval_samples_per_s'] / d['eval_samples_per_s']:.2f}x** |")
    lines += ["", f"Load average at the end: {load_average()}. Both paths give the same results within "
              "the float tolerance of the gradient checks (tests/network/test_network.cpp, "
              "tests/core/test_kernels.cpp). Spikes at about 10% (asrc-bench --rate)."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    sys.exit(main())
