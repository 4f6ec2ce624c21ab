// Snippets of the subgroup-broadcast kernels (engine.subgroups: CPU-class adapters, bench/NOTES.md §5).
// On lavapipe a load whose address differs between lanes is a loop over the lanes, so these
// kernels keep one operand block uniform per workgroup: each lane loads one of 8 (or 16) values
// and subgroupBroadcast hands them to the others.

/** Columns (or channels) per uniform block, outputs per lane along the other axis, workgroup size. */
export const SG_K = 16, SG_J = 8, SG_WG = 16;
/** Channels per block of the conv forward and input-gradient kernels (bench/NOTES.md §19). */
export const SG_CONV_K = 32;

/** Entry point: flat workgroup index `grp`, `lid` and the lane `sid`. */
export const SG_HEAD = /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let grp = wid.y * nwg.x + wid.x;`;

/** wv[0..K/4−1] = the K values that lanes 0–7 hold in `loads` (8 each, K = 8·loads.length, or 4 from lanes 0–3). */
export const broadcastBlock = (loads: string[], K = 8 * loads.length) => loads.flatMap((src, l) => (K === 4 ? [0] : [0, 1]).map((h) =>
  `wv[${2 * l + h}] = vec4f(${[0, 1, 2, 3].map((i) => `subgroupBroadcast(${src}, ${h * 4 + i}u)`).join(', ')});`)).join('\n        ');

/** wv[0..3] = the 16 values that lanes 0–7 hold in `a` (first 8) and `b` (last 8). */
export const broadcast16 = (a: string, b: string) => broadcastBlock([a, b]);

/** acc[j][v] += value · wv[v] for the K values of a block. */
export const fmaBlock = (K: number, value: string) =>
  Array.from({ length: K / 4 }, (_, v) => `acc[j][${v}] += ${value} * wv[${v}];`).join(' ');

/** acc[j][v] += value · wv[v] for the 16 values of a block. */
export const fma16 = (value: string) => fmaBlock(16, value);

/** acc[j][q / 4][q % 4]: the accumulator of block entry q at position j (any block size). */
export const ACC = 'acc[j][q / 4u][q % 4u]';
