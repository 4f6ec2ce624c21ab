// argmax over classes + confusion matrix: pred[n,p] = argmax_c logits[n,c,p] (first maximum);
// conf[t·C + pred] += 1 for labels t ∈ [0, C) (u32 atomics), or with `perImage` one matrix per
// image, conf[((first + n)·C + t)·C + pred]. Not differentiable.
import { fmt, numel } from '../engine/shape.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { MAIN_1D, kernel, run, storage, storeIdx } from './wgsl.js';

// (logits f32, or f16: the logits of a network with f16 activations)
const argmaxConfusion_ = (half: boolean) => { const h = storage('f32', half); return kernel(`argmax_confusion${h.sfx}`, /* wgsl */ `${h.head}
override WG: u32 = 64;
struct P { n: u32, c: u32, inner: u32, count: u32, per_image: u32, first: u32 }
@group(0) @binding(0) var<storage, read> logits: array<${h.S}>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> pred: array<i32>;
@group(0) @binding(3) var<storage, read_write> conf: array<atomic<u32>>;
@group(0) @binding(4) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n * u.inner) { return; }
  let base = (idx / u.inner) * u.c * u.inner + idx % u.inner;   // logit (n, c) at base + c·inner
  var best = ${h.ld('logits[base]')};
  var arg = 0u;
  for (var c = 1u; c < u.c; c++) {
    let v = ${h.ld('logits[base + c * u.inner]')};
    if (v > best) { best = v; arg = c; }
  }
  pred[idx] = i32(arg);
  let t = labels[idx];
  let img = select(0u, (u.first + idx / u.inner) * u.c * u.c, u.per_image != 0u);
  if (u.count != 0u && t >= 0 && u32(t) < u.c) { atomicAdd(&conf[img + u32(t) * u.c + arg], 1u); }
}`); };
const ARGMAX_CONFUSION = [argmaxConfusion_(false), argmaxConfusion_(true)];

/**
 * Class map of logits [N,C,…] → i32 [N,…]; when `conf` (u32 [C,C]) is given, adds (label, pred)
 * counts to it; with `perImage` {first}, conf is u32 [images,C,C] and image n's counts go to
 * matrix first + n.
 */
export function argmaxConfusion(logits: Tensor, labels: Tensor | null, conf: Tensor | null, perImage?: { first: number }): Tensor {
  const variant = ARGMAX_CONFUSION[storeIdx('argmax', logits)];
  const [n, c] = logits.shape, inner = numel(logits.shape.slice(2));
  if (labels) {
    assertDType('confusion', labels, 'i32', 'labels');
    if (labels.size !== n * inner) throw new Error(`confusion: labels ${fmt(labels.shape)} do not match logits ${fmt(logits.shape)}`);
  }
  if (conf && perImage) {
    if (conf.dtype !== 'u32' || conf.size % (c * c) || conf.size / (c * c) < perImage.first + n) {
      throw new Error(`confusion: per-image matrices must be u32 [≥${perImage.first + n},${c},${c}], got ${conf.describe()}`);
    }
  } else if (conf && (conf.dtype !== 'u32' || conf.size !== c * c)) throw new Error(`confusion: matrix must be u32 [${c},${c}], got ${conf.describe()}`);
  const pred = empty([n, ...logits.shape.slice(2)], 'i32', 'argmax');
  const none = labels ? null : empty([1], 'i32', 'no_labels');   // bound, never counted (u.count 0)
  run(variant, {
    inputs: [logits, labels ?? none!], outputs: [pred, conf], params: [n, c, inner, labels && conf ? 1 : 0, perImage ? 1 : 0, perImage?.first ?? 0], threads: n * inner,
  });
  none?.dispose();
  return pred;
}
