#!/usr/bin/env python3
"""Speed-up model of data-parallel asrc-train (README, "Training across machines").

Inputs, all stated in the README: parameter counts (asrc-train --preset P --count-params),
per-machine training speed (asrc-bench, 2 threads, this project's 2-core Xeon,
docs/results/benchmark.md), the Table 1 batch sizes, and two assumed link speeds with an
assumed per-message latency. Prints the markdown tables of the README.

Model, per training step of a global batch B on N machines (no overlap of communication
with compute, as implemented):
  compute   T_c(N) = B / (N * rate)      whole chunks: chunk_size = min(16, B / N)
  exact     chain over ranks in 64 KB blocks (pipelined), then a pipelined broadcast:
            (nb + N - 1) * t_blk  +  (nb + log2 N) * t_blk,   t_blk = 64 KB / bw + alpha
  allreduce ring: 2 (N - 1) * (4P / (N bw) + alpha)
"""
import math

ALPHA = 25e-6   # s per message (TCP over Ethernet; an assumption, not measured)
BLOCK = 16384   # floats per block of the ordered chain (mpi_communicator.hpp)
L = 3           # hidden layers of every Table 1 model

# preset: (parameters, batch, training samples/s on one 2-core machine)
CONFIGS = {
    "gsc-src": (88972, 128, 5898), "gsc-asrc": (89035, 128, 2627),
    "ssc-src": (373283, 128, 556), "ssc-asrc": (373301, 128, 407),
    "shd-src": (369428, 128, None), "shd-asrc": (369446, 128, None),
    "smnist-src": (63114, 256, 911), "smnist-src-212": (155178, 256, 348),
    "smnist-asrc": (63237, 256, 510),
    "psmnist-src": (63114, 256, 853), "psmnist-src-212": (155178, 256, 371),
    "psmnist-asrc": (63267, 256, 487), "psmnist-asrc-212": (155271, 256, 238),
}


def t_exact(P, N, bw):
    if N == 1:
        return 0.0
    nb = math.ceil(P / BLOCK)
    t_blk = 4 * BLOCK / bw + ALPHA
    return (nb + N - 1) * t_blk + (nb + math.ceil(math.log2(N))) * t_blk


def t_allreduce(P, N, bw):
    return 0.0 if N == 1 else 2 * (N - 1) * (4 * P / (N * bw) + ALPHA)


def main():
    print("| preset | parameters P | chunks (B/16) | exact: sent / received per rank per step | "
          "allreduce (N=2 / N=64): sent = received | scalars per step |")
    print("|---|---|---|---|---|---|")
    for name, (P, B, _) in CONFIGS.items():
        ch = math.ceil(B / 16)
        print(f"| {name} | {P:,} | {ch} | {4 * P / 1e6:.2f} MB chain + <= {8 * P / 1e6:.2f} MB broadcast / "
              f"{8 * P / 1e6:.2f} MB | {4 * P / 1e6:.2f} / {2 * 63 / 64 * 4 * P / 1e6:.2f} MB | "
              f"{ch * (2 + L) * 8 + 12} B |")
    print()
    for gbit in (10, 100):
        bw = gbit * 1e9 / 8
        print(f"\n{gbit} Gbit/s: speed-up (exact / allreduce) on N machines; batch that keeps "
              f"communication at or below compute on 64 machines (exact)\n")
        Ns = [2, 4, 8, 16, 32, 64]
        print("| preset | step on 1 machine | " + " | ".join(f"N={n}" for n in Ns) + " | dominates from N | hiding batch at N=64 |")
        print("|---|---|" + "---|" * len(Ns) + "---|---|")
        for name, (P, B, rate) in CONFIGS.items():
            if rate is None:
                continue
            t1 = B / rate
            cells, dom = [], "-"
            for n in Ns:
                tc = t1 / n
                te, ta = t_exact(P, n, bw), t_allreduce(P, n, bw)
                cells.append(f"{t1 / (tc + te):.1f} / {t1 / (tc + ta):.1f}")
                if dom == "-" and te > tc:
                    dom = str(n)
            te64 = t_exact(P, 64, bw)
            hide = math.ceil(64 * rate * te64)
            print(f"| {name} | {t1 * 1e3:.0f} ms | " + " | ".join(cells) + f" | {dom} | {hide:,} |")


if __name__ == "__main__":
    main()
