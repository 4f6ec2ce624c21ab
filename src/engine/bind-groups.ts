import type { Binding } from './engine.js';

/**
 * Bind groups keyed by layout and the identity of every bound buffer. A training loop reuses the
 * pool's buffers in the same order each step, so from the third step on every launch finds its
 * group here; creating one cost about 20 µs of host time per launch on lavapipe (bench/NOTES.md §31).
 */
export class BindGroupCache {
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  hits = 0;
  misses = 0;

  /** Past `max` entries the cache starts over (buffers it names may be long gone). */
  constructor(private readonly device: GPUDevice, readonly max = 1 << 14) {}

  get size(): number { return this.groups.size; }

  private id(buf: GPUBuffer): number {
    let id = this.ids.get(buf);
    if (id === undefined) { id = this.nextId++; this.ids.set(buf, id); }
    return id;
  }

  /** The group binding `buffers` (whole, or ranges) in order, then `uniform` (its first `uniformBytes`) if given. */
  get(layout: GPUBindGroupLayout, layoutKey: string, buffers: readonly Binding[], uniform: GPUBuffer | null,
    uniformBytes: number, label: string): GPUBindGroup {
    let key = layoutKey;
    for (const b of buffers) key += 'buffer' in b ? `,${this.id(b.buffer)}@${b.offset}+${b.size}` : `,${this.id(b)}`;
    if (uniform) key += `;${this.id(uniform)}:${uniformBytes}`;
    const hit = this.groups.get(key);
    if (hit) { this.hits++; return hit; }
    this.misses++;
    const entries: GPUBindGroupEntry[] = buffers.map((b, binding) => ({ binding, resource: 'buffer' in b ? b : { buffer: b } }));
    if (uniform) entries.push({ binding: entries.length, resource: { buffer: uniform, size: uniformBytes } });
    const group = this.device.createBindGroup({ label, layout, entries });
    if (this.groups.size >= this.max) this.groups.clear();
    this.groups.set(key, group);
    return group;
  }

  /** Forgets every group (the pool destroyed buffers they bind). */
  clear(): void { this.groups.clear(); }
}
