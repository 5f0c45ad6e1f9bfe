"""Train the Fashion-MNIST autoencoder (models/fmnist_cae.ae) in PyTorch: the baseline aec is measured against.

    /usr/bin/python3 bench/torch_fmnist.py --epochs 40 --threads 2 --seed 1 --out runs/torch

Writes DIR/loss.csv (epoch,train_loss,val_loss,seconds) one row per epoch, and
DIR/final.safetensors with the trained parameters. See bench/README.md.
"""
import argparse
import gzip
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402
import torch_train  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
BATCH = 128
EVAL_BATCH = 1000


def read_idx_images(path):
    """IDX3 (gzipped) -> float32 [N,1,H,W] in [0,1]."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, h, w = struct.unpack(">IIII", data[:16])
    if magic != 0x803:
        raise ValueError("%s: not an IDX3 image file (magic %#x)" % (path, magic))
    if len(data) != 16 + n * h * w:
        raise ValueError("%s: expected %d pixels, file holds %d" % (path, n * h * w, len(data) - 16))
    pixels = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, 1, h, w)
    return pixels.astype(np.float32) / np.float32(255.0)


def load_split(name):
    return read_idx_images(os.path.join(DATA_DIR, "%s-images-idx3-ubyte.gz" % name))


def batch_loss(model, x, gen):
    """The batch's mean squared error (gen unused: the model draws no noise)."""
    return model.loss(model(x), x)


@torch.no_grad()
def evaluate(model, x_test):
    """MSE over every test pixel."""
    model.eval()
    sq = 0.0
    for start in range(0, x_test.shape[0], EVAL_BATCH):
        x = x_test[start:start + EVAL_BATCH]
        sq += torch.sum((model(x) - x) ** 2, dtype=torch.float64).item()
    return sq / x_test.numel()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N training images")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--init", help="start from these parameters (.safetensors)")
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args()

    gen = torch_train.seed_torch(args.threads, args.seed)

    x_train = torch.from_numpy(load_split("train"))
    x_test = torch.from_numpy(load_split("t10k"))
    if args.limit > 0:
        x_train = x_train[:args.limit]

    model, opt = torch_train.model_and_optimizer("fmnist_cae", args.init)
    csv_path = torch_train.start_csv(args.out)
    print("torch %s, %d threads, %d train / %d test images, batch %d"
          % (torch.__version__, torch.get_num_threads(), x_train.shape[0], x_test.shape[0], BATCH), flush=True)

    torch_train.train(model, opt, x_train, gen, args.epochs, BATCH, batch_loss,
                      lambda m: evaluate(m, x_test), csv_path, 6)

    torch_models.save_state(model, os.path.join(args.out, "final.safetensors"),
                            {"model": "fmnist_cae", "epochs": str(args.epochs), "seed": str(args.seed)})


if __name__ == "__main__":
    main()
