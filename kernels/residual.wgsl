// The residual stream: `out = a + b` (out may alias a), elementwise.

struct AddParams {
  o_out: u32,
  o_a: u32,
  o_b: u32,
  n: u32,
}

@group(0) @binding(0) var<uniform> add_p: AddParams;
@group(0) @binding(1) var<storage, read_write> add_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> add_a: array<f32>;
@group(0) @binding(3) var<storage, read_write> add_b: array<f32>;

@compute @workgroup_size(256)
fn add(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < add_p.n) {
    add_out[add_p.o_out + i] = add_a[add_p.o_a + i] + add_b[add_p.o_b + i];
  }
}
