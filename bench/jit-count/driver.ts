/**
 * Callgrind driver for bench/jit-count/run.sh: runs a cut of the star (the first MS simulated
 * milliseconds of its workload) twice with instrumentation off (module loading, JIT warm-up), then
 * writes MARKER and waits until run.sh has switched callgrind's instrumentation on (MARKER.on), and
 * runs the measured cut. Prints the measured cut's echoes and fingerprint.
 *
 * Usage (through run.sh): node --single-threaded --perf-basic-prof --import tsx driver.ts TREE MODE
 *   CONNECTION MS MARKER
 */
import { existsSync, writeFileSync } from "node:fs"
import { pathToFileURL } from "node:url"
import type { StarConnection } from "../star.ts"

const [tree, mode, connection, msText, marker] = process.argv.slice(2)
if (marker === undefined) throw new Error("usage: driver.ts TREE MODE CONNECTION MS MARKER")
// The tree under test (a checkout or an archive of another commit), not this file's own.
const star = (await import(pathToFileURL(`${tree}/bench/star.ts`).href)) as typeof import("../star.ts")
const spec = star.loadStar(connection as StarConnection, mode as Parameters<typeof star.loadStar>[1])
const cut = { ...spec, workloads: [{ ...spec.workloads[0], durationNs: Number(msText) * 1e6 }], expect: [] }
star.runStar(cut)
star.runStar(cut)
writeFileSync(marker, "warm")
// A benchmark harness, not model code: waiting on the controlling script is wall-clock by nature.
const waitCell = new Int32Array(new SharedArrayBuffer(4))
for (let waitedMs = 0; !existsSync(`${marker}.on`); waitedMs += 50) {
  if (waitedMs > 600_000) throw new Error("run.sh did not switch instrumentation on within 10 minutes")
  Atomics.wait(waitCell, 0, 0, 50)
}
const r = star.runStar(cut)
console.log(JSON.stringify({ mode, connection, ms: Number(msText), echoes: r.echoes, fingerprint: r.fingerprint }))
