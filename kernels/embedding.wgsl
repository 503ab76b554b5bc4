// Token embedding: a gather forward, a scatter-add backward. The table may be bound a window of rows
// `[v0, v1)` at a time (a 32000×2048 table exceeds some adapters' binding limit); each dispatch handles
// the ids that fall in its window. Ids were range-checked on the host.

struct ForwardParams {
  o_out: u32,
  o_table: u32,
  o_ids: u32,
  n: u32,
  c: u32,
  v0: u32,
  v1: u32,
}

@group(0) @binding(0) var<uniform> fwd_p: ForwardParams;
@group(0) @binding(1) var<storage, read_write> fwd_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> fwd_table: array<f32>;
@group(0) @binding(3) var<storage, read_write> fwd_ids: array<i32>;

/// `out[n, :] = table[ids[n], :]` for the ids in the window; one invocation per output element.
@compute @workgroup_size(256)
fn embedding_forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= fwd_p.n * fwd_p.c) {
    return;
  }
  let row = i / fwd_p.c;
  let j = i % fwd_p.c;
  let id = u32(fwd_ids[fwd_p.o_ids + row]);
  if (id >= fwd_p.v0 && id < fwd_p.v1) {
    fwd_out[fwd_p.o_out + i] = fwd_table[fwd_p.o_table + (id - fwd_p.v0) * fwd_p.c + j];
  }
}

struct BackwardParams {
  o_dtable: u32,
  o_dout: u32,
  o_ids: u32,
  n: u32,
  c: u32,
  v0: u32,
  v1: u32,
  classes: u32,
}

@group(0) @binding(0) var<uniform> bwd_p: BackwardParams;
@group(0) @binding(1) var<storage, read_write> bwd_dtable: array<f32>;
@group(0) @binding(2) var<storage, read_write> bwd_dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> bwd_ids: array<i32>;

/// `dtable[ids[n], :] += dout[n, :]` without atomics: invocation `(j, g)` owns column `j` of every
/// table row `≡ g (mod classes)` and walks the positions in order, so repeated ids add up serially and
/// the result is deterministic.
@compute @workgroup_size(256)
fn embedding_backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  let c = bwd_p.c;
  if (i >= c * bwd_p.classes) {
    return;
  }
  let j = i % c;
  let g = i / c;
  for (var r = 0u; r < bwd_p.n; r++) {
    let id = u32(bwd_ids[bwd_p.o_ids + r]);
    if (id >= bwd_p.v0 && id < bwd_p.v1 && id % bwd_p.classes == g) {
      bwd_dtable[bwd_p.o_dtable + (id - bwd_p.v0) * c + j] += bwd_dout[bwd_p.o_dout + r * c + j];
    }
  }
}
