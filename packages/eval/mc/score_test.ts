import assert from "node:assert/strict";
import { encodeRequest } from "./request.ts";
import { type NextTokenModel, scoreRequests } from "./score.ts";

/**
 * A stub causal model of known probabilities: the next token after token `a` is `b` with probability
 * `BIGRAM[a][b]`, scaled by a factor that depends on how many tokens the row shows up to that position,
 * `1 / (visible + 1)`, so that scoring the wrong position or cutting the wrong end of a long input
 * changes the result. It returns NaN wherever no target is asked for, so that summing a padding
 * position shows.
 */
const BIGRAM = [
  [0.5, 0.25, 0.125, 0.125, 0],
  [0.25, 0.25, 0.25, 0.125, 0.125],
  [0.125, 0.5, 0.125, 0.125, 0.125],
  [0.0625, 0.0625, 0.125, 0.25, 0.5],
  [0.2, 0.2, 0.2, 0.2, 0.2],
];

function stubLogProb(prev: number, next: number, visible: number): number {
  return Math.log(BIGRAM[prev][next]) - Math.log(visible + 1);
}

function stubModel(maxLength: number, calls: { rows: number; t: number }[] = []): NextTokenModel {
  return {
    maxLength,
    logProbs(inputs, targets, batch) {
      const t = inputs.length / batch;
      assert.ok(Number.isInteger(t) && t <= maxLength, `row length ${t} exceeds ${maxLength}`);
      calls.push({ rows: batch, t });
      const out = new Float64Array(inputs.length).fill(NaN);
      for (let i = 0; i < inputs.length; i++) {
        if (targets[i] >= 0) out[i] = stubLogProb(inputs[i], targets[i], (i % t) + 1);
      }
      return Promise.resolve(out);
    },
  };
}

/** The expected log-likelihood written out from the definition, for one request, without batching. */
function expected(ctx: number[], cont: number[], maxLength: number): number {
  const input = [...ctx, ...cont].slice(-(maxLength + 1));
  let sum = 0;
  for (let j = input.length - cont.length; j < input.length; j++) {
    sum += stubLogProb(input[j - 1], input[j], j);
  }
  return sum;
}

Deno.test("scoreRequests sums the continuation's log-probabilities, worked by hand", async () => {
  // ctx [1, 2], cont [3, 4]: p(3 | …2) = 0.125 with 2 visible tokens (/3), p(4 | …3) = 0.5 with 3 (/4).
  const [ll] = await scoreRequests([{ context: [1, 2], continuation: [3, 4] }], stubModel(16));
  assert.ok(Math.abs(ll - (Math.log(0.125 / 3) + Math.log(0.5 / 4))) < 1e-12);
  // An empty continuation scores 0 without a forward.
  const calls: { rows: number; t: number }[] = [];
  const [zero] = await scoreRequests([{ context: [1], continuation: [] }], stubModel(16, calls));
  assert.equal(zero, 0);
  assert.equal(calls.length, 0);
});

Deno.test("a long input is cut from the left to the model's length, keeping the whole continuation", async () => {
  // maxLength 4: of [0 1 2 3 4 | 1 2] the last 5 tokens less the last one are read: [2 3 4 1], so 1 is
  // predicted after 4 with 3 tokens visible, and 2 after 1 with 4 visible.
  const [ll] = await scoreRequests([{ context: [0, 1, 2, 3, 4], continuation: [1, 2] }], stubModel(4));
  assert.ok(Math.abs(ll - (Math.log(0.2 / 4) + Math.log(0.25 / 5))) < 1e-12);
  assert.ok(Math.abs(ll - expected([0, 1, 2, 3, 4], [1, 2], 4)) < 1e-12);
  // A continuation of exactly maxLength tokens still fits (the context's last token conditions it).
  const ctx = [1, 2, 3], cont = [4, 0, 1, 2];
  const [full] = await scoreRequests([{ context: ctx, continuation: cont }], stubModel(4));
  assert.ok(Math.abs(full - expected(ctx, cont, 4)) < 1e-12);
  await assert.rejects(
    () => scoreRequests([{ context: [1], continuation: [1, 2, 3, 4, 0] }], stubModel(4)),
    /continuation of 5 tokens exceeds the model's context 4/,
  );
});

Deno.test("results do not depend on batching, order or padding", async () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const requests = Array.from({ length: 60 }, () => ({
    context: [1, ...Array.from({ length: rand(20) }, () => rand(4))],
    continuation: Array.from({ length: 1 + rand(6) }, () => rand(4)),
  }));
  const maxLength = 16;
  const want = requests.map((r) => expected(r.context, r.continuation, maxLength));
  for (const batchTokens of [1, 7, 40, 100_000]) {
    const calls: { rows: number; t: number }[] = [];
    const progress: number[] = [];
    const got = await scoreRequests(requests, stubModel(maxLength, calls), {
      batchTokens,
      onProgress: (d) => progress.push(d),
    });
    got.forEach((g, i) =>
      assert.ok(Math.abs(g - want[i]) < 1e-12, `request ${i}, batchTokens ${batchTokens}`)
    );
    for (const c of calls) assert.ok(c.rows === 1 || c.rows * c.t <= batchTokens);
    assert.equal(progress.at(-1), requests.length);
    if (batchTokens === 100_000) assert.equal(calls.length, 1);
  }
});

/** Characters as tokens, so that the boundaries lm-eval draws are visible. */
const chars = { encode: (s: string) => [...s].map((c) => c.codePointAt(0)!) };
const ids = (s: string) => chars.encode(s);

Deno.test("encodeRequest: BOS first, trailing whitespace moves into the continuation", () => {
  assert.deepEqual(encodeRequest(chars, 1, { context: "Q:", continuation: " yes" }), {
    context: [1, ...ids("Q:")],
    continuation: ids(" yes"),
  });
  // Python's rstrip: "\x1c" and NBSP are whitespace, so they move too.
  assert.deepEqual(encodeRequest(chars, 1, { context: "A:\u00a0\x1c", continuation: "b" }), {
    context: [1, ...ids("A:")],
    continuation: ids("\u00a0\x1cb"),
  });
  // An empty context conditions on BOS only.
  assert.deepEqual(encodeRequest(chars, 1, { context: "", continuation: "hi" }), {
    context: [1],
    continuation: ids("hi"),
  });
  // An all-space context becomes BOS alone and its spaces go to the continuation.
  assert.deepEqual(encodeRequest(chars, 1, { context: "  ", continuation: "x" }), {
    context: [1],
    continuation: ids("  x"),
  });
});

Deno.test("encodeRequest: the continuation is whole[len(ctx):], so a merged piece counts to it", () => {
  // A tokenizer that merges "ab" into one token 99: encode("a") = [97], encode("ab") = [99].
  const merging = { encode: (s: string) => s === "ab" ? [99] : ids(s) };
  // whole = [1, 99], ctx = [1, 97]: the continuation is whole after 2 tokens, i.e. nothing.
  assert.deepEqual(encodeRequest(merging, 1, { context: "a", continuation: "b" }), {
    context: [1, 97],
    continuation: [],
  });
  // A tokenizer that emits the prefix itself: an empty context does not condition on it twice.
  const withBos = { encode: (s: string) => [1, ...ids(s)] };
  assert.deepEqual(encodeRequest(withBos, 1, { context: "", continuation: "x" }), {
    context: [1],
    continuation: ids("x"),
  });
});
