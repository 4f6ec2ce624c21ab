// The peer: TensorFlow.js's WebGPU backend on the same Dawn instance (platform.md: it runs in
// Node once globalThis.navigator.gpu is set). Optional: returns null when the package is absent.
import { type ConvCase, outShape } from './shapes.js';

type Tf = typeof import('@tensorflow/tfjs-core');
type TfTensor = import('@tensorflow/tfjs-core').Tensor;
export type Pass = 'forward' | 'bwd_input' | 'bwd_weight';

export interface PeerOp {
  run(): void;
  /** GPU milliseconds of one run: tfjs's own timestamp queries around each of its programs, summed (tf.time's kernelMs). */
  gpuMs(): Promise<number>;
  /** The last result in mirage's layout (NCHW, weights [k,c,r,s] / [cin,cout,r,s]). */
  result(): Promise<Float32Array>;
  dispose(): void;
}

export interface Peer {
  name: string;
  /** Whether tfjs's device has timestamp-query, so gpuMs() measures GPU time (else it is 0). */
  timestamps: boolean;
  sync(): Promise<void>;
  /** Throws Error('unsupported: …') when the peer has no kernel for this case. */
  conv(cs: ConvCase, pass: Pass, x: Float32Array, w: Float32Array, dy: Float32Array): PeerOp;
  tf: Tf;
}

const nchwToNhwc = (a: Float32Array, [n, c, h, w]: number[]) => {
  const o = new Float32Array(a.length);
  for (let b = 0; b < n; b++) for (let k = 0; k < c; k++) for (let i = 0; i < h * w; i++) o[(b * h * w + i) * c + k] = a[(b * c + k) * h * w + i];
  return o;
};
const nhwcToNchw = (a: Float32Array, [n, c, h, w]: number[]) => {
  const o = new Float32Array(a.length);
  for (let b = 0; b < n; b++) for (let k = 0; k < c; k++) for (let i = 0; i < h * w; i++) o[(b * c + k) * h * w + i] = a[(b * h * w + i) * c + k];
  return o;
};
/** [A, B, r, s] → [r, s, B, A] (conv: [k,c,r,s] → tfjs [r,s,c,k]; convT: [cin,cout,r,s] → [r,s,cout,cin]). */
const toRsba = (a: Float32Array, [A, B, r, s]: number[]) => {
  const o = new Float32Array(a.length);
  for (let i = 0; i < A; i++) for (let j = 0; j < B; j++) for (let p = 0; p < r * s; p++) o[(p * B + j) * A + i] = a[(i * B + j) * r * s + p];
  return o;
};
const fromRsba = (a: Float32Array, [A, B, r, s]: number[]) => {
  const o = new Float32Array(a.length);
  for (let i = 0; i < A; i++) for (let j = 0; j < B; j++) for (let p = 0; p < r * s; p++) o[(i * B + j) * r * s + p] = a[(p * B + j) * A + i];
  return o;
};

// tfjs-core's Node bundle registers no gradients (platform.md). Its ESM files do, but they import
// relative paths without '.js', which Node's ESM resolver refuses: a resolve hook adds the suffix
// when resolution fails. The registry lives on tfjs's global namespace, so the bundle sees them.
const RESOLVE_JS_HOOK = `export async function resolve(spec, ctx, next) {
  try { return await next(spec, ctx); } catch (e) {
    if (/^\\.\\.?\\//.test(spec) && !spec.endsWith('.js')) return next(spec + '.js', ctx);
    throw e;
  }
}`;
async function registerGradients(): Promise<void> {
  const { register, createRequire } = await import('node:module');
  const { pathToFileURL } = await import('node:url');
  register(`data:text/javascript,${encodeURIComponent(RESOLVE_JS_HOOK)}`);
  const core = createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/package.json');
  await import(pathToFileURL(core.replace(/package\.json$/, 'dist/register_all_gradients.js')).href);
}

export async function loadTfjsPeer(gpu: GPU): Promise<Peer | null> {
  let tf: Tf;
  try {
    (globalThis as unknown as { navigator: { gpu: GPU } }).navigator ??= { gpu } as never;
    tf = await import('@tensorflow/tfjs-core');
    await registerGradients();
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) return null;
    await tf.ready();
  } catch {
    return null;
  }
  const backend = tf.backend() as unknown as { submitQueue(): void; endComputePassEncoder(): void; commandEncoder: unknown; device: GPUDevice };
  const nhwc = (a: Float32Array, s: number[]) => tf.tensor4d(nchwToNhwc(a, s), [s[0], s[2], s[3], s[1]]);
  return {
    name: `tfjs-backend-webgpu ${tf.version_core}`,
    timestamps: backend.device.features.has('timestamp-query'),
    tf,
    async sync() {
      if (backend.commandEncoder) { backend.endComputePassEncoder(); backend.submitQueue(); }   // as tfjs does before a read-back
      await backend.device.queue.onSubmittedWorkDone();
    },
    conv(cs, pass, x, w, dy) {
      const y = outShape(cs);
      const [ph, pw] = cs.padding;
      const pad = [[0, 0], [ph, ph], [pw, pw], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]];
      const dil = cs.dilation[0] > 1 || cs.dilation[1] > 1;
      const xt = nhwc(x, cs.x), dyt = nhwc(dy, y);
      const [A, B, r, s] = cs.w;
      const wt = tf.tensor4d(toRsba(w, cs.w), [r, s, B, A]);
      const inputs = [xt, dyt, wt];
      let last: TfTensor | null = null;
      const keep = (t: TfTensor) => { last?.dispose(); last = t; };
      const run = (t: () => TfTensor): PeerOp => ({
        run: () => keep(t()),
        async gpuMs() { return Number((await tf.time(() => keep(t()))).kernelMs); },
        async result() {
          const v = (await last!.data()) as Float32Array;
          if (pass === 'bwd_weight') return fromRsba(v, cs.w);
          const sh = last!.shape as number[];
          return nhwcToNchw(v, [sh[0], sh[3], sh[1], sh[2]]);
        },
        dispose() { last?.dispose(); inputs.forEach((t) => t.dispose()); },
      });
      const unsupported = (why: string) => { inputs.forEach((t) => t.dispose()); throw new Error(`unsupported: ${why}`); };
      const rk = (name: string, ins: Record<string, TfTensor>, attrs: Record<string, unknown>) =>
        tf.engine().runKernel(name, ins as never, attrs as never) as TfTensor;
      const common = { strides: cs.stride, pad, dataFormat: 'NHWC', dilations: cs.dilation, dimRoundingMode: undefined };
      if (!cs.transposed) {
        if (pass === 'forward') return run(() => tf.conv2d(xt, wt as never, cs.stride, pad, 'NHWC', cs.dilation));
        if (dil) return unsupported('no gradient kernels for dilated conv2d');
        if (pass === 'bwd_input') return run(() => rk('Conv2DBackpropInput', { dy: dyt, filter: wt }, { ...common, inputShape: [cs.x[0], cs.x[2], cs.x[3], cs.x[1]] }));
        return run(() => rk('Conv2DBackpropFilter', { x: xt, dy: dyt }, { ...common, filterShape: [r, s, B, A] }));
      }
      // transposed: forward = Conv2DBackpropInput of the adjoint conv, input grad = conv2d, weight grad = filter grad with roles swapped
      if (pass === 'forward') return run(() => rk('Conv2DBackpropInput', { dy: xt, filter: wt }, { ...common, inputShape: [y[0], y[2], y[3], y[1]] }));
      if (pass === 'bwd_input') return run(() => tf.conv2d(dyt, wt as never, cs.stride, pad, 'NHWC', cs.dilation));
      return run(() => rk('Conv2DBackpropFilter', { x: dyt, dy: xt }, { ...common, filterShape: [r, s, B, A] }));
    },
  };
}

/** ERFNet's inference forward in tfjs (NHWC, random weights, BN with fixed statistics), for timing. */
export function tfjsErfnet(tf: Tf, n: number, H: number, W: number, classes = 20): { run(): TfTensor; dispose(): void } {
  const owned: TfTensor[] = [];
  const p = (shape: number[]) => { const t = tf.randomNormal(shape, 0, 0.05); owned.push(t); return t; };
  type P4 = [[number, number], [number, number], [number, number], [number, number]];
  const pad = (a: number, b: number): P4 => [[0, 0], [a, a], [b, b], [0, 0]];
  const bnp = (c: number) => ({ m: p([c]), v: tf.add(tf.abs(p([c])), 1) as TfTensor, o: p([c]), s: p([c]) });
  const bn = (x: TfTensor, q: ReturnType<typeof bnp>) => tf.batchNorm(x as never, q.m as never, q.v as never, q.o as never, q.s as never, 1e-3);
  const conv = (x: TfTensor, w: TfTensor, b: TfTensor, st: number, pd: P4, dil: [number, number] = [1, 1]) =>
    tf.add(tf.conv2d(x as never, w as never, st, pd, 'NHWC', dil), b) as TfTensor;
  const down = (cin: number, cout: number) => {
    const w = p([3, 3, cin, cout - cin]), b = p([cout - cin]), q = bnp(cout);
    return (x: TfTensor) => tf.relu(bn(tf.concat([conv(x, w, b, 2, pad(1, 1)), tf.maxPool(x as never, 2, 2, 'valid')], 3), q)) as TfTensor;
  };
  const nb = (c: number, d: number) => {
    const [w1, w2, w3, w4] = [p([3, 1, c, c]), p([1, 3, c, c]), p([3, 1, c, c]), p([1, 3, c, c])];
    const [b1, b2, b3, b4] = [p([c]), p([c]), p([c]), p([c])], [q1, q2] = [bnp(c), bnp(c)];
    return (x: TfTensor) => {
      let y = tf.relu(conv(x, w1, b1, 1, pad(1, 0))) as TfTensor;
      y = tf.relu(bn(conv(y, w2, b2, 1, pad(0, 1)), q1)) as TfTensor;
      y = tf.relu(conv(y, w3, b3, 1, pad(d, 0), [d, 1])) as TfTensor;
      y = bn(conv(y, w4, b4, 1, pad(0, d), [1, d]), q2) as TfTensor;
      return tf.relu(tf.add(y, x)) as TfTensor;
    };
  };
  const up = (cin: number, cout: number, hh: number, ww: number) => {
    const w = p([3, 3, cout, cin]), b = p([cout]), q = bnp(cout);
    return (x: TfTensor) => tf.relu(bn(tf.add(tf.conv2dTranspose(x as never, w as never, [n, hh, ww, cout], 2, 'same'), b), q)) as TfTensor;
  };
  const layers = [down(3, 16), down(16, 64), ...[1, 1, 1, 1, 1].map(() => nb(64, 1)), down(64, 128),
    ...[2, 4, 8, 16, 2, 4, 8, 16].map((d) => nb(128, d)), up(128, 64, H / 4, W / 4), nb(64, 1), nb(64, 1),
    up(64, 16, H / 2, W / 2), nb(16, 1), nb(16, 1)];
  const wOut = p([2, 2, classes, 16]), bOut = p([classes]);
  const x = p([n, H, W, 3]);
  return {
    run: () => tf.tidy(() => {
      let y = x;
      for (const l of layers) y = l(y);
      return tf.add(tf.conv2dTranspose(y as never, wOut as never, [n, H, W, classes], 2, 'valid'), bOut) as TfTensor;
    }),
    dispose: () => owned.forEach((t) => t.dispose()),
  };
}

/**
 * ERFNet's training step in tfjs (NHWC): batch-statistics batch norm, channel dropout as in
 * training (p 0.03 / 0.3), unweighted softmax cross-entropy, Adam — the work of mirage's bench
 * step except its L2 weight decay (elementwise, negligible). tfjs has no gradient for dilated
 * conv2d, so dilated convs run as space-to-batch → conv → batch-to-space, the usual substitute
 * (checked against tf.conv2d's dilated forward in `check`).
 */
export function tfjsErfnetTrain(tf: Tf, n: number, H: number, W: number, classes = 20) {
  const vars: import('@tensorflow/tfjs-core').Variable[] = [];
  const p = (shape: number[]) => { const v = tf.variable(tf.randomNormal(shape, 0, 0.05)); vars.push(v); return v; };
  const ones = (c: number) => { const v = tf.variable(tf.ones([c])); vars.push(v); return v; };
  type P4 = [[number, number], [number, number], [number, number], [number, number]];
  const pad = (a: number, b: number): P4 => [[0, 0], [a, a], [b, b], [0, 0]];
  const bnp = (c: number) => ({ g: ones(c), b: p([c]) });
  const bn = (x: TfTensor, q: ReturnType<typeof bnp>) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-3))), q.g), q.b) as TfTensor;
  };
  const drop = (x: TfTensor, rate: number) => (rate > 0 ? tf.dropout(x, rate, [x.shape[0], 1, 1, x.shape[3]] as number[]) : x);
  /** conv2d with dilation (dh, dw) and padding (ph, pw), stride 1, via space-to-batch when dilated. */
  const conv = (x: TfTensor, w: TfTensor, b: TfTensor, st: number, ph: number, pw: number, dh = 1, dw = 1) => {
    if (dh === 1 && dw === 1) return tf.add(tf.conv2d(x as never, w as never, st, pad(ph, pw), 'NHWC'), b) as TfTensor;
    const [, h, ww] = x.shape as number[];
    const eh = (dh - ((h + 2 * ph) % dh)) % dh, ew = (dw - ((ww + 2 * pw) % dw)) % dw;
    const xs = tf.spaceToBatchND(x, [dh, dw], [[ph, ph + eh], [pw, pw + ew]]);
    const ys = tf.conv2d(xs as never, w as never, 1, 'valid', 'NHWC');
    return tf.add(tf.batchToSpaceND(ys, [dh, dw], [[0, eh], [0, ew]]), b) as TfTensor;
  };
  const down = (cin: number, cout: number) => {
    const w = p([3, 3, cin, cout - cin]), b = p([cout - cin]), q = bnp(cout);
    return (x: TfTensor) => tf.relu(bn(tf.concat([conv(x, w, b, 2, 1, 1), tf.maxPool(x as never, 2, 2, 'valid')], 3), q)) as TfTensor;
  };
  const nb = (c: number, d: number, rate: number) => {
    const [w1, w2, w3, w4] = [p([3, 1, c, c]), p([1, 3, c, c]), p([3, 1, c, c]), p([1, 3, c, c])];
    const [b1, b2, b3, b4] = [p([c]), p([c]), p([c]), p([c])], [q1, q2] = [bnp(c), bnp(c)];
    return (x: TfTensor) => {
      let y = tf.relu(conv(x, w1, b1, 1, 1, 0)) as TfTensor;
      y = tf.relu(bn(conv(y, w2, b2, 1, 0, 1), q1)) as TfTensor;
      y = tf.relu(conv(y, w3, b3, 1, d, 0, d, 1)) as TfTensor;
      y = drop(bn(conv(y, w4, b4, 1, 0, d, 1, d), q2), rate);
      return tf.relu(tf.add(y, x)) as TfTensor;
    };
  };
  const up = (cin: number, cout: number, hh: number, ww: number) => {
    const w = p([3, 3, cout, cin]), b = p([cout]), q = bnp(cout);
    return (x: TfTensor) => tf.relu(bn(tf.add(tf.conv2dTranspose(x as never, w as never, [n, hh, ww, cout], 2, 'same'), b), q)) as TfTensor;
  };
  const layers = [down(3, 16), down(16, 64), ...[1, 1, 1, 1, 1].map(() => nb(64, 1, 0.03)), down(64, 128),
    ...[2, 4, 8, 16, 2, 4, 8, 16].map((d) => nb(128, d, 0.3)), up(128, 64, H / 4, W / 4), nb(64, 1, 0), nb(64, 1, 0),
    up(64, 16, H / 2, W / 2), nb(16, 1, 0), nb(16, 1, 0)];
  const wOut = p([2, 2, classes, 16]), bOut = p([classes]);
  const x = tf.randomNormal([n, H, W, 3]);
  const labels = tf.oneHot(tf.randomUniform([n, H, W], 0, classes, 'int32') as never, classes);
  const opt = tf.train.adam(5e-4);
  let lastLoss: TfTensor | null = null;
  return {
    /** One forward + backward + Adam update; keeps the loss for `loss()`. */
    step() {
      lastLoss?.dispose();
      lastLoss = opt.minimize(() => {
        let y: TfTensor = x;
        for (const l of layers) y = l(y);
        const logits = tf.add(tf.conv2dTranspose(y as never, wOut as never, [n, H, W, classes], 2, 'valid'), bOut) as TfTensor;
        return tf.losses.softmaxCrossEntropy(labels, logits) as never;
      }, true, vars) as TfTensor;
    },
    async loss() { return lastLoss ? (await lastLoss.data())[0] : NaN; },
    /** Max |space-to-batch conv − tf.conv2d dilated| on a dilated 3×1 and 1×3 layer (forward), relative. */
    async check(): Promise<number> {
      const xt = tf.randomNormal([1, 9, 13, 4]), w = tf.randomNormal([3, 1, 4, 5]), w2 = tf.randomNormal([1, 3, 4, 5]), b = tf.zeros([5]);
      let worst = 0;
      for (const [ww, ph, pw, dh, dw] of [[w, 4, 0, 4, 1], [w2, 0, 16, 1, 16]] as [TfTensor, number, number, number, number][]) {
        const [at, rt] = tf.tidy(() => [conv(xt, ww, b, 1, ph, pw, dh, dw), tf.conv2d(xt as never, ww as never, 1, pad(ph, pw), 'NHWC', [dh, dw]) as TfTensor]);
        const a = await at.data(), ref = await rt.data();
        at.dispose(); rt.dispose();
        let e = 0, m = 0;
        for (let i = 0; i < ref.length; i++) { e = Math.max(e, Math.abs(a[i] - ref[i])); m = Math.max(m, Math.abs(ref[i])); }
        worst = Math.max(worst, a.length === ref.length ? e / m : Infinity);
      }
      [xt, w, w2, b].forEach((t) => t.dispose());
      return worst;
    },
    dispose() { vars.forEach((v) => v.dispose()); x.dispose(); labels.dispose(); lastLoss?.dispose(); opt.dispose(); },
  };
}
