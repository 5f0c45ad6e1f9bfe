"""PyTorch oracle for `score`: each image's loss under the twin's own loss.

    /usr/bin/python3 tests/parity/scores.py --model fmnist_cae --weights W.safetensors \
        --input X.npy [--eps E.npy] --out S.npy

Runs every image alone (a batch of one) through the twin and its loss; S is
float64 [B, 3]: loss, recon, kl (kl 0 and recon = loss for a plain autoencoder).
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import torch_models  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=sorted(torch_models.MODELS))
    ap.add_argument("--weights", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--eps")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = torch_models.build(args.model)
    torch_models.load_state(model, args.weights)
    x = torch.from_numpy(np.ascontiguousarray(np.load(args.input), dtype=np.float32))
    vae = args.model in torch_models.VAE_LATENT
    eps = torch.from_numpy(np.ascontiguousarray(np.load(args.eps), dtype=np.float32)) if vae else None
    rows = []
    with torch.no_grad():
        for i in range(x.shape[0]):
            xi = x[i:i + 1]
            if vae:
                y, mu, logvar = model(xi, eps[i:i + 1])
                total, recon, kl = model.loss(y, xi, mu, logvar)
                rows.append([total.item(), recon.item(), kl.item()])
            else:
                loss = model.loss(model(xi), xi).item()
                rows.append([loss, loss, 0.0])
    np.save(args.out, np.array(rows, dtype=np.float64))


if __name__ == "__main__":
    main()
