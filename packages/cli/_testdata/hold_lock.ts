// Takes the lock of Deno.args[0], prints "locked", and holds it until killed or until stdin closes.
import { lockRunDir } from "../lock.ts";
const lock = await lockRunDir(Deno.args[0]);
console.log("locked");
for await (const _ of Deno.stdin.readable) {
  // wait
}
lock.release();
