import assert from "node:assert/strict";
import { MetricsLog, readMetrics } from "./metrics.ts";

Deno.test("MetricsLog.open keeps the lines before the resumed step and drops a torn tail", async () => {
  const path = `${await Deno.makeTempDir()}/metrics.jsonl`;
  const line = (step: number) => JSON.stringify({ step, loss: 1 / (step + 1) });
  await Deno.writeTextFile(
    path,
    [0, 1, 2, 3].map(line).join("\n") + '\n{"step":3,"val_loss":2,"val_ppl":7.38,"elapsed":1}\n{"step":4,"lo',
  );
  assert.equal((await readMetrics(path)).length, 5, "the torn line is not read");
  const log = await MetricsLog.open(path, 3);
  log.append({ step: 3, val_loss: 1, val_ppl: Math.E, elapsed: 2 });
  await log.sync();
  log.close();
  assert.deepEqual((await readMetrics(path)).map((r) => r.step), [0, 1, 2, 3]);
  assert.equal(
    await Deno.readTextFile(path),
    [0, 1, 2].map(line).join("\n") + '\n{"step":3,"val_loss":1,"val_ppl":' + Math.E + ',"elapsed":2}\n',
  );
  assert.deepEqual(await readMetrics(`${path}.missing`), []);
});
