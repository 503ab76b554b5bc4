import assert from "node:assert/strict";
import { ProtobufError, ProtoReader, ProtoWriter } from "./_protobuf.ts";

Deno.test("int32 (negative ones take 10 bytes), bool, float, string and nested fields round-trip", () => {
  const inner = new ProtoWriter().string(1, "▁the").float(2, -1e9).finish();
  const bytes = new ProtoWriter().int32(1, 150).int32(2, -1).bool(3, true).bytes(4, inner).int32(
    5,
    2 ** 31 - 1,
  )
    .finish();
  // Known encodings: 150 is 0x96 0x01; -1 is ten bytes ending in 0x01.
  assert.deepEqual([...bytes.subarray(0, 3)], [0x08, 0x96, 0x01]);
  assert.deepEqual([...bytes.subarray(3, 14)], [
    0x10,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0x01,
  ]);
  const r = new ProtoReader(bytes);
  const got: unknown[] = [];
  while (r.next()) {
    if (r.field === 4) {
      const n = new ProtoReader(r.bytes());
      while (n.next()) got.push(n.field === 1 ? new TextDecoder().decode(n.bytes()) : n.float());
    } else {
      got.push(r.varint());
    }
  }
  assert.deepEqual(got, [150, -1, 1, "▁the", -1e9, 2 ** 31 - 1]);
});

Deno.test("unknown fields of every wire type are skipped", () => {
  // field 7 fixed64, field 8 fixed32, field 9 varint, field 10 bytes, then field 1 varint = 5
  const bytes = new Uint8Array([
    0x39,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    0x45,
    1,
    2,
    3,
    4,
    0x48,
    0xff,
    0x01,
    0x52,
    2,
    0x61,
    0x62,
    0x08,
    5,
  ]);
  const r = new ProtoReader(bytes);
  let five = 0;
  while (r.next()) {
    if (r.field === 1) five = r.varint();
    else r.skip();
  }
  assert.equal(five, 5);
});

Deno.test("truncation, groups, field 0 and wrong wire types are errors", () => {
  const read = (b: number[]) => {
    const r = new ProtoReader(new Uint8Array(b));
    while (r.next()) r.skip();
  };
  assert.throws(() => read([0x0a, 5, 1, 2]), ProtobufError); // length past the end
  assert.throws(() => read([0x08, 0x96]), /truncated varint/);
  assert.throws(() => read([0x0b]), /unsupported wire type 3/);
  assert.throws(() => read([0x00, 0x01]), /field number 0/);
  assert.throws(() => read([0x15, 1, 2]), /truncated/);
  const r = new ProtoReader(new Uint8Array([0x08, 0x01]));
  r.next();
  assert.throws(() => r.bytes(), /wire type 0, expected 2/);
});
