import { parseArgs } from "node:util";
import { runMain, UserError } from "../mod.ts";

await runMain(() => {
  const { positionals } = parseArgs({ args: Deno.args, options: {}, allowPositionals: true, strict: true });
  if (positionals[0] === "user") throw new UserError("data/x.bin: wrong magic");
  if (positionals[0] === "bug") throw new TypeError("boom");
});
