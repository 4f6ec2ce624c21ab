// Training without files or a data loader, for browser pages and embedding apps: a registered model
// on procedural street scenes made on the fly, one step per call, so a page can draw the loss as it
// goes. The CLI's trainer (trainer.ts) is the full loop (data sets, epochs, checkpoints, resume);
// this is its minimal form: no class weights, no augmentation, no schedule (the recipe's optimizers
// at their base learning rates), the engine's seeded dropout. A non-finite loss stops it.
import type { HostTensor } from '../engine/module.js';
import { keep, scope } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { CITYSCAPES_CLASSES, CITYSCAPES_PALETTE } from '../data/classes.js';
import { syntheticScene } from '../data/synthetic.js';
import { checkpointTensors } from '../io/checkpoint-data.js';
import { safetensorsBytes } from '../io/safetensors.js';
import { type ModelSpec, type OptionValue, buildForTraining, getModel, resolveOptions } from '../models/registry.js';
import type { Optimizer } from '../optim/optimizer.js';
import { type TurbulenceParams, TurbulenceSimulator, modelFrames, sampleSeed, turbulenceMeta } from '../sim/turbulence.js';
import { IouEval, type IouResult } from './iou.js';
import { makeOptimizers } from './recipe.js';
import type { System } from './system.js';

export interface LiveOptions {
  /** Registered model (default 'erfnet'). */
  model?: string;
  /** Model options over the recipe's. */
  options?: Record<string, OptionValue>;
  /** Recipe whose optimizers and batch size are used (default 'demo'). */
  recipe?: string;
  /** Scene size (default 64×128). */
  height?: number;
  width?: number;
  /** Default: the recipe's. */
  batchSize?: number;
  /** Model initialisation, data and heat distortion seed (default 1). */
  seed?: number;
  /** Validation scenes (default 8). */
  valSize?: number;
  /** Train and validate on heat-distorted scenes (required by models that restore). */
  distortion?: TurbulenceParams;
}

const NUM_CLASSES = 20, IGNORE = 19;

export class LiveTrainer {
  readonly spec: ModelSpec;
  readonly system: System;
  readonly options: Record<string, OptionValue>;
  optimizers: Record<string, Optimizer>;
  readonly height: number;
  readonly width: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly valSize: number;
  readonly sim: TurbulenceSimulator | null;
  /** Steps taken so far. */
  steps = 0;

  constructor(o: LiveOptions = {}) {
    this.spec = getModel(o.model ?? 'erfnet');
    const recipeName = o.recipe ?? (this.spec.recipes.demo ? 'demo' : 'default');
    const recipe = this.spec.recipes[recipeName];
    this.options = resolveOptions(this.spec, o.options ?? {}, recipeName);
    if ((this.spec.labelDownscale?.(this.options) ?? 1) > 1) throw new Error(`live training: ${this.spec.name} with these options predicts below full resolution; train it with the CLI`);
    this.height = o.height ?? 64; this.width = o.width ?? 128;
    const m = this.spec.multiple(this.options);
    if (this.height % m || this.width % m) throw new Error(`live training: ${this.width}x${this.height} is not a multiple of ${m}, as ${this.spec.name} needs`);
    this.batchSize = o.batchSize ?? recipe.batchSize;
    this.seed = o.seed ?? 1;
    this.valSize = o.valSize ?? 8;
    if (this.spec.distortion === 'always' && !o.distortion) throw new Error(`live training: ${this.spec.name} restores heat-distorted images; give a distortion`);
    this.system = buildForTraining(this.spec, this.options, { numClasses: NUM_CLASSES, ignoreIndex: IGNORE, weight: null, seed: this.seed, init: true,
      inputSize: [this.height, this.width], frames: modelFrames(o.distortion) });
    this.optimizers = {};
    try {
      this.optimizers = makeOptimizers(this.system.groups, recipe.optimizer, `${this.spec.name} (recipe ${recipeName})`);
      this.sim = o.distortion ? new TurbulenceSimulator(this.height, this.width, o.distortion) : null;
    } catch (e) { this.dispose(); throw e; }
    this.system.train(true);
  }

  /** Scenes first … first + n − 1 of data set `seed` as an image batch and i32 labels (19 = ignore). */
  scenes(seed: number, first: number, n: number): { x: Float32Array; y: Int32Array } {
    const H = this.height, W = this.width, x = new Float32Array(n * 3 * H * W), y = new Int32Array(n * H * W);
    for (let i = 0; i < n; i++) {
      const s = syntheticScene(seed, first + i, W, H);
      x.set(s.image, i * 3 * H * W);
      y.set(s.label, i * H * W);
    }
    return { x, y };
  }

  /** One training step on the next batch; returns its loss (read back, so one step per call). */
  async step(): Promise<number> {
    const k = this.steps, n = this.batchSize;
    const { x, y } = this.scenes(this.seed, k * n, n);
    this.system.train(true);
    const loss = scope(() => {
      const xt = tensor(x, [n, 3, this.height, this.width]), yt = tensor(y, [n, this.height, this.width], { dtype: 'i32' });
      const d = this.sim ? this.sim.distort(xt, sampleSeed(this.seed, k)) : null;
      return keep(this.system.trainStep({ input: d ? d.image : xt, clean: xt, labels: yt, field: d?.field }, this.optimizers).loss);
    });
    this.steps++;
    let v: number;
    try { v = await loss.item(); } finally { loss.dispose(); }
    if (!Number.isFinite(v)) throw new Error(`live training: the loss is ${v} at step ${k + 1}; lower the learning rate`);
    return v;
  }

  /** IoU of the last output on the validation scenes (data set seed + 1000, distorted likewise when training is). */
  async evaluate(): Promise<IouResult> {
    this.system.train(false);
    const meter = new IouEval(NUM_CLASSES, IGNORE);
    try {
      for (let i = 0; i < this.valSize; i += this.batchSize) {
        const n = Math.min(this.batchSize, this.valSize - i);
        const { x, y } = this.scenes(this.seed + 1000, i, n);
        scope(() => {
          const xt = tensor(x, [n, 3, this.height, this.width]), yt = tensor(y, [n, this.height, this.width], { dtype: 'i32' });
          const input = this.sim ? this.sim.distort(xt, sampleSeed(this.seed + 7777, i)).image : xt;
          const o = this.system.evalStep(input, null, null);
          meter.add(o.logits[o.logits.length - 1], yt);
        });
      }
      return await meter.result();
    } finally { meter.dispose(); this.system.train(true); }
  }

  /** The model as a .safetensors checkpoint that `mirage predict`/`eval` and loadModel read. */
  async checkpoint(): Promise<Uint8Array> {
    const { model } = await checkpointTensors(this.system.module);
    const meta: Record<string, string> = {
      ...this.spec.meta(this.options, NUM_CLASSES), height: String(this.height), width: String(this.width), data: 'synthetic (live)',
      class_names: CITYSCAPES_CLASSES.join('|'), palette: JSON.stringify(CITYSCAPES_PALETTE), ignore_index: String(IGNORE),
      steps: String(this.steps), seed: String(this.seed), distorted: this.sim ? 'yes' : 'no',
      ...(this.sim ? turbulenceMeta(this.sim.params) : {}),
    };
    return safetensorsBytes(model as Map<string, HostTensor>, meta);
  }

  dispose(): void {
    for (const o of Object.values(this.optimizers ?? {})) o.dispose();
    this.sim?.dispose();
    this.system.dispose();
  }
}
