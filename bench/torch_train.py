"""The training loop and loss.csv that bench/torch_fmnist.py and bench/torch_celeba.py share.

Each script brings its data, its batch_loss(model, x, gen) -> scalar tensor and its
evaluate(model) -> float; this module shuffles, steps, times and writes
DIR/loss.csv (epoch,train_loss,val_loss,seconds), one row per epoch.
"""
import os
import time

import torch

import torch_models

CSV_HEADER = "epoch,train_loss,val_loss,seconds\n"


def seed_torch(threads, seed):
    """torch on `threads` threads, seeded; returns the generator that shuffles (and draws any noise)."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def model_and_optimizer(name, init=None):
    """torch_models' model `name`, started from init (.safetensors) if given, and its optimizer."""
    model = torch_models.build(name)
    if init:
        torch_models.load_state(model, init)
    return model, model.optimizer()


def start_csv(out):
    """Make directory out and write the header of out/loss.csv; returns that path."""
    os.makedirs(out, exist_ok=True)
    csv_path = os.path.join(out, "loss.csv")
    with open(csv_path, "w") as f:
        f.write(CSV_HEADER)
    return csv_path


def train_epoch(model, opt, x_train, gen, batch, batch_loss):
    """One pass over shuffled batches of `batch` (last one partial); returns the size-weighted mean
    of batch_loss(model, x, gen)."""
    model.train()
    n = x_train.shape[0]
    perm = torch.randperm(n, generator=gen)
    total = 0.0
    for start in range(0, n, batch):
        x = x_train[perm[start:start + batch]]
        loss = batch_loss(model, x, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * x.shape[0]
    return total / n


def train(model, opt, x_train, gen, epochs, batch, batch_loss, evaluate, csv_path, digits):
    """`epochs` of train_epoch, each timed, then evaluate(model), a row of csv_path and a line on
    stdout with the losses to `digits` places."""
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        train_loss = train_epoch(model, opt, x_train, gen, batch, batch_loss)
        seconds = time.perf_counter() - t0
        val_loss = evaluate(model)
        with open(csv_path, "a") as f:
            f.write("%d,%.6f,%.6f,%.3f\n" % (epoch, train_loss, val_loss, seconds))
        print("epoch %3d  train %.*f  val %.*f  %.2fs" % (epoch, digits, train_loss, digits, val_loss, seconds),
              flush=True)
