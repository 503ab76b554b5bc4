import assert from "node:assert/strict";
import { decodeUtf8Lenient, pushUtf8 } from "./_utf8.ts";

Deno.test("each byte that starts no well-formed character becomes one U+FFFD (as in SentencePiece)", () => {
  const d = (b: number[]) => decodeUtf8Lenient(b, b.length);
  assert.equal(d([0x61, 0xe2, 0x96, 0x81]), "a\u2581");
  assert.equal(d([0xf0, 0x9f, 0xa6]), "\ufffd\ufffd\ufffd"); // a cut 4-byte character
  assert.equal(d([0xc0, 0xaf]), "\ufffd\ufffd"); // overlong
  assert.equal(d([0xed, 0xa0, 0x80]), "\ufffd\ufffd\ufffd"); // an encoded surrogate
  assert.equal(d([0xf4, 0x90, 0x80, 0x80]), "\ufffd\ufffd\ufffd\ufffd"); // above U+10FFFF
  assert.equal(d([0xef, 0xbf, 0xbd]), "\ufffd"); // U+FFFD itself is one character
  assert.equal(d([0xf0, 0x9f, 0xa6, 0x99, 0x80]), "🦙\ufffd");
});

Deno.test("pushUtf8 agrees with TextEncoder over all planes", () => {
  for (const cp of [0, 0x7f, 0x80, 0x7ff, 0x800, 0xfffd, 0xffff, 0x10000, 0x1f999, 0x10ffff]) {
    const out: number[] = [];
    pushUtf8(cp, out);
    assert.deepEqual(out, [...new TextEncoder().encode(String.fromCodePoint(cp))], cp.toString(16));
  }
});
