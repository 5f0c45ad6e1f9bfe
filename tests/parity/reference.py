"""PyTorch oracle for the C parity test.

    /usr/bin/python3 tests/parity/reference.py --model tiny_all --weights W.safetensors \
        --input X.npy --out REF.safetensors

Loads W (strict), runs forward + loss (target = the input) + backward on X, then one
optimizer step from fresh state. REF holds `loss` (shape []), `grad.<param>` and
`step.<param>` (the parameter after the step) for every parameter, all float32.

VAEs (celeba_vae) need the noise too, float32 [B, latent]:

    /usr/bin/python3 tests/parity/reference.py --model celeba_vae --weights W.safetensors \
        --input X.npy --eps E.npy --out REF.safetensors

z = mu + eps * exp(0.5 * logvar); `loss` is recon + beta * KL, and REF also holds `mu` and
`logvar` ([B, latent], before the step).
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
    ap.add_argument("--eps", help="noise for a VAE (.npy, float32 [B, latent]); required for VAEs")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    latent = torch_models.VAE_LATENT.get(args.model)
    if latent is None and args.eps:
        sys.exit("--eps: model %s is not a VAE" % args.model)
    if latent is not None and not args.eps:
        sys.exit("--eps E.npy is required for the VAE %s" % args.model)

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    model = torch_models.build(args.model)
    torch_models.load_state(model, args.weights)

    x = np.load(args.input)
    want = torch_models.INPUT_SHAPES[args.model]
    if x.ndim != 4 or tuple(x.shape[1:]) != want:
        sys.exit("%s: input shape %s, expected [B,%s]" % (args.input, x.shape, ",".join(map(str, want))))
    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    out = {}
    opt = model.optimizer()
    opt.zero_grad()
    if latent is None:
        loss = model.loss(model(x), x)
    else:
        eps = np.load(args.eps)
        if eps.shape != (x.shape[0], latent):
            sys.exit("%s: eps shape %s, expected [%d,%d]" % (args.eps, eps.shape, x.shape[0], latent))
        eps = torch.from_numpy(np.ascontiguousarray(eps, dtype=np.float32))
        y, mu, logvar = model(x, eps)
        loss, _, _ = model.loss(y, x, mu, logvar)
    loss.backward()

    out["loss"] = loss.detach().reshape(())
    if latent is not None:
        out["mu"] = mu.detach().clone()
        out["logvar"] = logvar.detach().clone()
    for name, p in model.named_parameters():
        out["grad." + name] = p.grad.detach().clone()
    opt.step()
    for name, p in model.named_parameters():
        out["step." + name] = p.detach().clone()

    torch_models.save_safetensors(args.out, out, {"model": args.model, "batch": str(x.shape[0]),
                                                  "torch": torch.__version__})
    print("%s: batch %d, loss %.8f -> %s" % (args.model, x.shape[0], loss.item(), args.out))


if __name__ == "__main__":
    main()
