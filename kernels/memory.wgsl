// Memory ops on raw 32-bit words, so that f32 and i32 tensors alike move bit for bit: fill a range
// with one word (zeroing is fill 0), copy a range. Every tensor is bound as a window of its buffer; the
// `o_*` fields are the element offsets of the range inside each window.
//
// Grids are two-dimensional (x up to 65535 workgroups); the flat workgroup index is y·nx + x.

struct FillParams {
  o_dst: u32,
  n: u32,
  value: u32,
}

@group(0) @binding(0) var<uniform> fill_p: FillParams;
@group(0) @binding(1) var<storage, read_write> fill_dst: array<u32>;

@compute @workgroup_size(256)
fn fill(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < fill_p.n) {
    fill_dst[fill_p.o_dst + i] = fill_p.value;
  }
}

struct CopyParams {
  o_dst: u32,
  o_src: u32,
  n: u32,
}

@group(0) @binding(0) var<uniform> copy_p: CopyParams;
@group(0) @binding(1) var<storage, read_write> copy_dst: array<u32>;
@group(0) @binding(2) var<storage, read_write> copy_src: array<u32>;

@compute @workgroup_size(256)
fn copy(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < copy_p.n) {
    copy_dst[copy_p.o_dst + i] = copy_src[copy_p.o_src + i];
  }
}
