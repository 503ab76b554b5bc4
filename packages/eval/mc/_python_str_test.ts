import assert from "node:assert/strict";
import { pyCapitalize, pyLen, pyLstrip, pyRstrip, pyStrip } from "./_python_str.ts";

const FIXTURE = new URL("../../../tests/fixtures/eval/python_str.json", import.meta.url);

Deno.test("strip, rstrip and capitalize give what Python gave on awkward strings", async () => {
  const cases = JSON.parse(await Deno.readTextFile(FIXTURE)) as {
    s: string;
    strip: string;
    rstrip: string;
    capitalize: string;
  }[];
  assert.ok(cases.length >= 20);
  for (const c of cases) {
    assert.equal(pyStrip(c.s), c.strip, `strip ${JSON.stringify(c.s)}`);
    assert.equal(pyRstrip(c.s), c.rstrip, `rstrip ${JSON.stringify(c.s)}`);
    assert.equal(pyCapitalize(c.s), c.capitalize, `capitalize ${JSON.stringify(c.s)}`);
  }
});

Deno.test("lstrip keeps the right end; len counts code points", () => {
  assert.equal(pyLstrip("\x1c B "), "B ");
  assert.equal(pyLstrip("\ufeffB"), "\ufeffB");
  assert.equal(pyLen("🦙"), 1);
  assert.equal(pyLen("café"), 4);
  assert.equal(pyLen(""), 0);
});
