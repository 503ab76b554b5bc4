// RoPE in the rotate-half layout of Hugging Face and lit-gpt: within each head, the pair
// `(d, d + hd/2)` turns by the angle `pos · base^(−2d/hd)`. The cosines and sines come from a table
// `[positions, 2, hd/2]` that the host computes in f64 (GPU `cos` is only accurate near zero, and
// positions reach the thousands); it is bound from the call's first position, so row `t` of the
// window is position `pos_offset + t`. One invocation owns one pair, so `out` may alias `x`.

struct RopeParams {
  o_out: u32,
  o_x: u32,
  o_table: u32,
  rows: u32,
  first_row: u32,
  t: u32,
  n_heads: u32,
  half: u32,
}

@group(0) @binding(0) var<uniform> p: RopeParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> table: array<f32>;

/// Index of the pair's first element (relative to the window) and its cos/sin, or none past the end.
struct Pair {
  base: u32,
  cos: f32,
  sin: f32,
  valid: bool,
}

fn pair(wid: vec3u, nwg: vec3u, lid: u32) -> Pair {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  var r: Pair;
  r.valid = i < p.rows * p.half;
  if (!r.valid) {
    return r;
  }
  let row = i / p.half;
  let d = i % p.half;
  let t = ((p.first_row + row) / p.n_heads) % p.t;
  let tb = p.o_table + t * 2u * p.half;
  r.base = row * 2u * p.half + d;
  r.cos = table[tb + d];
  r.sin = table[tb + p.half + d];
  return r;
}

/// `out = (x1·cos − x2·sin, x2·cos + x1·sin)`.
@compute @workgroup_size(256)
fn rope_forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let q = pair(wid, nwg, lid);
  if (!q.valid) {
    return;
  }
  let x1 = x[p.o_x + q.base];
  let x2 = x[p.o_x + q.base + p.half];
  out[p.o_out + q.base] = x1 * q.cos - x2 * q.sin;
  out[p.o_out + q.base + p.half] = x2 * q.cos + x1 * q.sin;
}

/// The transposed rotation, accumulated: `dx += (d1·cos + d2·sin, d2·cos − d1·sin)`.
@compute @workgroup_size(256)
fn rope_backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let q = pair(wid, nwg, lid);
  if (!q.valid) {
    return;
  }
  let d1 = x[p.o_x + q.base];
  let d2 = x[p.o_x + q.base + p.half];
  out[p.o_out + q.base] += d1 * q.cos + d2 * q.sin;
  out[p.o_out + q.base + p.half] += d2 * q.cos - d1 * q.sin;
}
