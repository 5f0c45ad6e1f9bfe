"""Train the CelebA convolutional VAE (models/celeba_vae.ae) in PyTorch: the baseline aec is measured against.

    /usr/bin/python3 bench/torch_celeba.py --images faces.npy --epochs 10 --threads 2 --seed 1 --out runs/torch_celeba
    /usr/bin/python3 bench/torch_celeba.py --folder ../shared/data/celeba-10k --limit 300 --train 256 \\
        --epochs 1 --out /tmp/tc

The faces come from --images, a uint8 .npy [N,3,64,64] (aec's loader writes exactly such a cache of
the decoded, centre-cropped, area-resized faces, so both sides train on identical pixels), or from
--folder, a directory of JPEGs decoded here with PIL: centre crop to the largest square (offset
floor((W-S)/2), floor((H-S)/2)), then resize to 64x64 with Image.BOX (an area filter). PIL's
JPEG decoder and BOX filter may differ slightly from aec's own decoding and area resampling, so use
--images for a like-for-like comparison. Pixels p become p/127.5 - 1 (float32, in [-1,1]).

The first --train images train (default 9000), the rest validate (celeba-10k: the last 1,000).
Each epoch: shuffled batches of 64 (last one partial), Adam 1e-3, eps ~ N(0,1) drawn from the
torch generator seeded with --seed (the same one that shuffles). After every epoch the validation
loss per image (recon summed over pixels + KL, averaged over images, z sampled with eps from a
generator reseeded with --seed each epoch, so every epoch sees the same eps) is measured.

Writes DIR/loss.csv (epoch,train_loss,val_loss,seconds) one row per epoch, and
DIR/final.safetensors with the trained parameters. See bench/README.md.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402
import torch_train  # noqa: E402

MODEL = "celeba_vae"
BATCH = 64
EVAL_BATCH = 500
SIZE = 64
EXTENSIONS = (".jpg", ".jpeg", ".png")


def load_face(path, size=SIZE):
    """One image file -> uint8 [3,size,size]: centre crop to the largest square, then PIL's BOX resize."""
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        im = im.crop((left, top, left + s, top + s))
        im = im.resize((size, size), getattr(Image, "Resampling", Image).BOX)
        return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).copy()


def face_files(folder):
    """The image files in folder, sorted by name."""
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(EXTENSIONS))
    return [os.path.join(folder, n) for n in names]


def load_folder(folder, limit=0):
    files = face_files(folder)
    if limit > 0:
        files = files[:limit]
    if not files:
        sys.exit("%s: no image files (%s)" % (folder, " ".join(EXTENSIONS)))
    return np.stack([load_face(f) for f in files])


def load_images(path):
    a = np.load(path)
    if a.dtype != np.uint8 or a.ndim != 4 or a.shape[1:] != (3, SIZE, SIZE):
        sys.exit("%s: %s %s, expected uint8 [N,3,%d,%d]" % (path, a.dtype, a.shape, SIZE, SIZE))
    return a


def to_float(pixels):
    """uint8 [N,3,H,W] -> float32 tensor p/127.5 - 1."""
    return torch.from_numpy(pixels).to(torch.float32) / 127.5 - 1.0


def batch_loss(model, x, gen):
    """The batch's per-image loss, with z sampled with eps ~ N(0,1) drawn from gen."""
    eps = torch.randn(x.shape[0], model.LATENT, generator=gen)
    y, mu, logvar = model(x, eps)
    loss, _, _ = model.loss(y, x, mu, logvar)
    return loss


@torch.no_grad()
def evaluate(model, x_val, seed):
    """Per-image loss (recon summed over pixels + KL) averaged over x_val, with z sampled."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    for start in range(0, x_val.shape[0], EVAL_BATCH):
        x = x_val[start:start + EVAL_BATCH]
        total += batch_loss(model, x, gen).item() * x.shape[0]
    return total / x_val.shape[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", help="uint8 .npy [N,3,64,64] of faces (aec's cache)")
    src.add_argument("--folder", help="directory of face JPEGs, decoded with PIL")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N images (files sorted by name)")
    ap.add_argument("--train", type=int, default=9000, help="the first N images train, the rest validate")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--init", help="start from these parameters (.safetensors)")
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args()

    gen = torch_train.seed_torch(args.threads, args.seed)

    t0 = time.perf_counter()
    if args.images:
        pixels = load_images(args.images)
        if args.limit > 0:
            pixels = pixels[:args.limit]
    else:
        pixels = load_folder(args.folder, args.limit)
    load_seconds = time.perf_counter() - t0
    if not 0 < args.train < pixels.shape[0]:
        sys.exit("--train %d: need 0 < N < %d (the images available) to leave a validation set"
                 % (args.train, pixels.shape[0]))
    x_train = to_float(pixels[:args.train])
    x_val = to_float(pixels[args.train:])

    model, opt = torch_train.model_and_optimizer(MODEL, args.init)
    csv_path = torch_train.start_csv(args.out)
    print("torch %s, %d threads, %d train / %d validation images (loaded in %.1fs), batch %d"
          % (torch.__version__, torch.get_num_threads(), x_train.shape[0], x_val.shape[0],
             load_seconds, BATCH), flush=True)

    torch_train.train(model, opt, x_train, gen, args.epochs, BATCH, batch_loss,
                      lambda m: evaluate(m, x_val, args.seed), csv_path, 4)

    torch_models.save_state(model, os.path.join(args.out, "final.safetensors"),
                            {"model": MODEL, "epochs": str(args.epochs), "seed": str(args.seed),
                             "train": str(x_train.shape[0])})


if __name__ == "__main__":
    main()
