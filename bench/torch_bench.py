"""PyTorch's side of `make bench`: images/s of one model training or inferring on synthetic data.

    /usr/bin/python3 bench/torch_bench.py --model fmnist_cae --batch 128 --mode train --seconds 5

Mirrors aec's `build/<model> bench` (runtime/bench.c): one batch of synthetic images drawn
uniformly from the middle 90% of the model's input range with a fixed seed; a warm-up of a
quarter of --seconds, then as many steps as fit in the other three quarters (at least 3).
train: forward, loss, backward, the model's optimizer step (train mode; a VAE draws fresh
eps ~ N(0,1) each step). infer: encode and decode under torch.no_grad() in eval mode (a VAE
decodes mu). --jit (infer only): the same encode-then-decode as a frozen TorchScript module,
torch.jit.freeze(torch.jit.script(...)) of eval mode, checked once against eager (largest
difference at most 1e-5) before the timing. Prints one line: model=... mode=... batch=...
threads=... img_s=... (and jit=frozen with --jit).
Peak memory is the caller's to measure (bench/run uses /usr/bin/time on this process),
so run one mode per process. Run with /usr/bin/python3 (Debian's torch).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# The input range of each model's .ae file ("input ... in [lo, hi]").
RANGES = {"fmnist_cae": (0.0, 1.0), "tiny_all": (0.0, 1.0), "celeba_vae": (-1.0, 1.0)}


def rate(step, seconds):
    """Steps per second: warm-up for seconds/4, then steps for seconds*3/4 (at least 3)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds / 4:
        step()
    n = 0
    t0 = time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < seconds * 3 / 4:
        step()
        n += 1
    return n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="print the models torch_models knows, one a line, and exit")
    ap.add_argument("--model")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--mode", choices=("train", "infer"))
    ap.add_argument("--jit", action="store_true",
                    help="infer with a frozen TorchScript module instead of eager (infer only)")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--range", type=float, nargs=2, metavar=("LO", "HI"),
                    help="input range (default: the model's, from RANGES)")
    ap.add_argument("--traceback", action="store_true", help="show Python's traceback on an error")
    args = ap.parse_args()
    if not args.list and (args.model is None or args.batch is None or args.mode is None):
        ap.error("--model, --batch and --mode are required (or --list)")
    if not args.list and (args.batch < 1 or not args.seconds > 0 or args.threads < 1):
        ap.error("--batch and --threads must be positive, --seconds above 0")
    if args.jit and args.mode != "infer":
        ap.error("--jit goes with --mode infer")
    try:
        run(args)
    except Exception as e:  # one line for bench/run's message, not a traceback wall
        if args.traceback:
            raise
        print("torch_bench: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)


def run(args):
    import torch
    import torch_models

    if args.list:
        print("\n".join(torch_models.MODELS))
        return
    if args.model not in torch_models.MODELS:
        raise ValueError("no PyTorch version of %r in bench/torch_models.py (known: %s)"
                         % (args.model, ", ".join(torch_models.MODELS)))
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = torch_models.build(args.model)
    lo, hi = args.range if args.range else RANGES[args.model]
    shape = torch_models.INPUT_SHAPES[args.model]
    gen = torch.Generator().manual_seed(args.seed)
    x = lo + (hi - lo) * (0.05 + 0.9 * torch.rand((args.batch,) + tuple(shape), generator=gen))
    latent = torch_models.VAE_LATENT.get(args.model)

    if args.mode == "train":
        model.train()
        opt = model.optimizer()

        def step():
            if latent:
                eps = torch.randn(args.batch, latent, generator=gen)
                y, mu, logvar = model(x, eps)
                loss = model.loss(y, x, mu, logvar)[0]
            else:
                loss = model.loss(model(x), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
    elif args.jit:
        frozen = frozen_infer(model, x, latent is not None)

        def step():
            with torch.no_grad():
                frozen(x)
    else:
        model.eval()

        def step():
            with torch.no_grad():
                z = model.encode(x)
                model.decode(z[0] if latent else z)

    img_s = rate(step, args.seconds) * args.batch
    print("model=%s mode=%s batch=%d threads=%d img_s=%.1f torch=%s%s"
          % (args.model, args.mode, args.batch, torch.get_num_threads(), img_s, torch.__version__,
             " jit=frozen" if args.jit else ""), flush=True)


def frozen_infer(model, x, vae):
    """model's inference (encode, then decode; a VAE decodes mu) as a frozen TorchScript module,
    checked against eager on x. Scripted; traced where scripting fails."""
    import torch

    class AutoencoderInfer(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m.decode(self.m.encode(x))

    class VaeInfer(AutoencoderInfer):
        def forward(self, x):
            return self.m.decode(self.m.encode(x)[0])

    infer = (VaeInfer if vae else AutoencoderInfer)(model).eval()
    with torch.no_grad():
        want = infer(x)
        try:
            scripted = torch.jit.script(infer)
        except Exception:  # TorchScript cannot compile it: record the one path x takes
            scripted = torch.jit.trace(infer, x)
        frozen = torch.jit.freeze(scripted)
        got = frozen(x)
    diff = (got - want).abs().max().item()
    if not diff <= 1e-5:
        raise ValueError("frozen TorchScript differs from eager by %g (more than 1e-5)" % diff)
    return frozen


if __name__ == "__main__":
    main()
