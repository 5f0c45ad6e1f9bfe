"""PyTorch reference versions of the aec models, plus a small safetensors reader/writer.

The submodule names are the .ae layer names, registered in layer order, so the
state_dict keys (conv1.weight, conv1.bias, ...) match the parameter names aec uses.
Autoencoders: forward(x) -> y, loss(y, x) -> scalar. VAEs (listed in VAE_LATENT):
forward(x, eps) -> (y, mu, logvar), loss(y, x, mu, logvar) -> (total, recon, kl).
Run with /usr/bin/python3 (Debian's python3-torch).
"""
import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class FmnistCae(nn.Module):
    """models/fmnist_cae.ae: input 1x28x28, code 64, loss mse, adam(1e-3, wd 1e-5)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, stride=2, padding=1)    # 32x14x14
        self.conv2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)   # 64x7x7
        self.code = nn.Linear(64 * 7 * 7, 64)
        self.fc = nn.Linear(64, 3136)
        self.up1 = nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1)  # 32x14x14
        self.up2 = nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1)   # 1x28x28

    def encode(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = torch.flatten(x, 1)
        return self.code(x)

    def decode(self, z):
        x = F.relu(self.fc(z))
        x = x.view(-1, 64, 7, 7)
        x = F.relu(self.up1(x))
        return torch.sigmoid(self.up2(x))

    def forward(self, x):
        return self.decode(self.encode(x))

    def loss(self, y, x):
        return F.mse_loss(y, x)

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3, weight_decay=1e-5)


class TinyAll(nn.Module):
    """tests/models/tiny_all.ae: input 2x8x8, code 5, loss bce, sgd(0.1, momentum 0.9)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(2, 4, 3, stride=2, padding=1)        # 4x4x4
        self.c2 = nn.Conv2d(4, 6, 2)                             # 6x3x3
        self.z = nn.Linear(6 * 3 * 3, 5)
        self.d1 = nn.Linear(5, 48)
        self.u1 = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1)  # 4x8x8
        self.u2 = nn.ConvTranspose2d(4, 2, 3, padding=1)                              # 2x8x8

    def encode(self, x):
        x = F.leaky_relu(self.c1(x), 0.2)
        x = torch.tanh(self.c2(x))
        x = torch.flatten(x, 1)
        return self.z(x)

    def decode(self, z):
        x = torch.sigmoid(self.d1(z))
        x = x.view(-1, 3, 4, 4)
        x = F.relu(x)
        x = F.relu(self.u1(x))
        x = self.u2(x)
        return torch.sigmoid(x)

    def forward(self, x):
        return self.decode(self.encode(x))

    def loss(self, y, x):
        return F.binary_cross_entropy(y, x)

    def optimizer(self):
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


class CelebaVae(nn.Module):
    """models/celeba_vae.ae: input 3x64x64 in [-1,1], latent 128, loss sse + kl (beta 1), adam(1e-3).

    forward(x, eps) takes the noise explicitly (z = mu + eps * exp(0.5 * logvar)), so the parity
    oracle and aec can use the same eps. loss() is per image: squared error summed over pixels plus
    beta * KL, both summed over the batch and divided by the batch size.
    """

    LATENT = 128
    BETA = 1.0

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 4, stride=2, padding=1)      # 32x32x32
        self.conv2 = nn.Conv2d(32, 64, 4, stride=2, padding=1)     # 64x16x16
        self.conv3 = nn.Conv2d(64, 128, 4, stride=2, padding=1)    # 128x8x8
        self.mu = nn.Linear(128 * 8 * 8, self.LATENT)
        self.logvar = nn.Linear(128 * 8 * 8, self.LATENT)
        self.fc = nn.Linear(self.LATENT, 128 * 8 * 8)
        self.up1 = nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1)  # 64x16x16
        self.up2 = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)   # 32x32x32
        self.up3 = nn.ConvTranspose2d(32, 3, 4, stride=2, padding=1)    # 3x64x64

    def encode(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x))
        x = torch.flatten(x, 1)
        return self.mu(x), self.logvar(x)

    def decode(self, z):
        x = self.fc(z)
        x = x.view(-1, 128, 8, 8)
        x = F.relu(self.up1(x))
        x = F.relu(self.up2(x))
        return torch.tanh(self.up3(x))

    def forward(self, x, eps):
        mu, logvar = self.encode(x)
        z = mu + eps * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar

    def loss(self, y, x, mu, logvar):
        """Returns (total, recon, kl), each a scalar averaged over the batch's images."""
        b = x.shape[0]
        recon = torch.sum((y - x) ** 2) / b
        kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - torch.exp(logvar)) / b
        return recon + self.BETA * kl, recon, kl

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


MODELS = {"fmnist_cae": FmnistCae, "tiny_all": TinyAll, "celeba_vae": CelebaVae}
INPUT_SHAPES = {"fmnist_cae": (1, 28, 28), "tiny_all": (2, 8, 8), "celeba_vae": (3, 64, 64)}
# Models whose forward takes (x, eps) and returns (y, mu, logvar): name -> latent size.
VAE_LATENT = {"celeba_vae": CelebaVae.LATENT}


def build(name):
    if name not in MODELS:
        raise ValueError("unknown model %r (known: %s)" % (name, ", ".join(sorted(MODELS))))
    return MODELS[name]()


# --- safetensors ------------------------------------------------------------
# 8-byte little-endian header length N, N bytes of JSON, then the raw data;
# data_offsets are relative to the end of the header.

_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4",
           "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def save_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> numpy array or torch tensor (written in dict order)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu().numpy()
        a = np.asarray(t)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dt not in _NAMES:
            raise ValueError("%s: unsupported dtype %s" % (name, a.dtype))
        raw = np.ascontiguousarray(a, dtype=dt).tobytes()
        header[name] = {"dtype": _NAMES[dt], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # pad so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def load_safetensors(path, with_metadata=False):
    """Returns dict name -> numpy array (in file order), and the metadata if asked."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError("%s: header length %d exceeds file size" % (path, n))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dt = np.dtype(_DTYPES[info["dtype"]])
        shape = tuple(info["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        if end - begin != count * dt.itemsize or end > len(body):
            raise ValueError("%s: tensor %s has bad data_offsets" % (path, name))
        out[name] = np.frombuffer(body[begin:end], dtype=dt).reshape(shape).copy()
    return (out, meta) if with_metadata else out


def load_state(model, path):
    """Load parameters from a safetensors file into model (strict: same names and shapes)."""
    tensors = load_safetensors(path)
    state = {k: torch.from_numpy(v) for k, v in tensors.items()}
    model.load_state_dict(state, strict=True)
    return model


def save_state(model, path, metadata=None):
    save_safetensors(path, {k: v for k, v in model.state_dict().items()}, metadata)
