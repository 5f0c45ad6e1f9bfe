"""bench/table.py DIR ROUNDS TARGETS MODEL...: the table `make bench` (bench/run) prints, from the
files it left in DIR. TARGETS is one argument, the targets' names separated by spaces ("native").

DIR/sgemm.R.out             round R's build/bench/sgemm_peak line (sgemm_gflops=...)
DIR/M.MODE.SIDE.R.out, .rss round R of one side of model M in MODE (train|infer): its line, and
                            /usr/bin/time's max RSS of the process in KiB. SIDE is aec-TARGET
                            (`build/...M bench --only MODE`: MODE_img_s, MODE_gflops, ...) or a
                            PyTorch variant of bench/torch_bench.py (img_s=...): eager (as it
                            comes), passive (eager, OMP_WAIT_POLICY=PASSIVE), jit (frozen
                            TorchScript)
A measurement that failed has no .out file.

Within each round, the strongest PyTorch is its fastest variant in that round, and the round's
ratio is aec's img/s over that. A row (model, mode, target) shows the medians over the rounds of
aec's img/s, the strongest PyTorch's img/s, the ratio and aec's share of the round's sgemm peak,
the minimum ratio, the ratio of every round, and which variant was the strongest how often. The
memory columns are the largest RSS over the rounds: aec's, and PyTorch's as it comes.
"""
import os
import statistics
import sys

TORCH_SIDES = ("eager", "passive", "jit")


def fields(path):
    """The key=value pairs of the last such line of path, or {} if it is missing."""
    try:
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if "=" in l]
    except OSError:
        return {}
    return dict(kv.split("=", 1) for kv in lines[-1].split() if "=" in kv) if lines else {}


def num(d, key):
    try:
        return float(d[key])
    except (KeyError, ValueError):
        return None


def rss_kib(path):
    try:
        with open(path) as f:
            return int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def largest(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def cell(v, fmt):
    return "-" if v is None else fmt % v


def ratio(a, b):
    return a / b if a is not None and b else None


def row(d, rounds, peaks, m, mode, target):
    """One table row: the cells of model m in mode for aec's target, over the rounds."""
    def path(side, r, ext):
        return os.path.join(d, "%s.%s.%s.%d.%s" % (m, mode, side, r, ext))

    ours, theirs, ratios, shares, wins, batch = [], [], [], [], {}, "-"
    aec_kib, torch_kib = [], []
    for r in range(1, rounds + 1):
        f = fields(path("aec-" + target, r, "out"))
        img_s, gflops = num(f, mode + "_img_s"), num(f, mode + "_gflops")
        batch = f.get("batch", batch)
        aec_kib.append(rss_kib(path("aec-" + target, r, "rss")) if f else None)
        torch_kib.append(rss_kib(path("eager", r, "rss")) if fields(path("eager", r, "out")) else None)
        best, best_side = None, None
        for side in TORCH_SIDES:
            v = num(fields(path(side, r, "out")), "img_s")
            if v is not None and (best is None or v > best):
                best, best_side = v, side
        if best_side:
            wins[best_side] = wins.get(best_side, 0) + 1
        ours.append(img_s)
        theirs.append(best)
        ratios.append(ratio(img_s, best))
        shares.append(ratio(gflops, peaks[r - 1]))
    done = [x for x in ratios if x is not None]
    share = median(shares)
    aec_mib, torch_mib = largest(aec_kib), largest(torch_kib)
    aec_mib, torch_mib = aec_mib and aec_mib / 1024, torch_mib and torch_mib / 1024
    return (m, mode, target, batch, cell(median(ours), "%.0f"), cell(median(theirs), "%.0f"),
            " ".join("%s %d" % (s, wins[s]) for s in TORCH_SIDES if s in wins) or "-",
            cell(median(ratios), "%.2fx"), cell(min(done) if done else None, "%.2fx"),
            "%d/%d" % (len(done), rounds), cell(share and 100 * share, "%.0f%%"),
            cell(aec_mib, "%.0f"), cell(torch_mib, "%.0f"), cell(ratio(aec_mib, torch_mib), "%.2f"),
            " ".join(cell(x, "%.2f") for x in ratios))


def main():
    d, rounds, targets, models = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4:]
    peaks = [num(fields(os.path.join(d, "sgemm.%d.out" % r)), "sgemm_gflops") for r in range(1, rounds + 1)]
    head = ("model", "mode", "target", "batch", "aec img/s", "torch img/s", "strongest torch",
            "aec/torch median", "min", "rounds", "% peak", "aec MiB", "torch MiB", "MiB ratio", "aec/torch per round")
    rows = [row(d, rounds, peaks, m, mode, t) for m in models for mode in ("train", "infer") for t in targets]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def line(r):
        left = (0, 1, 2, 6, len(head) - 1)
        return "  ".join(s.ljust(w) if i in left else s.rjust(w)
                         for i, (s, w) in enumerate(zip(r, widths))).rstrip()

    print(line(head))
    for r in rows:
        print(line(r))
    got = [p for p in peaks if p is not None]
    print("median and min: of aec / the strongest PyTorch of the same round; img/s and % peak: medians "
          "over the rounds")
    print("sgemm peak: median %s GFLOP/s (%s over %d round(s), 2048^3); %% peak: aec's GFLOP/s over the "
          "round's peak, inference counting the forward pass only"
          % (cell(median(got), "%.1f"), "%.0f-%.0f" % (min(got), max(got)) if got else "-", len(got)))


if __name__ == "__main__":
    main()
