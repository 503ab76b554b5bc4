/**
 * Log-likelihood requests and their tokenization, as lm-evaluation-harness encodes them for a causal
 * model whose tokenizer adds BOS.
 *
 * @module
 */
import { pyRstrip } from "./_python_str.ts";

/** A continuation to score after a context: `log p(continuation | context)`. */
export interface LoglikelihoodRequest {
  context: string;
  continuation: string;
}

/** A request in token ids: the model reads `context` then `continuation`, and scores the latter. */
export interface TokenizedRequest {
  /** Starts with the prefix token (BOS). */
  context: number[];
  continuation: number[];
}

/** The one method of a tokenizer that scoring needs: SentencePiece encoding, no BOS/EOS. */
export interface TextEncoding {
  encode(text: string): number[];
}

/**
 * Tokenizes a request the way lm-evaluation-harness does for a causal model:
 * whitespace at the end of the context moves to the front of the continuation (so that a space
 * tokenizes with the word after it); `ctx = [prefix] + encode(context)`,
 * `whole = [prefix] + encode(context + continuation)`, and the continuation is `whole` after
 * `ctx.length` tokens, so a piece that straddles the boundary counts to the continuation. An empty
 * context conditions on the prefix token alone.
 *
 * @example
 * ```ts
 * import { encodeRequest } from "./request.ts";
 * const chars = { encode: (s: string) => [...s].map((c) => c.codePointAt(0)!) };
 * encodeRequest(chars, 1, { context: "Answer: ", continuation: "yes" });
 * // { context: [1, 65, 110, 115, 119, 101, 114, 58], continuation: [32, 121, 101, 115] }
 * ```
 */
export function encodeRequest(
  tokenizer: TextEncoding,
  prefixId: number,
  req: LoglikelihoodRequest,
): TokenizedRequest {
  let { context, continuation } = req;
  if (context === "") {
    const cont = tokenizer.encode(continuation);
    // lm-eval does not condition on the prefix twice when the continuation already starts with it.
    if (cont.length > 0 && cont[0] === prefixId) {
      return { context: cont.slice(0, 1), continuation: cont.slice(1) };
    }
    return { context: [prefixId], continuation: cont };
  }
  const stripped = pyRstrip(context);
  if (stripped.length < context.length) {
    continuation = context.slice(stripped.length) + continuation;
    context = stripped;
  }
  const ctx = [prefixId, ...tokenizer.encode(context)];
  const whole = [prefixId, ...tokenizer.encode(context + continuation)];
  return { context: ctx, continuation: whole.slice(ctx.length) };
}
