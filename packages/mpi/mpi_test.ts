import assert from "node:assert/strict";
import { installedLaunchers, launch } from "./testing.ts";

const launchers = await installedLaunchers();
const check = new URL("./_collectives_check.ts", import.meta.url).pathname;

/** What `_collectives_check.ts` must print for `size` ranks, computed here in plain arithmetic. */
function expected(size: number): Record<string, number[]> {
  const ranks = Array.from({ length: size }, (_, r) => r);
  const sum = (f: (r: number) => number) => ranks.reduce((a, r) => a + Math.fround(f(r)), 0);
  const n = 23;
  const whole: Record<string, number[]> = {
    allreduce: Array.from({ length: n * size }, (_, i) => sum((r) => i * (r + 1) + 0.25)),
    allreduce_f64: Array.from({ length: 5 }, (_, i) => sum((r) => i + r / 8)),
    reduce_scatter_allgather: Array.from({ length: n * size }, (_, i) => sum((r) => i + 100 * r)),
    broadcast: Array.from({ length: 19 }, (_, i) => i * 3),
    broadcast_bytes: [...new TextEncoder().encode("rank zero says hello")],
  };
  const out: Record<string, number[]> = {};
  for (const tag of ["whole", "pieces"]) {
    for (const [k, v] of Object.entries(whole)) out[`${k}_${tag}`] = v;
  }
  return out;
}

for (const launcher of launchers) {
  for (const size of [2, 3]) {
    Deno.test(`${launcher.family}: every collective is exact on ${size} ranks, whole and in pieces`, async () => {
      const r = await launch(launcher, size, [Deno.execPath(), "run", "--allow-ffi", "--allow-env", check]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => l.rank).sort(), Array.from({ length: size }, (_, i) => i));
      const want = expected(size);
      for (const l of lines) {
        assert.equal(l.size, size);
        assert.equal(l.family, launcher.family, "the ABI is chosen from the launcher's environment");
        assert.deepEqual(l.results, want);
      }
    });
  }
}

Deno.test({
  name: "MPI collectives: skipped, no MPI launcher installed (apt-get install mpich openmpi-bin)",
  ignore: launchers.length > 0,
  fn() {},
});

Deno.test("a library that does not load is one line naming the Debian package", async () => {
  const env = { TINYLLAMA_MPI_LIB: "/nonexistent/libmpi.so.12" };
  const prog = `import { Mpi } from "${new URL("./mod.ts", import.meta.url).href}";
import { runMain } from "@tinyllama-ts/cli";
await runMain(() => { Mpi.init(); });`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", prog],
    env: { ...env, PMI_SIZE: "2", PMI_RANK: "0" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr).trim();
  assert.equal(out.code, 2);
  assert.equal(err.split("\n").length, 1, err);
  assert.match(
    err,
    /^error: TINYLLAMA_MPI_LIB=\/nonexistent\/libmpi\.so\.12: cannot load .*mpich or openmpi-bin/,
  );
});
