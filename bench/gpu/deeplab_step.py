#!/usr/bin/env python3
"""PyTorch peer of `mirage bench --only models --models deeplabv3plus-r50`: DeepLabV3+ on ResNet-50.

The network mirage builds (src/models/deeplabv3plus.ts, seed-specs §4.2/§4.6, NVIDIA's deepv3.py):
torchvision's ResNet-50 (7x7 stem) dilated to output stride 8 (or 16), ASPP with image pooling and
rates 12/24/36 at stride 8 (6/12/18 at 16), 256 channels each, bot_aspp 1x1 1280->256 and bot_fine
1x1 256->48 without BN, final 3x3 304->256 BN ReLU, 3x3 256->256 BN ReLU, 1x1 -> classes, bilinear
upsampling with align_corners, ImageNet normalisation inside the model. Its parameter count is
printed and checked against mirage's (deeplabParameters, seed-specs §4.6).

Step as mirage's bench: 8x3x224x448, SGD lr 1e-2 momentum 0.9 weight decay 1e-4 (the default
recipe), boundary-relaxed loss (NVIDIA's ImgWtLossSoftNLL on multi-hot targets: the reference makes
them in its CPU data loader, so they are made once here, outside the timed step); inference
1x3x512x1024 and 1x3x224x448 in eval mode. CUDA events around each step after warm-up, median of
--reps; --amp: autocast f16 with a GradScaler. Prints one JSON object.

Rehearse on a CPU (Debian's python3-torch):
  python3 bench/gpu/deeplab_step.py --device cpu --reps 2 --train-shape 2,64,128 --infer-shape 1,64,128
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_timing import configure, timed  # noqa: E402


def conv_bn(cin, cout, k, dil=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=dil if k == 3 else 0, dilation=dil, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ASPP(nn.Module):
    def __init__(self, cin, rates):
        super().__init__()
        self.features = nn.ModuleList([conv_bn(cin, 256, 1)] + [conv_bn(cin, 256, 3, r) for r in rates])
        self.img_conv = conv_bn(cin, 256, 1)

    def forward(self, x):
        h, w = x.shape[2:]
        img = F.interpolate(self.img_conv(x.mean((2, 3), keepdim=True)), (h, w), mode='bilinear', align_corners=True)
        return torch.cat([img] + [f(x) for f in self.features], 1)


class DeepLabV3Plus(nn.Module):
    def __init__(self, classes, output_stride=8):
        super().__init__()
        r = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=[False, output_stride == 8, True])
        self.layer0 = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = r.layer1, r.layer2, r.layer3, r.layer4
        self.aspp = ASPP(2048, [2 * v if output_stride == 8 else v for v in (6, 12, 18)])
        self.bot_fine = nn.Conv2d(256, 48, 1, bias=False)
        self.bot_aspp = nn.Conv2d(1280, 256, 1, bias=False)
        self.final = nn.Sequential(nn.Conv2d(304, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256), nn.ReLU(inplace=True),
                                   nn.Conv2d(256, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256), nn.ReLU(inplace=True),
                                   nn.Conv2d(256, classes, 1, bias=False))
        self.register_buffer('mean', torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        h, w = x.shape[2:]
        x = (x - self.mean) / self.std
        skip = self.layer1(self.layer0(x))
        out = self.layer4(self.layer3(self.layer2(skip)))
        up = F.interpolate(self.bot_aspp(self.aspp(out)), skip.shape[2:], mode='bilinear', align_corners=True)
        y = self.final(torch.cat([self.bot_fine(skip), up], 1))
        return F.interpolate(y, (h, w), mode='bilinear', align_corners=True)


def mirage_parameters(classes):
    """deeplabParameters('resnet50', classes) in src/models/deeplabv3plus.ts, with torchvision's ResNet-50 trunk (fc dropped)."""
    trunk = 25_557_032 - (2048 * 1000 + 1000)
    aspp = 2 * (2048 * 256 + 512) + 3 * (2048 * 256 * 9 + 512)
    head = 256 * 48 + 1280 * 256 + 304 * 256 * 9 + 512 + 256 * 256 * 9 + 512 + 256 * classes
    return trunk + aspp + head


def relaxed_targets(labels, classes, border=1):
    """Multi-hot targets [N, C, H, W]: a pixel's class and every class within `border` pixels (the reference's loader)."""
    onehot = F.one_hot(labels, classes).permute(0, 3, 1, 2).float()
    return (F.max_pool2d(onehot, 2 * border + 1, stride=1, padding=border) > 0).float()


def relaxed_loss(logits, targets, labels, classes, wt_bound=1.0):
    """ImgWtLossSoftNLL: per image, class weights 1 + b*(1 - hist), -log of the softmax mass on the relaxed classes."""
    loss = 0
    for i in range(logits.shape[0]):
        hist = torch.bincount(labels[i].flatten(), minlength=classes)[:classes].float()
        weights = 1 + wt_bound * (1 - hist / hist.sum())
        t = targets[i:i + 1]
        border = t.sum(1)                                     # relaxed pixels count once in all
        p = (F.softmax(logits[i:i + 1].float(), 1) * t).sum(1).clamp_min(1e-12)
        w = (t * weights.view(1, -1, 1, 1)).sum(1) / border
        loss = loss + (-w * p.log()).sum() / (t.shape[2] * t.shape[3])
    return loss / logits.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=20)
    ap.add_argument('--tf32', action='store_true', help='allow TF32 matmul/conv')
    ap.add_argument('--amp', action='store_true', help='autocast to f16 with a GradScaler (the peer of mirage --precision f16)')
    ap.add_argument('--output-stride', type=int, default=8, choices=[8, 16])
    ap.add_argument('--classes', type=int, default=19, help="network outputs (mirage's default: one per real class, 19 of its 20)")
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--train-shape', default='8,224,448')
    ap.add_argument('--infer-shape', action='append', help='N,H,W (repeatable); default 1,512,1024 and 1,224,448')
    a = ap.parse_args()
    dev = configure(a.device, a.tf32)
    net = DeepLabV3Plus(a.classes, a.output_stride).to(dev)
    params = sum(p.numel() for p in net.parameters())
    want = mirage_parameters(a.classes)
    out = {'model': f'deeplabv3plus-r50 (output stride {a.output_stride})', 'device': torch.cuda.get_device_name(0) if dev.type == 'cuda' else 'cpu',
           'torch': torch.__version__, 'cudnn': torch.backends.cudnn.version(), 'tf32': a.tf32, 'amp': a.amp, 'reps': a.reps,
           'parameters': params, 'mirage_parameters': want, 'command': ' '.join(['python3'] + sys.argv), 'results': []}
    if params != want:
        print(f'parameter count {params} differs from mirage\'s {want}: not the same network', file=sys.stderr)
        sys.exit(1)
    amp = lambda: torch.autocast(dev.type, dtype=torch.float16 if dev.type == 'cuda' else torch.bfloat16, enabled=a.amp)

    net.eval()
    for s in a.infer_shape or ['1,512,1024', '1,224,448']:
        n, h, w = map(int, s.split(','))
        x = torch.rand((n, 3, h, w), device=dev)
        def infer():
            with torch.no_grad(), amp():
                net(x)
        med, lo, hi = timed(infer, a.reps, dev)
        out['results'].append({'name': 'deeplabv3plus-r50 inference', 'shape': [n, 3, h, w], 'ms': med, 'spread': [lo, hi]})

    net.train()
    n, h, w = map(int, a.train_shape.split(','))
    g = torch.Generator().manual_seed(8)
    x = torch.rand((n, 3, h, w), generator=g).to(dev)
    y = torch.randint(0, a.classes, (n, h, w), generator=g).to(dev)
    targets = relaxed_targets(y, a.classes)
    opt = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.9, weight_decay=1e-4)
    scaler = torch.cuda.amp.GradScaler(enabled=a.amp and dev.type == 'cuda')

    def step():
        opt.zero_grad(set_to_none=True)
        with amp():
            logits = net(x)
        loss = relaxed_loss(logits, targets, y, a.classes)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    if dev.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    med, lo, hi = timed(step, a.reps, dev)
    out['results'].append({'name': 'deeplabv3plus-r50 training step (SGD)', 'shape': [n, 3, h, w], 'ms': med, 'spread': [lo, hi],
                           'peak_bytes': torch.cuda.max_memory_allocated() if dev.type == 'cuda' else None})
    print(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
