import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { parseConfig, PRESETS, resolveConfig } from "./config.ts";

const base = { ...PRESETS["tiny-6l-4k"] };

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(isUserError(e), `expected a UserError, got ${e}`);
    return (e as Error).message;
  }
  assert.fail("expected an error");
}

Deno.test("tinyllama-1.1b preset is TinyLlama's architecture", async () => {
  const c = await resolveConfig("tinyllama-1.1b");
  assert.deepEqual(
    [c.n_layer, c.n_embd, c.n_head, c.n_query_groups, c.intermediate_size, c.block_size, c.vocab_size],
    [22, 2048, 32, 4, 5632, 2048, 32000],
  );
  assert.equal(c.norm_eps, 1e-5);
  assert.equal(c.rope_base, 10000);
});

Deno.test("every preset validates", () => {
  for (const [name, c] of Object.entries(PRESETS)) {
    assert.equal(parseConfig(c).name, name);
  }
});

Deno.test("n_embd not divisible by n_head names n_embd", () => {
  const m = errorOf(() => parseConfig({ ...base, n_embd: 250 }));
  assert.match(m, /key "n_embd".*not divisible by n_head/);
});

Deno.test("n_head not divisible by n_query_groups names n_query_groups", () => {
  const m = errorOf(() => parseConfig({ ...base, n_query_groups: 3 }));
  assert.match(m, /key "n_query_groups".*not divisible/);
});

Deno.test("odd head size is refused (RoPE rotates pairs)", () => {
  const m = errorOf(() => parseConfig({ ...base, n_embd: 24, n_head: 8 }));
  assert.match(m, /head size.*even/);
});

Deno.test("wrong types name the key", () => {
  assert.match(errorOf(() => parseConfig({ ...base, n_layer: "6" })), /key "n_layer"/);
  assert.match(errorOf(() => parseConfig({ ...base, norm_eps: -1 })), /key "norm_eps"/);
  assert.match(errorOf(() => parseConfig({ ...base, n_head: 2.5 })), /key "n_head"/);
});

Deno.test("a missing key is named", () => {
  const { block_size: _, ...rest } = base;
  assert.match(errorOf(() => parseConfig(rest)), /key "block_size"/);
});

Deno.test("name, norm_eps and rope_base default as lit-gpt's Config does; a file names its config", async () => {
  const { name: _n, norm_eps: _e, rope_base: _r, ...rest } = { ...base, norm_eps: 1e-6, rope_base: 5e5 };
  const c = parseConfig(rest, "configs/my-model.json");
  assert.deepEqual(c, { ...rest, name: "my-model", norm_eps: 1e-5, rope_base: 10000 });
  assert.equal(parseConfig({ ...rest, norm_eps: 1e-6, rope_base: 5e5 }).norm_eps, 1e-6);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/tiny-2l.json`, JSON.stringify(rest));
    const f = await resolveConfig(`${dir}/tiny-2l.json`);
    assert.equal(f.name, "tiny-2l");
    assert.equal(f.rope_base, 10000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unknown keys are refused by name", () => {
  assert.match(errorOf(() => parseConfig({ ...base, n_embed: 3 })), /unknown key "n_embed"/);
});

Deno.test("resolveConfig: files, not-JSON, missing, unknown preset", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ok.json`, JSON.stringify({ ...base, name: "mine" }));
    assert.equal((await resolveConfig(`${dir}/ok.json`)).name, "mine");
    await Deno.writeTextFile(`${dir}/bad.json`, "{ n_layer: 2");
    await assert.rejects(() => resolveConfig(`${dir}/bad.json`), /bad\.json: not valid JSON/);
    await assert.rejects(() => resolveConfig(`${dir}/none.json`), /none\.json: config file not found/);
    await assert.rejects(() => resolveConfig("tinyllama-7b"), /unknown config "tinyllama-7b"/);
    await Deno.writeTextFile(`${dir}/types.json`, JSON.stringify({ ...base, vocab_size: "big" }));
    await assert.rejects(() => resolveConfig(`${dir}/types.json`), /types\.json: key "vocab_size"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
