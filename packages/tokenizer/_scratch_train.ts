import { sotuAddresses } from "./_sample_corpus.ts";
import { trainBpeTokenizer } from "./train.ts";
const all = await sotuAddresses();
let texts: string[] = []; let size = 0;
for (let i = all.length - 1; i >= 0 && size < 5e6; i--) { texts.push(all[i]); size += all[i].length; }
const code = await Deno.readTextFile(new URL(import.meta.resolve("npm:lodash@4.17.21/lodash.js")).pathname).catch(() => "");
console.log("chars", size, "code", code.length);
const t0 = performance.now();
const tok = trainBpeTokenizer([...texts, code], { vocabSize: 4096 });
console.log("train ms", (performance.now() - t0).toFixed(0), tok.vocabSize, tok.model.pieces.slice(259, 300).map(p => p.piece).join(" "));
console.log(tok.model.pieces.slice(3900, 3950).map(p => p.piece).join(" "));
