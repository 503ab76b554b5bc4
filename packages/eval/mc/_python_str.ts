/**
 * The few Python `str` behaviours that lm-evaluation-harness's prompt formats rely on, reproduced
 * exactly: Python's whitespace set differs from JavaScript's (`\x1c`–`\x1f` and `\x85` are space in
 * Python, `\ufeff` is not), `len` counts code points, not UTF-16 units, and `capitalize` title-cases
 * the first character and lower-cases the rest.
 *
 * @module
 */

/** Python 3's `str.isspace` characters (Unicode White_Space plus the bidi class B/S/WS controls). */
const PY_SPACE = new Set(
  [
    0x09,
    0x0a,
    0x0b,
    0x0c,
    0x0d,
    0x1c,
    0x1d,
    0x1e,
    0x1f,
    0x20,
    0x85,
    0xa0,
    0x1680,
    0x2000,
    0x2001,
    0x2002,
    0x2003,
    0x2004,
    0x2005,
    0x2006,
    0x2007,
    0x2008,
    0x2009,
    0x200a,
    0x2028,
    0x2029,
    0x202f,
    0x205f,
    0x3000,
  ].map((c) => String.fromCharCode(c)),
);

/** True when the one-character string `ch` is whitespace to Python (`ch.isspace()`). */
export function pyIsSpace(ch: string): boolean {
  return PY_SPACE.has(ch);
}

/** Python's `s.rstrip()`. Every Python space is a single UTF-16 unit, so unit-wise scanning is exact. */
export function pyRstrip(s: string): string {
  let end = s.length;
  while (end > 0 && PY_SPACE.has(s[end - 1])) end--;
  return s.slice(0, end);
}

/** Python's `s.lstrip()`. */
export function pyLstrip(s: string): string {
  let start = 0;
  while (start < s.length && PY_SPACE.has(s[start])) start++;
  return s.slice(start);
}

/** Python's `s.strip()`. */
export function pyStrip(s: string): string {
  return pyLstrip(pyRstrip(s));
}

/** Python's `len(s)`: the number of code points (an emoji counts 1, not 2). */
export function pyLen(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Title case where it differs from `toUpperCase` and is not the character itself (Python 3.11,
 * Unicode 14): ß and the Latin/Armenian ligatures keep one capital, the DŽ/LJ/NJ/DZ digraphs and
 * Greek letters with iota subscript have their own title-case forms.
 */
const TITLE_CASE: Readonly<Record<string, string>> = {
  "\u00df": "Ss",
  "\u01c4": "\u01c5",
  "\u01c6": "\u01c5",
  "\u01c7": "\u01c8",
  "\u01c9": "\u01c8",
  "\u01ca": "\u01cb",
  "\u01cc": "\u01cb",
  "\u01f1": "\u01f2",
  "\u01f3": "\u01f2",
  "\u0587": "\u0535\u0582",
  "\u1fb2": "\u1fba\u0345",
  "\u1fb3": "\u1fbc",
  "\u1fb4": "\u0386\u0345",
  "\u1fb7": "\u0391\u0342\u0345",
  "\u1fc2": "\u1fca\u0345",
  "\u1fc3": "\u1fcc",
  "\u1fc4": "\u0389\u0345",
  "\u1fc7": "\u0397\u0342\u0345",
  "\u1ff2": "\u1ffa\u0345",
  "\u1ff3": "\u1ffc",
  "\u1ff4": "\u038f\u0345",
  "\u1ff7": "\u03a9\u0342\u0345",
  "\ufb00": "Ff",
  "\ufb01": "Fi",
  "\ufb02": "Fl",
  "\ufb03": "Ffi",
  "\ufb04": "Ffl",
  "\ufb05": "St",
  "\ufb06": "St",
  "\ufb13": "\u0544\u0576",
  "\ufb14": "\u0544\u0565",
  "\ufb15": "\u0544\u056b",
  "\ufb16": "\u054e\u0576",
  "\ufb17": "\u0544\u056d",
};

/**
 * Characters that are their own title case although `toUpperCase` changes them: the title-case
 * letters themselves (ǅ, ᾈ, …) and Georgian Mkhedruli, whose upper case is Mtavruli.
 */
const OWN_TITLE = /^[\p{Lt}\u10d0-\u10fa\u10fd-\u10ff]$/u;

/** Greek iota-subscript letters ᾀ–ᾧ: their title case is the matching title-case letter (+8). */
function greekIotaTitle(cp: number): string | null {
  if ((cp >= 0x1f80 && cp <= 0x1f87) || (cp >= 0x1f90 && cp <= 0x1f97) || (cp >= 0x1fa0 && cp <= 0x1fa7)) {
    return String.fromCodePoint(cp + 8);
  }
  return null;
}

function titleCase(ch: string): string {
  const mapped = TITLE_CASE[ch];
  if (mapped !== undefined) return mapped;
  if (OWN_TITLE.test(ch)) return ch;
  return greekIotaTitle(ch.codePointAt(0)!) ?? ch.toUpperCase();
}

/**
 * Python's `s.capitalize()`: the first character in title case, the rest in lower case. The rest is
 * lowered as part of the whole string, because a final sigma depends on the letters before it.
 */
export function pyCapitalize(s: string): string {
  if (s.length === 0) return s;
  const first = String.fromCodePoint(s.codePointAt(0)!);
  return titleCase(first) + s.toLowerCase().slice(first.toLowerCase().length);
}
