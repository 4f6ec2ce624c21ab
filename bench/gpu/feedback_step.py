#!/usr/bin/env python3
"""PyTorch peer of `mirage bench --only models --models feedback`: the hot-weather feedback system.

The system mirage trains (src/models/restoration-unet.ts, src/train/feedback.ts; seed-specs §1.2-1.5,
Rai et al. BMVC 2020): a restoration U-Net (jvanvugt/pytorch-unet layout, depth 5, 2^6 filters
first, padding, batch norm after each ReLU, up-convolutions) whose 2-channel output tanh(.)*10 is a
displacement field that warps the distorted input (bilinear, absolute pixel offsets, border clamp),
in front of ERFNet without the encoder's output conv (erfnet_step.py's). With feedback, the U-Net's
bottleneck gets + 0.001 * TransBlockRes([d*R_r, d*R_g, d*R_b]) (AvgPool 4, conv3x3 BN ReLU, conv3x3
BN, AvgPool 4), d the change of the logits between the last two iterations, R the previous restored
image. Its parameter count is checked against mirage's reference (31,632,198 + 2,064,256).

One training step as mirage's: a plain pass (no gradients), then 3 iterations, each an Adam step of
the U-Net on its L1 to the clean image, and the segmentation loss (CB-iFL: focal with gamma 0, 0.1,
0.2, per-image normalised, detached modulating factor) back-propagated into ERFNet, which takes one
Adam step after the loop (lr 5e-4, weight decay 1e-4; the U-Net lr 2e-4). 8x3x224x448 by default;
inference (eval mode, the same loop forward only) 1x3x512x1024 and 1x3x224x448. CUDA events after warm-up, median of
--reps; --amp: autocast f16 with a GradScaler per optimizer. Prints one JSON object.

Rehearse on a CPU (Debian's python3-torch):
  python3 bench/gpu/feedback_step.py --device cpu --reps 1 --width 2 --train-shape 2,32,64 --infer-shape 1,32,64
"""
import argparse
import contextlib
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from erfnet_step import ERFNet  # noqa: E402  (the same ERFNet as the ERFNet peer)
from peer_timing import configure, timed  # noqa: E402


class UNetConvBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(cout),
                                   nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(cout))

    def forward(self, x):
        return self.block(x)


class UNetUpBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        self.conv_block = UNetConvBlock(cin, cout)

    def forward(self, x, bridge):
        return self.conv_block(torch.cat([self.up(x), bridge], 1))


class FeedbackBlock(nn.Module):
    def __init__(self, cin, cout, depth):
        super().__init__()
        self.pools = (2 ** ((depth - 1 + 1) // 2), 2 ** ((depth - 1) // 2))
        self.conv1, self.bn1 = nn.Conv2d(cin, cin, 3, padding=1), nn.BatchNorm2d(cin)
        self.conv2, self.bn2 = nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout)

    def forward(self, f):
        y = F.avg_pool2d(f, self.pools[0]) if self.pools[0] > 1 else f
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(y)))))
        return F.avg_pool2d(y, self.pools[1]) if self.pools[1] > 1 else y


def warp(im, flow):
    """Bilinear sample of im at (i + flow[:, 0], j + flow[:, 1]), pixel coordinates clamped to the image."""
    n, _, h, w = im.shape
    ii = torch.arange(h, device=im.device, dtype=flow.dtype).view(1, h, 1)
    jj = torch.arange(w, device=im.device, dtype=flow.dtype).view(1, 1, w)
    y = (ii + flow[:, 0]).clamp(0, h - 1) / (h - 1) * 2 - 1
    x = (jj + flow[:, 1]).clamp(0, w - 1) / (w - 1) * 2 - 1
    return F.grid_sample(im, torch.stack([x, y], -1).to(im.dtype), mode='bilinear', padding_mode='border', align_corners=True)


class RestorationUNet(nn.Module):
    def __init__(self, depth=5, wf=6, classes=20):
        super().__init__()
        prev, self.depth = 3, depth
        self.down_path = nn.ModuleList()
        for i in range(depth):
            self.down_path.append(UNetConvBlock(prev, 2 ** (wf + i)))
            prev = 2 ** (wf + i)
        self.up_path = nn.ModuleList()
        for i in reversed(range(depth - 1)):
            self.up_path.append(UNetUpBlock(prev, 2 ** (wf + i)))
            prev = 2 ** (wf + i)
        self.last = nn.Conv2d(prev, 2, 1)
        self.feedback = FeedbackBlock(3 * classes, 2 ** (wf + depth - 1), depth)

    def forward(self, x, fb=None):
        skips, y = [], x
        for i, blk in enumerate(self.down_path):
            y = blk(y)
            if i < self.depth - 1:
                skips.append(y)
                y = F.max_pool2d(y, 2)
        if fb is not None:
            y = y + 0.001 * self.feedback(fb)
        for i, blk in enumerate(self.up_path):
            y = blk(y, skips[-1 - i])
        flow = torch.tanh(self.last(y)) * 10
        return warp(x, flow), flow


def focal(logits, target, gamma, ignore=19):
    """CB-iFL without class weights: -(1 - p_t)^gamma log p_t, the factor detached, normalised per image over its labelled pixels."""
    logp = F.log_softmax(logits.float(), 1)
    valid = target != ignore
    t = target.clamp(0, logits.shape[1] - 1)
    lp = logp.gather(1, t.unsqueeze(1)).squeeze(1)
    factor = (1 - lp.detach().exp()).pow(gamma)
    per = -(factor * lp * valid).flatten(1).sum(1) / valid.flatten(1).sum(1).clamp_min(1)
    return per.mean()


def unet_parameters(depth, wf, classes):
    """unetParameters in src/models/restoration-unet.ts terms: blocks, up-convs, last, feedback branch."""
    block = lambda i, o: (i * 9 + 1) * o + 2 * o + (o * 9 + 1) * o + 2 * o
    n, prev = 0, 3
    for i in range(depth):
        n += block(prev, 2 ** (wf + i)); prev = 2 ** (wf + i)
    for i in reversed(range(depth - 1)):
        o = 2 ** (wf + i); n += prev * o * 4 + o + block(prev, o); prev = o
    c = 3 * classes
    return n + prev * 2 + 2 + (c * 9 + 1) * c + 2 * c + (c * 9 + 1) * 2 ** (wf + depth - 1) + 2 * 2 ** (wf + depth - 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=10)
    ap.add_argument('--tf32', action='store_true')
    ap.add_argument('--amp', action='store_true', help='autocast to f16 with GradScalers (the peer of mirage --precision f16)')
    ap.add_argument('--width', type=int, default=6, help='first U-Net layer has 2^width filters (mirage --unet-width)')
    ap.add_argument('--iterations', type=int, default=3)
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--train-shape', default='8,224,448')
    ap.add_argument('--infer-shape', action='append', help='N,H,W (repeatable); default 1,512,1024 and 1,224,448 (as mirage bench --full)')
    a = ap.parse_args()
    dev = configure(a.device, a.tf32)
    classes = 20
    unet, seg = RestorationUNet(5, a.width, classes).to(dev), ERFNet(classes).to(dev)
    pu, ps = sum(p.numel() for p in unet.parameters()), sum(p.numel() for p in seg.parameters())
    out = {'model': f'feedback (U-Net depth 5, 2^{a.width} filters, {a.iterations} iterations, ERFNet)',
           'device': torch.cuda.get_device_name(0) if dev.type == 'cuda' else 'cpu', 'torch': torch.__version__,
           'cudnn': torch.backends.cudnn.version(), 'tf32': a.tf32, 'amp': a.amp, 'reps': a.reps,
           'parameters': pu + ps, 'command': ' '.join(['python3'] + sys.argv), 'results': []}
    if pu != unet_parameters(5, a.width, classes) or ps != 2_064_256 or (a.width == 6 and pu != 31_632_198):
        print(f'parameters: U-Net {pu}, ERFNet {ps}; mirage has {unet_parameters(5, a.width, classes)} and 2,064,256', file=sys.stderr)
        sys.exit(1)
    on = a.amp and dev.type == 'cuda'
    amp = lambda: torch.autocast('cuda', dtype=torch.float16) if on else contextlib.nullcontext()
    gammas = [0, 0.1, 0.2, 0.3, 0.4, 0.5][:a.iterations]

    def loop(x, clean=None, y=None, opt_r=None, opt_s=None, sc_r=None, sc_s=None):
        """The plain pass and the iterations; with optimizers a training step, else inference (no losses, as mirage's evalStep without labels)."""
        with torch.no_grad(), amp():
            r_prev, _ = unet(x)
            prev = seg(r_prev)
        cur = prev
        for k in range(a.iterations):
            with torch.no_grad():
                d = (cur - prev).float()
                fb = torch.cat([d * r_prev[:, j:j + 1].float() for j in range(3)], 1)
            with torch.set_grad_enabled(opt_r is not None), amp():
                r, _ = unet(x, fb)
            if opt_r is not None:
                sc_r.scale(F.l1_loss(r.float(), clean)).backward()
                sc_r.step(opt_r)
                sc_r.update()
                opt_r.zero_grad(set_to_none=True)
            with torch.set_grad_enabled(opt_s is not None), amp():
                s = seg(r.detach())
            if opt_s is not None:
                sc_s.scale(focal(s, y, gammas[k])).backward()
            prev, cur, r_prev = cur, s.detach(), r.detach()
        if opt_s is not None:
            sc_s.step(opt_s)
            sc_s.update()
            opt_s.zero_grad(set_to_none=True)

    g = torch.Generator().manual_seed(8)
    unet.eval(); seg.eval()
    for shape in a.infer_shape or ['1,512,1024', '1,224,448']:
        n, h, w = map(int, shape.split(','))
        x = torch.rand((n, 3, h, w), generator=g).to(dev)
        med, lo, hi = timed(lambda: loop(x), a.reps, dev, warmup=2)
        out['results'].append({'name': 'feedback inference', 'shape': [n, 3, h, w], 'ms': med, 'spread': [lo, hi]})

    unet.train(); seg.train()
    n, h, w = map(int, a.train_shape.split(','))
    x = torch.rand((n, 3, h, w), generator=g).to(dev)
    clean = torch.rand((n, 3, h, w), generator=g).to(dev)
    y = torch.randint(0, classes, (n, h, w), generator=g).to(dev)
    opt_s = torch.optim.Adam(seg.parameters(), lr=5e-4, weight_decay=1e-4)
    opt_r = torch.optim.Adam(unet.parameters(), lr=2e-4)
    sc_r, sc_s = torch.cuda.amp.GradScaler(enabled=on), torch.cuda.amp.GradScaler(enabled=on)
    if dev.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    med, lo, hi = timed(lambda: loop(x, clean, y, opt_r, opt_s, sc_r, sc_s), a.reps, dev, warmup=2)
    out['results'].append({'name': 'feedback training step (Adam + Adam)', 'shape': [n, 3, h, w], 'ms': med, 'spread': [lo, hi],
                           'peak_bytes': torch.cuda.max_memory_allocated() if dev.type == 'cuda' else None})
    print(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
