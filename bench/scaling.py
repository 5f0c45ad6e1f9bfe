#!/usr/bin/env python3
"""bench/scaling.py: the projected step time and scaling efficiency of
data-parallel training on N nodes (bench/README.md, "Data-parallel
training"), from a ring-allreduce model:

    allreduce(N) = 2 (N - 1) / N x bytes / bandwidth + 2 (N - 1) x latency

(a ring's reduce-scatter and all-gather each take N - 1 steps, each step
sending bytes / N). Nothing overlaps the allreduce: aec sums the whole
gradient in one call after the backward pass.

Two ways to use N nodes:
  - weak: each node takes a whole batch of the model's size (--batch B x N),
    as Horovod's benchmarks do: step(N) = step(1) + allreduce(N), and the
    efficiency is step(1) / step(N);
  - strong: the batch stays B, split over the nodes (aec's default), counting
    each node's compute as step(1) / N (optimistic: a slice of B / N images
    runs the GEMMs less well): step(N) = step(1) / N + allreduce(N), and the
    efficiency is step(1) / (N x step(N)).

    /usr/bin/python3 bench/scaling.py FMNIST_STEP_MS CELEBA_STEP_MS
"""
import sys

MODELS = [("fmnist_cae", 442177 + 3), ("celeba_vae", 3485251 + 3)]   # floats summed per step
NETS = [("10 GbE (TCP)", 1.25e9, 30e-6), ("100 Gb/s InfiniBand", 12.5e9, 2e-6)]   # bytes/s, s per hop
NODES = [2, 8, 32]


def allreduce(n, nbytes, bw, lat):
    return 2 * (n - 1) / n * nbytes / bw + 2 * (n - 1) * lat


def main():
    steps = [float(a) / 1e3 for a in sys.argv[1:3]]
    print("| model | network | N | allreduce ms | weak: step ms | weak: efficiency "
          "| strong: step ms | strong: efficiency |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (name, floats), step in zip(MODELS, steps):
        for net, bw, lat in NETS:
            for n in NODES:
                ar = allreduce(n, floats * 4, bw, lat)
                weak, strong = step + ar, step / n + ar
                print(f"| {name} | {net} | {n} | {ar * 1e3:.2f} | {weak * 1e3:.1f} | "
                      f"{100 * step / weak:.0f}% | {strong * 1e3:.2f} | {100 * step / (n * strong):.0f}% |")


if __name__ == "__main__":
    main()
