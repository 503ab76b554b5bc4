// Causal grouped-query attention in the FlashAttention-2 manner: queries in blocks of BLK rows, keys
// and values streamed through workgroup memory in blocks of BLK positions, an online softmax, and the
// log-sum-exp of each row kept for the backward pass, which recomputes the probabilities block by block.
// No T×T matrix exists at any point.
//
// Layouts (element offsets inside each bound window):
//   q, out, dout, dq  [B, tq, n_head, HD]       k, v, dk, dv  [B, kv_stride, n_kv, HD]
//   lse, dsum         [B, n_head, tq]
// Query i sits at absolute position kv_len − tq + i and sees keys 0 ..= that position. Query head h
// reads key/value head h / (n_head / n_kv).
//
// A block row is served by LANES invocations: for the scores, lane t takes keys t, t + LANES, …; for
// the output, lane t owns the vec4 columns t, t + LANES, … of the head. Head vectors are held as vec4
// (HD4 = ceil(HD / 4), zero-padded). The softmax uses finite sentinels, never infinities.

override HD: u32 = 64u;   // head size
override HD4: u32 = 16u;  // ceil(HD / 4)
override BLK: u32 = 16u;  // query rows per block = key positions per block
override WG: u32 = 128u;  // BLK · LANES
override CPL: u32 = 2u;   // ceil(HD4 / LANES): vec4 columns per lane

const LANES: u32 = 8u;
const MAX_HD4: u32 = 32u;  // head size ≤ 128
const MAX_CPL: u32 = 4u;
const NEG: f32 = -3.0e38;

// Binding slots: 1 and 2 hold each pass's outputs, 3–6 the inputs every pass shares, 7 and 8 the
// row statistics of the backward passes:
//   attention_forward        1 out    2 lse    3 q  4 k  5 v  (6: q again, never read)
//   attention_backward_dq    1 dq     2 lse    3 q  4 k  5 v  6 dout  7 dsum
//   attention_backward_dkdv  1 dk     2 dv     3 q  4 k  5 v  6 dout  7 lse  8 dsum
struct Params {
  o_slot1: u32,
  o_slot2: u32,
  o_q: u32,
  o_k: u32,
  o_v: u32,
  o_dout: u32,
  o_slot7: u32,
  o_slot8: u32,
  tq: u32,
  kv_len: u32,
  kv_stride: u32,
  n_head: u32,
  n_kv: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read_write> q_buf: array<f32>;
@group(0) @binding(4) var<storage, read_write> k_buf: array<f32>;
@group(0) @binding(5) var<storage, read_write> v_buf: array<f32>;
@group(0) @binding(6) var<storage, read_write> dout_buf: array<f32>;

var<workgroup> tile_a: array<vec4<f32>, BLK * HD4>;
var<workgroup> tile_b: array<vec4<f32>, BLK * HD4>;
var<workgroup> row_a: array<f32, BLK * BLK>;
var<workgroup> row_b: array<f32, BLK * BLK>;
var<workgroup> vec_a: array<f32, BLK>;
var<workgroup> vec_b: array<f32, BLK>;

// Which shared input `read4` reads.
const Q: u32 = 0u;
const K: u32 = 1u;
const V: u32 = 2u;
const DOUT: u32 = 3u;

/// Four consecutive head elements (vec4 column c of the row at element `at` of input `which`), zero
/// past HD. WGSL passes no storage pointers, hence the switch (`which` is always a constant).
fn read4(which: u32, at: u32, c: u32) -> vec4<f32> {
  var v = vec4(0.0);
  for (var e = 0u; e < 4u; e++) {
    let i = at + 4u * c + e;
    if (4u * c + e < HD) {
      switch which {
        case Q: { v[e] = q_buf[i]; }
        case K: { v[e] = k_buf[i]; }
        case V: { v[e] = v_buf[i]; }
        default: { v[e] = dout_buf[i]; }
      }
    }
  }
  return v;
}

/// Element offset (without window offset) of query row (b, i, h) and key/value row (b, j, kvh).
fn q_at(b: u32, i: u32, h: u32) -> u32 {
  return ((b * p.tq + i) * p.n_head + h) * HD;
}
fn kv_at(b: u32, j: u32, kvh: u32) -> u32 {
  return ((b * p.kv_stride + j) * p.n_kv + kvh) * HD;
}

/// Keys (into tile_a) and values (into tile_b) of key block `kb`, zero past kv_len, between barriers.
fn load_kv_block(b: u32, kvh: u32, kb: u32, lid: u32) {
  workgroupBarrier();
  for (var e = lid; e < BLK * HD4; e += WG) {
    let j = kb * BLK + e / HD4;
    var kk = vec4(0.0);
    var vv = vec4(0.0);
    if (j < p.kv_len) {
      let at = kv_at(b, j, kvh);
      kk = read4(K, p.o_k + at, e % HD4);
      vv = read4(V, p.o_v + at, e % HD4);
    }
    tile_a[e] = kk;
    tile_b[e] = vv;
  }
  workgroupBarrier();
}

/// Number of keys of block `kb` that query position `pos` sees (a prefix of the block).
fn visible(pos: u32, kb: u32) -> u32 {
  let j0 = kb * BLK;
  if (pos + 1u <= j0) {
    return 0u;
  }
  return min(BLK, pos + 1u - j0);
}

// ---- forward ----

@group(0) @binding(1) var<storage, read_write> fwd_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> fwd_lse: array<f32>;

@compute @workgroup_size(WG)
fn attention_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = lid / LANES;
  let lane = lid % LANES;
  let h = wid.y;
  let b = wid.z;
  let kvh = h / (p.n_head / p.n_kv);
  let i = wid.x * BLK + row;
  let ic = min(i, p.tq - 1u);  // rows past the end repeat the last one and are not stored
  let pos = p.kv_len - p.tq + ic;

  var q: array<vec4<f32>, MAX_HD4>;
  let qa = p.o_q + q_at(b, ic, h);
  for (var c = 0u; c < HD4; c++) {
    q[c] = read4(Q, qa, c) * p.scale;
  }
  var o: array<vec4<f32>, MAX_CPL>;
  var m = NEG;
  var l = 0.0;

  let last = p.kv_len - p.tq + min(p.tq, (wid.x + 1u) * BLK) - 1u;
  let blocks = last / BLK + 1u;
  for (var kb = 0u; kb < blocks; kb++) {
    load_kv_block(b, kvh, kb, lid);
    for (var jj = lane; jj < BLK; jj += LANES) {
      var s = 0.0;
      for (var c = 0u; c < HD4; c++) {
        s += dot(q[c], tile_a[jj * HD4 + c]);
      }
      row_a[row * BLK + jj] = s;
    }
    workgroupBarrier();
    let n = visible(pos, kb);
    var mx = m;
    for (var jj = 0u; jj < n; jj++) {
      mx = max(mx, row_a[row * BLK + jj]);
    }
    // Each lane exponentiates only its own keys (into row_b); all lanes then read all of them.
    for (var jj = lane; jj < BLK; jj += LANES) {
      row_b[row * BLK + jj] = select(0.0, exp(row_a[row * BLK + jj] - mx), jj < n);
    }
    workgroupBarrier();
    let alpha = exp(m - mx);
    l *= alpha;
    for (var u = 0u; u < CPL; u++) {
      o[u] *= alpha;
    }
    for (var jj = 0u; jj < n; jj++) {
      let pj = row_b[row * BLK + jj];
      l += pj;
      for (var u = 0u; u < CPL; u++) {
        let c = lane + u * LANES;
        if (c < HD4) {
          o[u] += pj * tile_b[jj * HD4 + c];
        }
      }
    }
    m = mx;
  }

  if (i < p.tq) {
    let oa = p.o_slot1 + q_at(b, i, h);
    for (var u = 0u; u < CPL; u++) {
      let c = lane + u * LANES;
      let v = o[u] / l;
      for (var e = 0u; e < 4u; e++) {
        if (c < HD4 && 4u * c + e < HD) {
          fwd_out[oa + 4u * c + e] = v[e];
        }
      }
    }
    if (lane == 0u) {
      fwd_lse[p.o_slot2 + (b * p.n_head + h) * p.tq + i] = m + log(l);
    }
  }
}

// ---- backward, step 1: dsum[b, h, i] = Σ_d dout·out, the row term of the softmax gradient ----
// Its own bindings; grid x·64 over tq, y over heads, z over the batch.

struct DsumParams {
  o_dsum: u32,
  o_dout: u32,
  o_out: u32,
  tq: u32,
  n_head: u32,
}

@group(0) @binding(0) var<uniform> dsum_p: DsumParams;
@group(0) @binding(1) var<storage, read_write> dsum_dsum: array<f32>;
@group(0) @binding(2) var<storage, read_write> dsum_dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> dsum_out: array<f32>;

@compute @workgroup_size(64)
fn attention_backward_dsum(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= dsum_p.tq) {
    return;
  }
  let h = gid.y;
  let b = gid.z;
  let at = ((b * dsum_p.tq + i) * dsum_p.n_head + h) * HD;
  var s = 0.0;
  for (var d = 0u; d < HD; d++) {
    s += dsum_dout[dsum_p.o_dout + at + d] * dsum_out[dsum_p.o_out + at + d];
  }
  dsum_dsum[dsum_p.o_dsum + (b * dsum_p.n_head + h) * dsum_p.tq + i] = s;
}

// ---- backward, step 2 ----
// dq_i += scale · Σ_j p_ij (dout_i·v_j − dsum_i) k_j, per query block, streaming key/value blocks.

@group(0) @binding(1) var<storage, read_write> dq_dq: array<f32>;
@group(0) @binding(2) var<storage, read_write> dq_lse: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq_dsum: array<f32>;

@compute @workgroup_size(WG)
fn attention_backward_dq(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = lid / LANES;
  let lane = lid % LANES;
  let h = wid.y;
  let b = wid.z;
  let kvh = h / (p.n_head / p.n_kv);
  let i = wid.x * BLK + row;
  let ic = min(i, p.tq - 1u);
  let pos = p.kv_len - p.tq + ic;

  var q: array<vec4<f32>, MAX_HD4>;
  var dout: array<vec4<f32>, MAX_HD4>;
  let qa = q_at(b, ic, h);
  for (var c = 0u; c < HD4; c++) {
    q[c] = read4(Q, p.o_q + qa, c) * p.scale;
    dout[c] = read4(DOUT, p.o_dout + qa, c);
  }
  let row_stat = (b * p.n_head + h) * p.tq + ic;
  let lse = dq_lse[p.o_slot2 + row_stat];
  let dsum = dq_dsum[p.o_slot7 + row_stat];
  var dq: array<vec4<f32>, MAX_CPL>;

  let last = p.kv_len - p.tq + min(p.tq, (wid.x + 1u) * BLK) - 1u;
  let blocks = last / BLK + 1u;
  for (var kb = 0u; kb < blocks; kb++) {
    load_kv_block(b, kvh, kb, lid);
    let n = visible(pos, kb);
    for (var jj = lane; jj < BLK; jj += LANES) {
      var ds = 0.0;
      if (jj < n) {
        var s = 0.0;
        var dp = 0.0;
        for (var c = 0u; c < HD4; c++) {
          s += dot(q[c], tile_a[jj * HD4 + c]);
          dp += dot(dout[c], tile_b[jj * HD4 + c]);
        }
        ds = exp(s - lse) * (dp - dsum);
      }
      row_a[row * BLK + jj] = ds;
    }
    workgroupBarrier();
    for (var jj = 0u; jj < n; jj++) {
      let ds = row_a[row * BLK + jj];
      for (var u = 0u; u < CPL; u++) {
        let c = lane + u * LANES;
        if (c < HD4) {
          dq[u] += ds * tile_a[jj * HD4 + c];
        }
      }
    }
  }

  if (i < p.tq) {
    let oa = p.o_slot1 + q_at(b, i, h);
    for (var u = 0u; u < CPL; u++) {
      let c = lane + u * LANES;
      let v = dq[u] * p.scale;
      for (var e = 0u; e < 4u; e++) {
        if (c < HD4 && 4u * c + e < HD) {
          dq_dq[oa + 4u * c + e] += v[e];
        }
      }
    }
  }
}

// ---- backward, step 3 ----
// Per key block of one key/value head: walk every query head of its group and every query block that
// sees the keys; dv_j += Σ_i p_ij dout_i, dk_j += Σ_i ds_ij · scale · q_i. No two workgroups write the
// same key, so no atomics are needed.

@group(0) @binding(1) var<storage, read_write> dkdv_dk: array<f32>;
@group(0) @binding(2) var<storage, read_write> dkdv_dv: array<f32>;
@group(0) @binding(7) var<storage, read_write> dkdv_lse: array<f32>;
@group(0) @binding(8) var<storage, read_write> dkdv_dsum: array<f32>;

@compute @workgroup_size(WG)
fn attention_backward_dkdv(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = lid / LANES;
  let lane = lid % LANES;
  let kvh = wid.y;
  let b = wid.z;
  let group = p.n_head / p.n_kv;
  let j = wid.x * BLK + row;
  let jc = min(j, p.kv_len - 1u);

  var k: array<vec4<f32>, MAX_HD4>;
  var v: array<vec4<f32>, MAX_HD4>;
  let ka = kv_at(b, jc, kvh);
  for (var c = 0u; c < HD4; c++) {
    k[c] = read4(K, p.o_k + ka, c);
    v[c] = read4(V, p.o_v + ka, c);
  }
  var dk: array<vec4<f32>, MAX_CPL>;
  var dv: array<vec4<f32>, MAX_CPL>;

  // The first query that sees key wid.x·BLK is at index wid.x·BLK − (kv_len − tq), if positive.
  let shift = p.kv_len - p.tq;
  var qb0 = 0u;
  if (wid.x * BLK > shift) {
    qb0 = (wid.x * BLK - shift) / BLK;
  }
  let qblocks = (p.tq + BLK - 1u) / BLK;
  for (var hh = 0u; hh < group; hh++) {
    let h = kvh * group + hh;
    for (var qb = qb0; qb < qblocks; qb++) {
      workgroupBarrier();
      for (var e = lid; e < BLK * HD4; e += WG) {
        let i = qb * BLK + e / HD4;
        var qq = vec4(0.0);
        var dd = vec4(0.0);
        if (i < p.tq) {
          let at = q_at(b, i, h);
          qq = read4(Q, p.o_q + at, e % HD4) * p.scale;
          dd = read4(DOUT, p.o_dout + at, e % HD4);
        }
        tile_a[e] = qq;
        tile_b[e] = dd;
      }
      if (lid < BLK) {
        let i = min(qb * BLK + lid, p.tq - 1u);
        let at = (b * p.n_head + h) * p.tq + i;
        vec_a[lid] = dkdv_lse[p.o_slot7 + at];
        vec_b[lid] = dkdv_dsum[p.o_slot8 + at];
      }
      workgroupBarrier();
      for (var ii = lane; ii < BLK; ii += LANES) {
        let i = qb * BLK + ii;
        var pr = 0.0;
        var ds = 0.0;
        if (i < p.tq && j < p.kv_len && j <= shift + i) {
          var s = 0.0;
          var dp = 0.0;
          for (var c = 0u; c < HD4; c++) {
            s += dot(tile_a[ii * HD4 + c], k[c]);
            dp += dot(tile_b[ii * HD4 + c], v[c]);
          }
          pr = exp(s - vec_a[ii]);
          ds = pr * (dp - vec_b[ii]);
        }
        row_a[row * BLK + ii] = pr;
        row_b[row * BLK + ii] = ds;
      }
      workgroupBarrier();
      for (var ii = 0u; ii < BLK; ii++) {
        let pr = row_a[row * BLK + ii];
        let ds = row_b[row * BLK + ii];
        for (var u = 0u; u < CPL; u++) {
          let c = lane + u * LANES;
          if (c < HD4) {
            dv[u] += pr * tile_b[ii * HD4 + c];
            dk[u] += ds * tile_a[ii * HD4 + c];
          }
        }
      }
    }
  }

  if (j < p.kv_len) {
    let at = kv_at(b, j, kvh);
    for (var u = 0u; u < CPL; u++) {
      let c = lane + u * LANES;
      for (var e = 0u; e < 4u; e++) {
        if (c < HD4 && 4u * c + e < HD) {
          dkdv_dk[p.o_slot1 + at + 4u * c + e] += dk[u][e];
          dkdv_dv[p.o_slot2 + at + 4u * c + e] += dv[u][e];
        }
      }
    }
  }
}
