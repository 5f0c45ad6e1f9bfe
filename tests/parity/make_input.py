"""A reproducible input batch for the parity test.

    /usr/bin/python3 tests/parity/make_input.py --model fmnist_cae --batch 4 --seed 1 --out X.npy

fmnist_cae: Fashion-MNIST test images 0..B-1 (pixels/255) when the dataset is installed,
else uniform random in [0,1). tiny_all: uniform random in (0.05, 0.95).
Writes float32 [B,C,H,W].
"""
import argparse
import gzip
import os
import struct
import sys

import numpy as np

SHAPES = {"fmnist_cae": (1, 28, 28), "tiny_all": (2, 8, 8)}
FMNIST_TEST = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def fmnist_images(count):
    with gzip.open(FMNIST_TEST, "rb") as f:
        head = f.read(16)
        magic, n, h, w = struct.unpack(">IIII", head)
        if magic != 0x803 or (h, w) != (28, 28) or count > n:
            sys.exit("%s: unexpected header or too few images for batch %d" % (FMNIST_TEST, count))
        pixels = np.frombuffer(f.read(count * h * w), dtype=np.uint8)
    return pixels.reshape(count, 1, h, w).astype(np.float32) / np.float32(255.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=sorted(SHAPES))
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.batch < 1:
        sys.exit("--batch must be at least 1")

    rng = np.random.default_rng(args.seed)
    shape = (args.batch,) + SHAPES[args.model]
    if args.model == "fmnist_cae":
        if os.path.exists(FMNIST_TEST):
            x = fmnist_images(args.batch)
        else:
            x = rng.random(shape, dtype=np.float32)
    else:
        x = (0.05 + 0.9 * rng.random(shape)).astype(np.float32)
    with open(args.out, "wb") as f:  # a file object, so np.save adds no ".npy" suffix
        np.save(f, np.ascontiguousarray(x, dtype=np.float32))


if __name__ == "__main__":
    main()
