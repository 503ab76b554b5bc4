import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import {
  decodeTokens,
  DTYPE_CODES,
  dtypeForVocab,
  encodeShardHeader,
  encodeTokens,
  parseShardHeader,
  type TokenDtype,
} from "./shard_format.ts";

Deno.test("shard header: the 24 bytes lit-gpt writes", () => {
  const h = encodeShardHeader({ dtype: "uint16", chunkSize: 2049 * 1024 });
  const expected = [
    ..."LITPKDS".split("").map((c) => c.charCodeAt(0)),
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0, // u64 version 1
    8, // dtype code: uint16
    0x00,
    0x04,
    0x20,
    0,
    0,
    0,
    0,
    0, // u64 2098176 = 0x200400
  ];
  assert.deepEqual([...h], expected);
  assert.deepEqual(parseShardHeader(h, "x", 24 + 2 * 2098176), { dtype: "uint16", chunkSize: 2098176 });
});

Deno.test("shard header: lit-gpt's dtype codes and auto dtype", () => {
  assert.deepEqual(DTYPE_CODES, { uint8: 1, int8: 2, int16: 3, int32: 4, int64: 5, uint16: 8 });
  assert.equal(dtypeForVocab(32000), "uint16");
  assert.equal(dtypeForVocab(65499), "uint16");
  assert.equal(dtypeForVocab(65500), "int32");
});

function expectUserError(f: () => unknown, pattern: RegExp) {
  assert.throws(
    f,
    (e) => isUserError(e) && pattern.test((e as Error).message) && !(e as Error).message.includes("\n"),
  );
}

Deno.test("shard header: every defect is a one-line error naming the file", () => {
  const good = encodeShardHeader({ dtype: "uint16", chunkSize: 4 });
  const bad = (edit: (b: Uint8Array) => void) => {
    const b = good.slice();
    edit(b);
    return b;
  };
  expectUserError(() => parseShardHeader(bad((b) => b[0] = 0x4d), "s.bin"), /^s\.bin: wrong magic/);
  expectUserError(
    () => parseShardHeader(bad((b) => b[7] = 2), "s.bin"),
    /^s\.bin: unsupported shard version 2/,
  );
  expectUserError(() => parseShardHeader(bad((b) => b[15] = 6), "s.bin"), /^s\.bin: dtype code 6 is a float/);
  expectUserError(() => parseShardHeader(bad((b) => b[15] = 9), "s.bin"), /^s\.bin: dtype code 9 is unknown/);
  expectUserError(() => parseShardHeader(bad((b) => b[16] = 0), "s.bin"), /^s\.bin: invalid chunk size 0/);
  expectUserError(() => parseShardHeader(good.subarray(0, 10), "s.bin"), /^s\.bin: too short/);
  expectUserError(() => parseShardHeader(good, "s.bin", 24 + 7), /^s\.bin: size 31 bytes does not fit/);
  assert.deepEqual(parseShardHeader(good, "s.bin", 24 + 8), { dtype: "uint16", chunkSize: 4 });
});

Deno.test("token bytes: little-endian round trip for every dtype", () => {
  const cases: [TokenDtype, number[], number[]][] = [
    ["uint8", [0, 7, 255], [0x00, 0x07, 0xff]],
    ["int8", [-128, -1, 127], [0x80, 0xff, 0x7f]],
    ["int16", [-2, 258], [0xfe, 0xff, 0x02, 0x01]],
    ["uint16", [1, 65535, 258], [0x01, 0x00, 0xff, 0xff, 0x02, 0x01]],
    ["int32", [-1, 100000], [0xff, 0xff, 0xff, 0xff, 0xa0, 0x86, 0x01, 0x00]],
    ["int64", [5, -3], [5, 0, 0, 0, 0, 0, 0, 0, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
  ];
  for (const [dtype, tokens, bytes] of cases) {
    assert.deepEqual([...encodeTokens(tokens, dtype)], bytes, dtype);
    const out = new Int32Array(tokens.length + 1).fill(-7);
    decodeTokens(Uint8Array.from(bytes), dtype, out, 1, "x");
    assert.deepEqual([...out], [-7, ...tokens], dtype);
  }
  assert.throws(() => encodeTokens([65536], "uint16"), RangeError);
  assert.throws(() => encodeTokens([-1], "uint16"), RangeError);
  expectUserError(
    () => decodeTokens(encodeTokens([2 ** 40], "int64"), "int64", new Int32Array(1), 0, "big.bin"),
    /^big\.bin: token 1099511627776 does not fit int32/,
  );
});
