#!/usr/bin/env python3
"""PyTorch reference for the bench: ERFNet (seed-specs §2.1-2.2) training step and inference on CUDA.

The reference to beat on a GPU host (DEVELOPERS.md: "record PyTorch's time for the same ERFNet step").
Same work as `mirage bench --full`: training step 8x3x224x448 (Adam lr 5e-4, weight decay 1e-4,
cross-entropy, dropout as in training), inference 1x3x512x1024 and 1x3x224x448 (eval mode).
Timing: CUDA events around each step after warm-up, median of --reps. Prints one JSON object.

Not run yet: no GPU has been lent to this project so far. Run on the GPU host with
  python3 bench/gpu/erfnet_step.py --reps 20 > $OUT/pytorch.json
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_timing import configure, timed  # noqa: E402


class Downsampler(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout - cin, 3, stride=2, padding=1, bias=True)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3)

    def forward(self, x):
        return F.relu(self.bn(torch.cat([self.conv(x), self.pool(x)], 1)))


class NonBottleneck1d(nn.Module):
    def __init__(self, c, p, d):
        super().__init__()
        self.conv3x1_1 = nn.Conv2d(c, c, (3, 1), padding=(1, 0), bias=True)
        self.conv1x3_1 = nn.Conv2d(c, c, (1, 3), padding=(0, 1), bias=True)
        self.bn1 = nn.BatchNorm2d(c, eps=1e-3)
        self.conv3x1_2 = nn.Conv2d(c, c, (3, 1), padding=(d, 0), dilation=(d, 1), bias=True)
        self.conv1x3_2 = nn.Conv2d(c, c, (1, 3), padding=(0, d), dilation=(1, d), bias=True)
        self.bn2 = nn.BatchNorm2d(c, eps=1e-3)
        self.dropout = nn.Dropout2d(p)
        self.p = p

    def forward(self, x):
        y = F.relu(self.conv3x1_1(x))
        y = F.relu(self.bn1(self.conv1x3_1(y)))
        y = F.relu(self.conv3x1_2(y))
        y = self.bn2(self.conv1x3_2(y))
        if self.p != 0:
            y = self.dropout(y)
        return F.relu(y + x)


class Upsampler(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1, bias=True)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class ERFNet(nn.Module):
    def __init__(self, classes=20):
        super().__init__()
        enc = [Downsampler(3, 16), Downsampler(16, 64)] + [NonBottleneck1d(64, 0.03, 1) for _ in range(5)]
        enc += [Downsampler(64, 128)] + [NonBottleneck1d(128, 0.3, d) for d in (2, 4, 8, 16, 2, 4, 8, 16)]
        dec = [Upsampler(128, 64), NonBottleneck1d(64, 0, 1), NonBottleneck1d(64, 0, 1),
               Upsampler(64, 16), NonBottleneck1d(16, 0, 1), NonBottleneck1d(16, 0, 1)]
        self.layers = nn.Sequential(*enc, *dec)
        self.output_conv = nn.ConvTranspose2d(16, classes, 2, stride=2, padding=0, output_padding=0, bias=True)

    def forward(self, x):
        return self.output_conv(self.layers(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=20)
    ap.add_argument('--tf32', action='store_true', help='allow TF32 matmul/conv (PyTorch default for convs is on)')
    ap.add_argument('--amp', action='store_true', help='autocast to f16 with a GradScaler (the peer of mirage --precision f16)')
    a = ap.parse_args()
    dev = configure('cuda', a.tf32)
    net = ERFNet().to(dev)
    out = {'device': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'cudnn': torch.backends.cudnn.version(),
           'tf32': a.tf32, 'amp': a.amp, 'reps': a.reps, 'results': []}
    amp = lambda: torch.autocast('cuda', dtype=torch.float16, enabled=a.amp)

    net.eval()
    for shape in ((1, 3, 512, 1024), (1, 3, 224, 448)):
        x = torch.randn(shape, device=dev)
        def infer():
            with torch.no_grad(), amp():
                net(x)
        med, lo, hi = timed(infer, a.reps)
        out['results'].append({'name': 'erfnet inference', 'shape': list(shape), 'ms': med, 'spread': [lo, hi]})

    net.train()
    x = torch.randn(8, 3, 224, 448, device=dev)
    y = torch.randint(0, 20, (8, 224, 448), device=dev)
    opt = torch.optim.Adam(net.parameters(), lr=5e-4, weight_decay=1e-4)

    scaler = torch.cuda.amp.GradScaler(enabled=a.amp)

    def step():
        opt.zero_grad(set_to_none=True)
        with amp():
            loss = F.cross_entropy(net(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    torch.cuda.reset_peak_memory_stats()
    med, lo, hi = timed(step, a.reps)
    out['results'].append({'name': 'erfnet training step (Adam)', 'shape': [8, 3, 224, 448], 'ms': med, 'spread': [lo, hi],
                           'peak_bytes': torch.cuda.max_memory_allocated()})
    print(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
