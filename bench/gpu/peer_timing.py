"""Timing shared by the PyTorch peers (erfnet_step.py, deeplab_step.py, feedback_step.py)."""
import statistics
import time

import torch


def timed(fn, reps, dev=torch.device('cuda'), warmup=3):
    """Median, min and max milliseconds of fn after `warmup` calls: CUDA events on a GPU, the wall clock on a CPU (rehearsals)."""
    for _ in range(warmup):
        fn()
    if dev.type == 'cuda':
        torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        if dev.type == 'cuda':
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            torch.cuda.synchronize()
            times.append(a.elapsed_time(b))
        else:
            t0 = time.perf_counter()
            fn()
            times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times), min(times), max(times)


def configure(device, tf32):
    """The peers' device: cuDNN autotuning on, TF32 only when asked (PyTorch's fp32 baseline is without), seed 1."""
    dev = torch.device(device)
    if dev.type == 'cuda':
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    torch.manual_seed(1)
    return dev
