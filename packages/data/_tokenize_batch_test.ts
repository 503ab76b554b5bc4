import assert from "node:assert/strict";
import { utf8Length } from "./_tokenize_batch.ts";

Deno.test("utf8Length: equals TextEncoder's length, surrogate pairs across its 65536-unit slices included", () => {
  const enc = new TextEncoder();
  const cases = [
    "",
    "abc",
    "é€😀",
    "a\ud800b", // lone high surrogate
    "\udc00x", // lone low surrogate
    "x\ud83d", // high surrogate at the end
    "\ud800\ud800\udc00",
  ];
  // A pair, a lone high and a lone low surrogate at each side of the slice boundaries.
  for (const at of [65534, 65535, 65536, 131071, 131072]) {
    for (const piece of ["😀", "\ud800", "\udc00", "\ud800\ud800", "é"]) {
      cases.push("a".repeat(at) + piece + "b".repeat(70000));
      cases.push("€".repeat(at - 1) + piece);
    }
  }
  for (const s of cases) assert.equal(utf8Length(s), enc.encode(s).length, `length ${s.length}`);
});
