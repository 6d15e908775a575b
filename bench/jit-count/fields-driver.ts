/**
 * Driver for bench/jit-count/fields.sh: runs one cut of the star (the first MS simulated
 * milliseconds of its workload) from TREE, under V8's --trace-generalization.
 * Usage (through fields.sh): node --no-sparkplug --trace-generalization --import tsx
 *   fields-driver.ts TREE MODE CONNECTION MS
 */
import { pathToFileURL } from "node:url"
import type { StarConnection } from "../star.ts"

const [tree, mode, connection, msText] = process.argv.slice(2)
if (msText === undefined) throw new Error("usage: fields-driver.ts TREE MODE CONNECTION MS")
// The tree under test (a checkout or an archive of another commit), not this file's own.
const star = (await import(pathToFileURL(`${tree}/bench/star.ts`).href)) as typeof import("../star.ts")
const spec = star.loadStar(connection as StarConnection, mode as Parameters<typeof star.loadStar>[1])
const cut = { ...spec, workloads: [{ ...spec.workloads[0], durationNs: Number(msText) * 1e6 }], expect: [] }
const r = star.runStar(cut)
console.log(JSON.stringify({ mode, connection, ms: Number(msText), echoes: r.echoes, fingerprint: r.fingerprint }))
