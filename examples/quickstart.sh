#!/usr/bin/env bash
# examples/quickstart.sh: the main job, from a fresh Debian machine.
# Installs the Debian packages aec needs (if missing), builds the compiler,
# the runtime and every model, trains models/fmnist_cae.ae on Fashion-MNIST
# for a short run, and writes its outputs to runs/fmnist_cae/.
#
#   EPOCHS=40 bash examples/quickstart.sh    # the seed experiment's full length
set -euo pipefail
cd "$(dirname "$0")/.."

epochs=${EPOCHS:-5}
data=/usr/share/datasets/fashion-mnist
out=runs/fmnist_cae

bash .ci/install-deps
make
build/aec check models/fmnist_cae.ae
rm -rf "$out"
build/fmnist_cae train --data "$data" --out "$out" --epochs "$epochs"
w="$out/model.safetensors"
build/fmnist_cae eval --data "$data" --weights "$w"
build/fmnist_cae reconstruct --data "$data" --weights "$w" --out "$out/recon.png" --n 10
build/fmnist_cae encode --data "$data" --weights "$w" --out "$out/latents.npy" --labels "$out/labels.npy"
build/fmnist_cae encode --data "$data" --weights "$w" --out "$out/latents20.npy" --limit 20
build/fmnist_cae decode --weights "$w" --latents "$out/latents20.npy" --out "$out/decoded.png" --cols 10
echo
echo "outputs in $out/:"
ls -l "$out"
