#!/usr/bin/env bash
# examples/quickstart.sh: the main job, from a fresh Debian machine.
# Installs the Debian packages aec and its tests need (if missing), builds the compiler,
# the runtime and every model, trains models/fmnist_cae.ae on Fashion-MNIST
# for a short run, and writes its outputs to runs/fmnist_cae/.
#
#   EPOCHS=40 bash examples/quickstart.sh    # the seed experiment's full length
set -euo pipefail
cd "$(dirname "$0")/.."

epochs=${EPOCHS:-5}
data=/usr/share/datasets/fashion-mnist
out=runs/fmnist_cae

bash .ci/install-deps --tests      # also what `make test` needs: cmocka, PyTorch
make
build/aec check models/fmnist_cae.ae
rm -rf "$out"
# train ends by writing loss.png, recon.png, latent_pca.png, latent_tsne.png,
# interpolate.png and report.html beside its checkpoints
build/fmnist_cae train --data "$data" --out "$out" --epochs "$epochs"
w="$out/model.safetensors"
build/fmnist_cae eval --data "$data" --weights "$w"
build/fmnist_cae encode --data "$data" --weights "$w" --out "$out/latents.npy" --labels "$out/labels.npy"
echo
echo "open $out/report.html in a browser"
echo "outputs in $out/:"
ls -l "$out"
