/**
 * UTF-8 helpers with SentencePiece's rules: a byte run decodes character by character, and each byte
 * that does not start a well-formed character becomes one U+FFFD (WHATWG's TextDecoder would fold a
 * truncated sequence into a single U+FFFD, which SentencePiece does not).
 *
 * @module
 */

/**
 * Decodes `bytes[0..len)` the way SentencePiece decodes a run of byte pieces.
 *
 * @example
 * ```ts
 * import { decodeUtf8Lenient } from "./_utf8.ts";
 * decodeUtf8Lenient([0xe2, 0x96, 0x81, 0xf0, 0x9f], 5); // "▁\uFFFD\uFFFD"
 * ```
 */
export function decodeUtf8Lenient(bytes: ArrayLike<number>, len: number): string {
  let out = "";
  let i = 0;
  while (i < len) {
    const b0 = bytes[i];
    let cp = -1;
    let n = 1;
    if (b0 < 0x80) {
      cp = b0;
    } else if ((b0 & 0xe0) === 0xc0 && i + 1 < len) {
      const b1 = bytes[i + 1];
      const c = ((b0 & 0x1f) << 6) | (b1 & 0x3f);
      if ((b1 & 0xc0) === 0x80 && c >= 0x80) [cp, n] = [c, 2];
    } else if ((b0 & 0xf0) === 0xe0 && i + 2 < len) {
      const b1 = bytes[i + 1], b2 = bytes[i + 2];
      const c = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      if ((b1 & 0xc0) === 0x80 && (b2 & 0xc0) === 0x80 && c >= 0x800 && (c < 0xd800 || c > 0xdfff)) {
        [cp, n] = [c, 3];
      }
    } else if ((b0 & 0xf8) === 0xf0 && i + 3 < len) {
      const b1 = bytes[i + 1], b2 = bytes[i + 2], b3 = bytes[i + 3];
      const c = ((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
      if (
        (b1 & 0xc0) === 0x80 && (b2 & 0xc0) === 0x80 && (b3 & 0xc0) === 0x80 && c >= 0x10000 && c <= 0x10ffff
      ) {
        [cp, n] = [c, 4];
      }
    }
    out += cp < 0 ? "\uFFFD" : String.fromCodePoint(cp);
    i += n;
  }
  return out;
}

/**
 * Appends the UTF-8 bytes of code point `cp` to `out`.
 *
 * @example
 * ```ts
 * import { pushUtf8 } from "./_utf8.ts";
 * const out: number[] = [];
 * pushUtf8(0x1f999, out); // out = [0xf0, 0x9f, 0xa6, 0x99]
 * ```
 */
export function pushUtf8(cp: number, out: number[]): void {
  if (cp < 0x80) {
    out.push(cp);
  } else if (cp < 0x800) {
    out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  } else {
    out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
}
