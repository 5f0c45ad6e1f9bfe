"""A reproducible input batch for the parity test.

    /usr/bin/python3 tests/parity/make_input.py --model fmnist_cae --batch 4 --seed 1 --out X.npy

    /usr/bin/python3 tests/parity/make_input.py --model celeba_vae --batch 4 --seed 1 --out X.npy \
        --eps-out E.npy

fmnist_cae: Fashion-MNIST test images 0..B-1 (pixels/255) when the dataset is installed,
else uniform random in [0,1). tiny_all: uniform random in (0.05, 0.95).
celeba_vae: faces 000001.jpg.. of ../shared/data/celeba-10k (relative to the project root;
centre crop, PIL BOX resize to 64x64, p/127.5 - 1) when present, else smooth random values in
[-1,1] (a 9x9 uniform grid per channel, bilinearly upsampled, plus a little noise).
Writes float32 [B,C,H,W]. --eps-out (VAEs only) also writes standard normal noise float32
[B, latent] from the same seed (a stream independent of the random input).
"""
import argparse
import gzip
import os
import struct
import sys

import numpy as np

SHAPES = {"fmnist_cae": (1, 28, 28), "tiny_all": (2, 8, 8), "celeba_vae": (3, 64, 64)}
LATENT = {"celeba_vae": 128}
FMNIST_TEST = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CELEBA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "celeba-10k"))


def fmnist_images(count):
    with gzip.open(FMNIST_TEST, "rb") as f:
        head = f.read(16)
        magic, n, h, w = struct.unpack(">IIII", head)
        if magic != 0x803 or (h, w) != (28, 28) or count > n:
            sys.exit("%s: unexpected header or too few images for batch %d" % (FMNIST_TEST, count))
        pixels = np.frombuffer(f.read(count * h * w), dtype=np.uint8)
    return pixels.reshape(count, 1, h, w).astype(np.float32) / np.float32(255.0)


def celeba_faces(count):
    """The first count faces of CELEBA as float32 [count,3,64,64] in [-1,1], or None if absent."""
    if not os.path.isdir(CELEBA):
        return None
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import torch_celeba
    files = torch_celeba.face_files(CELEBA)
    if len(files) < count:
        sys.exit("%s: %d images, too few for batch %d" % (CELEBA, len(files), count))
    pixels = np.stack([torch_celeba.load_face(f) for f in files[:count]])
    return pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def bilinear_matrix(n, grid):
    """[n, grid]: row k interpolates linearly between the grid points around position k."""
    t = np.linspace(0.0, grid - 1.0, n)
    i = np.minimum(np.floor(t).astype(int), grid - 2)
    f = t - i
    m = np.zeros((n, grid))
    m[np.arange(n), i] = 1.0 - f
    m[np.arange(n), i + 1] = f
    return m


def smooth_random(rng, shape, grid=9):
    """Values in [-1,1] that vary smoothly: a grid x grid uniform field, bilinearly upsampled, plus noise."""
    b, c, h, w = shape
    coarse = rng.uniform(-0.9, 0.9, (b, c, grid, grid))
    x = np.einsum("hi,bcij,wj->bchw", bilinear_matrix(h, grid), coarse, bilinear_matrix(w, grid))
    x += rng.normal(0.0, 0.05, shape)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=sorted(SHAPES))
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--eps-out", help="VAEs: also write standard normal eps float32 [B, latent] here")
    args = ap.parse_args()
    if args.batch < 1:
        sys.exit("--batch must be at least 1")
    if args.eps_out and args.model not in LATENT:
        sys.exit("--eps-out: model %s is not a VAE" % args.model)

    rng = np.random.default_rng(args.seed)
    shape = (args.batch,) + SHAPES[args.model]
    if args.model == "fmnist_cae":
        if os.path.exists(FMNIST_TEST):
            x = fmnist_images(args.batch)
        else:
            x = rng.random(shape, dtype=np.float32)
    elif args.model == "celeba_vae":
        x_rng, eps_rng = [np.random.default_rng(s) for s in np.random.SeedSequence(args.seed).spawn(2)]
        x = celeba_faces(args.batch)
        if x is None:
            print("%s absent: smooth random input" % CELEBA, file=sys.stderr)
            x = smooth_random(x_rng, shape)
        if args.eps_out:
            eps = eps_rng.standard_normal((args.batch, LATENT[args.model]), dtype=np.float32)
            with open(args.eps_out, "wb") as f:
                np.save(f, eps)
    else:
        x = (0.05 + 0.9 * rng.random(shape)).astype(np.float32)
    with open(args.out, "wb") as f:  # a file object, so np.save adds no ".npy" suffix
        np.save(f, np.ascontiguousarray(x, dtype=np.float32))


if __name__ == "__main__":
    main()
