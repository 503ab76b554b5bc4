// Issue #21: sizes from files are checked before they are trusted (config.json against its tensors and
// the backend), and a diverged model is never saved.
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { ReferenceBackend } from "@tinyllama-ts/backend";
import { Model, PRESETS } from "@tinyllama-ts/model";
import { checkConfigFits, loadHfCheckpoint, parameterCount, saveHfCheckpoint } from "./hf.ts";
import { FIXTURES } from "../../tests/_harness.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

const oneLine = (re: RegExp) => (e: unknown) =>
  isUserError(e) && re.test((e as Error).message) && !(e as Error).message.includes("\n");

async function withBadConfig(edit: Record<string, unknown>, f: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    for (const name of ["model.safetensors", "tokenizer.model"]) {
      await Deno.copyFile(`${FIXTURES}gqa_a/${name}`, `${dir}/${name}`);
    }
    const config = JSON.parse(await Deno.readTextFile(`${FIXTURES}gqa_a/config.json`));
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...config, ...edit }));
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("config.json is checked against the tensors before anything is allocated", async () => {
  const be = new ReferenceBackend();
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { num_hidden_layers: 1e9 },
      /config\.json: num_hidden_layers 1000000000 implies 9000000003 tensors, the safetensors hold 21$/,
    ],
    [{ num_hidden_layers: 1e5 }, /num_hidden_layers 100000 implies 900003 tensors, the safetensors hold 21$/],
    [
      { vocab_size: 1e7 },
      /model\.safetensors: tensor "model\.embed_tokens\.weight" has shape \[\d+,32\], .*config\.json implies \[10000000,32\]$/,
    ],
  ];
  for (const [edit, re] of cases) {
    await withBadConfig(edit, async (dir) => {
      await assert.rejects(() => loadHfCheckpoint(dir, be), oneLine(re));
    });
  }
});

Deno.test("a config larger than the backend holds is refused from its sizes alone", () => {
  const info = new ReferenceBackend().info;
  const huge = { ...PRESETS["micro-4l-4k"], n_layer: 1e9 };
  assert.throws(
    () => checkConfigFits(huge, info, "big.json"),
    oneLine(
      /^big\.json: the model \(.*n_layer 1000000000.*\) needs 1\.815e\+14 parameters; the reference backend holds at most 1\.718e\+10$/,
    ),
  );
  const wide = { ...PRESETS["micro-4l-4k"], vocab_size: 1e7, n_embd: 1024, n_head: 8 };
  assert.throws(
    () => checkConfigFits(wide, info, "wide.json"),
    oneLine(/needs a tensor of 1\.024e\+10 elements/),
  );
  checkConfigFits(PRESETS["tinyllama-1.1b"], info, "preset"); // tensors fit 2^30 each
  // WASM keeps every tensor in one 4 GiB memory: there the parameter group must fit as a whole.
  const wasm = { ...info, name: "wasm", maxTensorElements: 2 ** 29 - 16, memoryBytes: 0xffff_0000 };
  assert.throws(
    () => checkConfigFits({ ...PRESETS["micro-4l-4k"], n_layer: 1e5 }, wasm, "deep.json"),
    oneLine(/needs 1\.815e\+10 parameters; the wasm backend holds at most 1\.074e\+9$/),
  );
  assert.equal(
    parameterCount(PRESETS["micro-4l-4k"]),
    new Model(new ReferenceBackend(), PRESETS["micro-4l-4k"]).numParams,
  );
});

Deno.test("eval CLI on a config of 1e9 layers: exit 2, one line, within a 64 MB heap (no allocation)", async () => {
  await withBadConfig({ num_hidden_layers: 1e9 }, async (dir) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--v8-flags=--max-old-space-size=64",
        `${ROOT}packages/eval/eval_cli.ts`,
        "--checkpoint",
        dir,
        "--data",
        dir,
        "--backend",
        "wasm",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(
      stderr,
      /^error: .*config\.json: num_hidden_layers 1000000000 implies 9000000003 tensors, the safetensors hold 21\n$/,
    );
  });
});

Deno.test("saveHfCheckpoint refuses non-finite parameters and writes nothing", async () => {
  const model = new Model(new ReferenceBackend(), PRESETS["micro-4l-4k"]);
  model.init(3);
  const dir = await Deno.makeTempDir();
  try {
    const i = model.names.indexOf("model.layers.2.mlp.up_proj.weight");
    const data = new Float32Array(model.params[i].size).fill(0.01);
    data[7] = Infinity;
    model.writeParam(i, data);
    await assert.rejects(
      () => saveHfCheckpoint(model, `${dir}/ck`),
      oneLine(
        /^not saving: parameter "model\.layers\.2\.mlp\.up_proj\.weight" holds Infinity at element 7 \(the run diverged/,
      ),
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    // Finite values whose squares overflow the sum are not a reason to refuse.
    data[7] = 3e38;
    model.writeParam(i, data);
    await saveHfCheckpoint(model, `${dir}/ck`);
    assert.ok([...Deno.readDirSync(`${dir}/ck`)].some((e) => e.name === "model.safetensors"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
