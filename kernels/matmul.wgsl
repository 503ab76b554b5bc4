// Tiled matmul `C[R, S] (+)= Σ_l A(r, l) · B(l, s)`, the one kernel behind every linear layer:
//   forward      out[N, M]  = x[N, K] · w[M, K]ᵀ     A = x (stored [R, L]),     B = w (stored [S, L])
//   backward dx  dx[N, K]  += dout[N, M] · w[M, K]  A = dout (stored [R, L]),  B = w (stored [L, S])
//   backward dw  dw[M, K]  += dout[N, M]ᵀ · x[N, K] A = dout (stored [L, R]),  B = x (stored [L, S])
// The two storage orders are pipeline constants, so each variant compiles to straight loads.
//
// A workgroup of 16×16 invocations computes a 128×128 tile of C; each invocation an 8×8 register
// block, as two 4-row halves 64 rows apart times two 4-column halves 64 columns apart (so the vec4
// reads of workgroup memory are contiguous across invocations). The reduction walks L in steps of
// 16: the next step's tiles are loaded into registers while the current ones are multiplied. Tile
// rows are padded by 4 floats, so that the transposing stores of row-major operands (consecutive
// invocations, consecutive k) spread over the memory banks instead of hitting one.
// Every load and store is bounds-checked, so no dimension needs to be a multiple of the tile.

override A_ROW_MAJOR: bool = true;  // A(r, l) at a[r·ld_a + l]; false: at a[l·ld_a + r]
override B_ROW_MAJOR: bool = true;  // B(l, s) at b[s·ld_b + l]; false: at b[l·ld_b + s]

const BM: u32 = 128u;
const BN: u32 = 128u;
const BK: u32 = 16u;
const PAD: u32 = 4u;
const AS: u32 = BM + PAD;  // row stride of a_tile, in floats
const BS: u32 = BN + PAD;  // row stride of b_tile
const THREADS: u32 = 256u;
const LOADS: u32 = 8u;  // BM·BK / THREADS elements of each tile per invocation

struct Params {
  o_c: u32,
  o_a: u32,
  o_b: u32,
  r: u32,
  s: u32,
  l: u32,
  ld_a: u32,
  ld_b: u32,
  ld_c: u32,
  accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<storage, read_write> a: array<f32>;
@group(0) @binding(3) var<storage, read_write> b: array<f32>;

// Tiles as [k][m] and [k][n], m and n contiguous, read four at a time.
var<workgroup> a_tile: array<vec4<f32>, BK * AS / 4u>;
var<workgroup> b_tile: array<vec4<f32>, BK * BS / 4u>;

/// Element `e` (< BM·BK) of A's tile at (row0, k0), zero outside A; `a_slot(e)` is where it goes.
fn load_a(row0: u32, k0: u32, e: u32) -> f32 {
  var m: u32;
  var k: u32;
  if (A_ROW_MAJOR) {
    m = e / BK;
    k = e % BK;
  } else {
    m = e % BM;
    k = e / BM;
  }
  let r = row0 + m;
  let l = k0 + k;
  if (r >= p.r || l >= p.l) {
    return 0.0;
  }
  if (A_ROW_MAJOR) {
    return a[p.o_a + r * p.ld_a + l];
  }
  return a[p.o_a + l * p.ld_a + r];
}

fn a_slot(e: u32) -> u32 {
  if (A_ROW_MAJOR) {
    return (e % BK) * AS + e / BK;
  }
  return (e / BM) * AS + e % BM;
}

fn load_b(col0: u32, k0: u32, e: u32) -> f32 {
  var n: u32;
  var k: u32;
  if (B_ROW_MAJOR) {
    n = e / BK;
    k = e % BK;
  } else {
    n = e % BN;
    k = e / BN;
  }
  let s = col0 + n;
  let l = k0 + k;
  if (s >= p.s || l >= p.l) {
    return 0.0;
  }
  if (B_ROW_MAJOR) {
    return b[p.o_b + s * p.ld_b + l];
  }
  return b[p.o_b + l * p.ld_b + s];
}

fn b_slot(e: u32) -> u32 {
  if (B_ROW_MAJOR) {
    return (e % BK) * BS + e / BK;
  }
  return (e / BN) * BS + e % BN;
}

@compute @workgroup_size(16, 16)
fn matmul(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_id) lid3: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let tx = lid3.x;
  let ty = lid3.y;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;

  var acc: array<vec4<f32>, 16>;  // acc[2·i + h]: row i of the block, column half h
  var ra: array<f32, LOADS>;
  var rb: array<f32, LOADS>;

  for (var u = 0u; u < LOADS; u++) {
    ra[u] = load_a(row0, 0u, lid + u * THREADS);
    rb[u] = load_b(col0, 0u, lid + u * THREADS);
  }
  let steps = (p.l + BK - 1u) / BK;
  for (var step = 0u; step < steps; step++) {
    for (var u = 0u; u < LOADS; u++) {
      let sa = a_slot(lid + u * THREADS);
      a_tile[sa / 4u][sa % 4u] = ra[u];
      let sb = b_slot(lid + u * THREADS);
      b_tile[sb / 4u][sb % 4u] = rb[u];
    }
    workgroupBarrier();
    if (step + 1u < steps) {
      let k0 = (step + 1u) * BK;
      for (var u = 0u; u < LOADS; u++) {
        ra[u] = load_a(row0, k0, lid + u * THREADS);
        rb[u] = load_b(col0, k0, lid + u * THREADS);
      }
    }
    // Unrolled by hand: the register block must not depend on a loop the compiler might keep.
    for (var k = 0u; k < BK; k++) {
      let a0 = a_tile[k * (AS / 4u) + ty];
      let a1 = a_tile[k * (AS / 4u) + 16u + ty];
      let b0 = b_tile[k * (BS / 4u) + tx];
      let b1 = b_tile[k * (BS / 4u) + 16u + tx];
      acc[0] += a0.x * b0;
      acc[1] += a0.x * b1;
      acc[2] += a0.y * b0;
      acc[3] += a0.y * b1;
      acc[4] += a0.z * b0;
      acc[5] += a0.z * b1;
      acc[6] += a0.w * b0;
      acc[7] += a0.w * b1;
      acc[8] += a1.x * b0;
      acc[9] += a1.x * b1;
      acc[10] += a1.y * b0;
      acc[11] += a1.y * b1;
      acc[12] += a1.z * b0;
      acc[13] += a1.z * b1;
      acc[14] += a1.w * b0;
      acc[15] += a1.w * b1;
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 8u; i++) {
    let r = row0 + (i / 4u) * 64u + ty * 4u + i % 4u;
    if (r >= p.r) {
      continue;
    }
    for (var h = 0u; h < 2u; h++) {
      let v = acc[2u * i + h];
      for (var j = 0u; j < 4u; j++) {
        let s = col0 + h * 64u + tx * 4u + j;
        if (s < p.s) {
          let at = p.o_c + r * p.ld_c + s;
          if (p.accumulate != 0u) {
            c[at] += v[j];
          } else {
            c[at] = v[j];
          }
        }
      }
    }
  }
}
