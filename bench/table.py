"""bench/table.py DIR MODEL...: the table `make bench` (bench/run) prints, from the files it left in DIR.

DIR/sgemm.out               build/bench/sgemm_peak's line (sgemm_gflops=...)
DIR/M.aec-MODE.R.out, .rss  round R of `build/M bench --only MODE`: its line (MODE_img_s,
                            MODE_gflops, ...) and /usr/bin/time's max RSS of the process in KiB
DIR/M.torch-MODE.R.out, .rss   round R of bench/torch_bench.py --mode MODE (train|infer), PyTorch as
                            it comes: its line (img_s=...) and its max RSS
DIR/M.passive-MODE.R.out    the same with OMP_WAIT_POLICY=PASSIVE
A measurement that failed has no .out file. Each cell takes the best images/s over the rounds and the
largest RSS; a cell with no measurement shows "-".
"""
import glob
import os
import sys


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


def runs(prefix):
    """[(fields, rss KiB or None)] of every successful round of prefix.R.out."""
    out = []
    for path in sorted(glob.glob(glob.escape(prefix) + ".*.out")):
        try:
            with open(path[:-4] + ".rss") as f:
                rss = int(f.read().split()[-1])
        except (OSError, ValueError, IndexError):
            rss = None
        out.append((fields(path), rss))
    return out


def best(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def cell(v, fmt):
    return "-" if v is None else fmt % v


def ratio(a, b):
    return a / b if a is not None and b else None


def main():
    d, models = sys.argv[1], sys.argv[2:]
    peak = num(fields(os.path.join(d, "sgemm.out")), "sgemm_gflops")
    head = ("model", "mode", "batch", "aec img/s", "torch img/s", "aec/torch", "passive img/s",
            "aec/passive", "aec GFLOP/s", "% peak", "aec MiB", "torch MiB", "MiB ratio")
    rows = []
    for m in models:
        for mode in ("train", "infer"):
            aec = runs(os.path.join(d, "%s.aec-%s" % (m, mode)))
            torch = runs(os.path.join(d, "%s.torch-%s" % (m, mode)))
            passive = runs(os.path.join(d, "%s.passive-%s" % (m, mode)))
            ours = best(num(f, mode + "_img_s") for f, _ in aec)
            theirs = best(num(f, "img_s") for f, _ in torch)
            theirs_p = best(num(f, "img_s") for f, _ in passive)
            gflops = best(num(f, mode + "_gflops") for f, _ in aec)
            aec_kib, torch_kib = best(r for _, r in aec), best(r for _, r in torch)
            share = ratio(gflops, peak)
            batch = next((f["batch"] for f, _ in aec + torch if "batch" in f), "-")
            aec_mib, torch_mib = aec_kib and aec_kib / 1024, torch_kib and torch_kib / 1024
            rows.append((m, mode, batch, cell(ours, "%.0f"), cell(theirs, "%.0f"),
                         cell(ratio(ours, theirs), "%.2fx"), cell(theirs_p, "%.0f"),
                         cell(ratio(ours, theirs_p), "%.2fx"), cell(gflops, "%.1f"),
                         cell(share and 100 * share, "%.0f%%"),
                         cell(aec_mib, "%.0f"),
                         cell(torch_mib, "%.0f"), cell(ratio(aec_mib, torch_mib), "%.2f")))
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def line(r):
        return "  ".join(s.ljust(w) if i < 2 else s.rjust(w) for i, (s, w) in enumerate(zip(r, widths))).rstrip()

    print(line(head))
    for r in rows:
        print(line(r))
    print("sgemm peak: %s GFLOP/s (2048^3, this run); inference GFLOP/s count the forward pass only"
          % cell(peak, "%.1f"))


if __name__ == "__main__":
    main()
