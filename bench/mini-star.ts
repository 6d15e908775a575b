/**
 * A cut-down star (bench/star.ts) for instruction-count comparisons under valgrind: the same
 * scenario with the workload's duration shortened (`--ms N`, default 200 = 20,000 echoes).
 * Usage: npx tsx bench/mini-star.ts [--mode MODE] [--connection keepAlive|new] [--ms N] [--runs R]
 */
import { argValue, loadStar, runStar, type StarConnection } from "./star.ts"
import type { ProxyMode } from "../src/cluster/proxy-backends.ts"

const argv = process.argv.slice(2)
const mode = argValue(argv, "mode", "iptables") as ProxyMode
const connection = argValue(argv, "connection", "keepAlive") as StarConnection
const ms = Number(argValue(argv, "ms", "200"))
const runs = Number(argValue(argv, "runs", "1"))
const spec = loadStar(connection, mode)
const workload = { ...spec.workloads[0], durationNs: ms * 1_000_000 }
const cut = { ...spec, workloads: [workload], expect: [] }
for (let i = 0; i < runs; i++) {
  const r = runStar(cut)
  console.log(JSON.stringify({ mode, connection, echoes: r.echoes, fingerprint: r.fingerprint, cpu: r.cpuSeconds }))
}
