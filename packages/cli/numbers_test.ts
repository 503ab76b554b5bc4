import assert from "node:assert/strict";
import { isUserError } from "./errors.ts";
import { parseIntFlag, parseIntListFlag, parseNumberFlag } from "./numbers.ts";

function refuses(f: () => unknown, message: RegExp) {
  assert.throws(f, (e) => isUserError(e) && message.test(e.message) && !e.message.includes("\n"));
}

Deno.test("parseIntFlag: digits within bounds only", () => {
  assert.equal(parseIntFlag("--workers", "4"), 4);
  assert.equal(parseIntFlag("--n", "-3", { min: -5 }), -3);
  refuses(() => parseIntFlag("--workers", "x"), /^--workers must be an integer ≥ 0, got "x"$/);
  refuses(() => parseIntFlag("--workers", ""), /--workers/);
  refuses(() => parseIntFlag("--workers", "1e3"), /got "1e3"/);
  refuses(() => parseIntFlag("--workers", "2.0"), /got "2.0"/);
  refuses(() => parseIntFlag("--workers", " 2"), /got " 2"/);
  refuses(() => parseIntFlag("--n", "99999999999999999999999"), /got "99999999999999999999999"/);
  refuses(() => parseIntFlag("--workers", "257", { max: 256 }), /from 0 to 256, got "257"/);
  refuses(() => parseIntFlag("--steps", "0", { min: 1 }), /≥ 1/);
});

Deno.test("parseNumberFlag: finite decimals within bounds only", () => {
  assert.equal(parseNumberFlag("--lr", "3e-4"), 3e-4);
  assert.equal(parseNumberFlag("--lr", ".5"), 0.5);
  for (const bad of ["x", "", "Infinity", "NaN", "0x10", "1e999", "1,5"]) {
    refuses(() => parseNumberFlag("--lr", bad), /^--lr must be a number, got /);
  }
  refuses(
    () => parseNumberFlag("--val-fraction", "1", { min: 0, max: 1, belowMax: true }),
    /^--val-fraction must be a number ≥ 0 and < 1, got "1"$/,
  );
  refuses(() => parseNumberFlag("--t", "0", { min: 0, aboveMin: true }), /> 0/);
});

Deno.test("parseIntListFlag: every item strict, the bad one named", () => {
  assert.deepEqual(parseIntListFlag("--prompt-ids", "1, 2,3"), [1, 2, 3]);
  refuses(
    () => parseIntListFlag("--prompt-ids", "1,99999999999999999999999"),
    /^--prompt-ids: item 2 \("99999999999999999999999"\) must be an integer ≥ 0$/,
  );
  refuses(() => parseIntListFlag("--prompt-ids", "1,,2"), /item 2/);
  refuses(
    () => parseIntListFlag("--prompt-ids", "1,5", { max: 4 }),
    /item 2 \("5"\) must be an integer from 0 to 4/,
  );
});
