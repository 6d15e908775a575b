/**
 * Investigation probe (not model code): which events a cluster-scale run dispatches, by kind, and
 * how many per node, before every node's first sync ended and after. It wraps each registered
 * handler's handleEvent from outside to count (results identical: the probe prints the run's
 * fingerprint), on the scenario bench/cluster-scale.ts generates.
 *
 *   node --max-old-space-size=8192 --import tsx bench/event-kinds.ts --nodes 200 --services 10000 --pods 10000 --mode userspace
 *
 * Same arguments as bench/cluster-scale.ts (`--nodes`, `--services`, `--pods`, `--clients`,
 * `--mode`, `--duration`; userspace mode runs its horizon); `--profile-wait FILE` writes a CPU profile
from 100 s simulated to the last first sync's end. Prints a JSON object: per kind the
 * events before and after the last first sync, and those per node and per simulated second of the
 * phase before it (what grows with the horizon); CPU seconds, events and garbage collections per
 * phase: building and the first 100 s simulated, the idle wait until the first of the running first
 * syncs ends (the long horizon's own cost), those syncs' ends, the rest.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { Session } from "node:inspector"
import { PerformanceObserver } from "node:perf_hooks"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { World } from "../src/cluster/index.ts"
import type { EventHandler } from "../src/sim/scheduler.ts"
import { loadScenario } from "../src/scenario/load.ts"
import { NS_PER_MS } from "../src/sim/time.ts"
import { clusterScaleYaml, POINTS, userspaceHorizon } from "./cluster-scale.ts"

const values: Record<string, string> = {}
const args = process.argv.slice(2)
for (let i = 0; i < args.length; i += 2) values[args[i].replace(/^--/, "")] = args[i + 1]
// --profile-wait FILE: a V8 CPU profile (.cpuprofile) of the wait only (100 s to the last first sync).
const profileFile = values["profile-wait"] ?? null
const session = profileFile === null ? null : new Session()
const post = (method: string): Promise<unknown> =>
  new Promise((resolve, reject) =>
    session?.post(method, (error, result) => (error === null ? resolve(result) : reject(error))),
  )
const point = POINTS[values.point ?? "small"]
const num = (key: string, fallback: number): number => (values[key] === undefined ? fallback : Number(values[key]))
const services = num("services", point.services)
const options = {
  nodes: num("nodes", point.nodes),
  services,
  pods: num("pods", point.pods),
  clients: num("clients", 200),
  workloads: num("workloads", 4),
  count: num("count", 50),
  duration: values.duration ?? (values.mode === "userspace" ? userspaceHorizon(services) : "30s"),
  ...(values.mode !== undefined ? { mode: values.mode } : {}),
}
const dir = mkdtempSync(join(tmpdir(), "kube-netsim-kinds-"))
const file = join(dir, "cluster-scale.yaml")
writeFileSync(file, clusterScaleYaml(options))
const loaded = loadScenario(file)
rmSync(dir, { recursive: true, force: true })
if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join("; "))
const spec = loaded.scenario.spec
const world = new World(spec, spec.seed)
const scheduler = world.scheduler

// Count per kind: every handler's handleEvent wrapped once (an own property shadows the method).
const counts: number[] = []
const internals = scheduler as unknown as { handlers: EventHandler[] }
for (const handler of new Set(internals.handlers)) {
  const original = handler.handleEvent.bind(handler)
  handler.handleEvent = (kind: number, a: number, b: number, nowNs: number): void => {
    counts[kind] = (counts[kind] ?? 0) + 1
    original(kind, a, b, nowNs)
  }
}

const nodes = [...world.nodes.values()]
const SLICE_NS = 1000 * NS_PER_MS
const cpu = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
let ended = false
/** Slices end at the last running first sync's end at the latest: the phases split there. */
const firstSyncsEndNs = (): number => {
  let endNs = 0
  for (const n of nodes) if (n.proxy.syncs.length === 0) endNs = Math.max(endNs, n.proxy.runningSyncEndNs ?? 0)
  return endNs
}
const step = (limitNs = Number.MAX_SAFE_INTEGER): void => {
  // Under a limit (the idle wait, which ends before any first sync) the nodes are not visited:
  // a visit per 1 s slice would be the probe's own cost per node and simulated second.
  const syncEndNs = limitNs === Number.MAX_SAFE_INTEGER ? firstSyncsEndNs() : 0
  const sliceEnd = Math.min(
    spec.durationNs,
    limitNs,
    scheduler.nowNs + SLICE_NS,
    syncEndNs > scheduler.nowNs ? syncEndNs : Number.MAX_SAFE_INTEGER,
  )
  const outcome = scheduler.run({ timeNsMax: sliceEnd, eventCountMax: Number.MAX_SAFE_INTEGER })
  if (outcome.reason === "stopped" || outcome.reason === "empty" || sliceEnd >= spec.durationNs) ended = true
  else scheduler.nowNs = sliceEnd
}
const allSynced = (): boolean => nodes.every((n) => n.proxy.syncs.length > 0)
// Garbage collections (count, pause ms) per phase, from the runtime's gc performance entries.
const gc = { count: 0, ms: 0 }
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.count++
    gc.ms += entry.duration
  }
})
gcObserver.observe({ entryTypes: ["gc"] })
const eventsSoFar = (): number => counts.reduce((sum, c) => sum + (c ?? 0), 0)
const phases: {
  phase: string
  untilSimulatedSeconds: number
  cpuSeconds: number
  events: number
  gcCount: number
  gcMs: number
}[] = []
let mark = { cpu: 0, events: 0, gcCount: 0, gcMs: 0 }
const endPhase = async (phase: string): Promise<void> => {
  // Let the observer deliver the phase's gc entries first.
  await new Promise((resolve) => setTimeout(resolve, 0))
  const now = { cpu: cpu(), events: eventsSoFar(), gcCount: gc.count, gcMs: gc.ms }
  phases.push({
    phase,
    untilSimulatedSeconds: scheduler.nowNs / 1e9,
    cpuSeconds: Math.round((now.cpu - mark.cpu) * 1000) / 1000,
    events: now.events - mark.events,
    gcCount: now.gcCount - mark.gcCount,
    gcMs: Math.round(now.gcMs - mark.gcMs),
  })
  mark = now
}
// Phases: the first 100 s of simulated time (building, the control plane's work, the first syncs'
// start); the idle wait until just before the first of the running first syncs ends (what the
// long horizon itself costs); the first syncs' ends; the rest (traffic).
const WARM_NS = 100_000 * NS_PER_MS
while (!ended && scheduler.nowNs < WARM_NS && !allSynced()) step()
const warmAtNs = scheduler.nowNs
await endPhase("build and first 100 s")
if (session !== null) {
  session.connect()
  await post("Profiler.enable")
  await post("Profiler.start")
}
let earliestEndNs = Number.MAX_SAFE_INTEGER
for (const n of nodes) {
  const endNs = n.proxy.syncs.length === 0 ? n.proxy.runningSyncEndNs : null
  if (endNs !== null) earliestEndNs = Math.min(earliestEndNs, endNs)
}
while (!ended && !allSynced() && scheduler.nowNs < earliestEndNs - 1) step(earliestEndNs - 1)
await endPhase("idle wait")
while (!ended && !allSynced()) step()
const syncedAtNs = scheduler.nowNs
const before = [...counts]
await endPhase("first syncs end")
if (session !== null && profileFile !== null) {
  const { profile } = (await post("Profiler.stop")) as { profile: unknown }
  writeFileSync(profileFile, JSON.stringify(profile))
  session.disconnect()
}
while (!ended) step()
await endPhase("rest")
gcObserver.disconnect()
const rows: Record<string, { before: number; after: number; beforePerNode: number; beforePerSimulatedSecond: number }> =
  {}
let totalBefore = 0
let totalAfter = 0
for (let kind = 0; kind < counts.length; kind++) {
  const b = before[kind] ?? 0
  const a = (counts[kind] ?? 0) - b
  if (a + b === 0) continue
  totalBefore += b
  totalAfter += a
  // Kinds registered per node ("userspace-proxy/node/node-9") counted together.
  const name = scheduler.kindName(kind).replace(/node-\d+/g, "node-*")
  const row = rows[name] ?? { before: 0, after: 0, beforePerNode: 0, beforePerSimulatedSecond: 0 }
  row.before += b
  row.after += a
  row.beforePerNode = Math.round((row.before / nodes.length) * 100) / 100
  row.beforePerSimulatedSecond = Math.round((row.before / (syncedAtNs / 1e9)) * 100) / 100
  rows[name] = row
}
const sorted = Object.fromEntries(
  Object.entries(rows).sort((x, y) => y[1].before + y[1].after - x[1].before - x[1].after),
)
console.log(
  JSON.stringify({
    nodes: options.nodes,
    services: options.services,
    mode: options.mode ?? "iptables",
    everyNodeSyncedAtSimulatedSeconds: syncedAtNs / 1e9,
    warmSimulatedSeconds: warmAtNs / 1e9,
    phases,
    /** CPU per simulated second of the idle wait (the horizon's own cost). */
    idleWaitCpuMicrosecondsPerSimulatedSecond:
      phases[1].untilSimulatedSeconds > warmAtNs / 1e9
        ? Math.round((phases[1].cpuSeconds * 1e6) / (phases[1].untilSimulatedSeconds - warmAtNs / 1e9))
        : 0,
    cpuSeconds: cpu(),
    eventsBefore: totalBefore,
    eventsAfter: totalAfter,
    byKind: sorted,
    fingerprint: scheduler.fingerprint(),
  }),
)
