"""bench/compare.py AEC_CSV TORCH_CSV AEC_RSS_KB TORCH_RSS_KB: the side-by-side table of bench/run."""
import csv
import sys


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def main():
    aec, torch = rows(sys.argv[1]), rows(sys.argv[2])
    rss_a, rss_t = int(sys.argv[3]), int(sys.argv[4])
    print("%5s  %12s %12s  %9s %9s  %7s" % ("epoch", "aec val", "torch val", "aec s", "torch s", "speedup"))
    for a, t in zip(aec, torch):
        sa, st = float(a["seconds"]), float(t["seconds"])
        print("%5s  %12.6f %12.6f  %9.1f %9.1f  %6.2fx" % (a["epoch"], float(a["val_loss"]),
                                                          float(t["val_loss"]), sa, st, st / sa))
    ta = sum(float(a["seconds"]) for a in aec)
    tt = sum(float(t["seconds"]) for t in torch)
    print("training time: aec %.1f s, torch %.1f s: aec is %.2fx faster" % (ta, tt, tt / ta))
    print("last validation MSE: aec/torch = %.3f" % (float(aec[-1]["val_loss"]) / float(torch[-1]["val_loss"])))
    print("peak memory: aec %.0f MiB, torch %.0f MiB: ratio %.2f" % (rss_a / 1024, rss_t / 1024, rss_a / rss_t))


if __name__ == "__main__":
    main()
