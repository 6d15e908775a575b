/**
 * Investigation probe (not model code): which nodes' softirq CPUs saturate and where `queue-full`
 * drops happen in a scenario run. It wraps private Network methods (receive, processed, transmit,
 * drop) from outside, so it reads what the model does without changing it (results identical).
 *
 *   node --max-old-space-size=8192 --import tsx bench/queue-probe.ts SCENARIO.yaml [--until 5.1s] [--refund]
 *
 * Prints, for the nodes with the most packet-processing CPU time: packets processed, CPU ms, mean
 * cost of UDP packets to / from port 5000 (the cluster-scale bench's echo port), the longest wait
 * for a CPU, and queue-full drops in that node's namespace (with the interface they were sent on).
 * `--refund` is a counterfactual, not the model: a packet dropped queue-full at transmit gives back
 * the CPU time it was charged (as if dropped before netfilter ran, like a full RX ring or per-CPU
 * backlog); it prints the workloads' completed and failed counts under that assumption.
 */
import { World } from "../src/cluster/index.ts"
import { Network } from "../src/net/network.ts"
import type { NetInterface, NetNs } from "../src/net/netns.ts"
import { loadScenario } from "../src/scenario/load.ts"
import { DropReason } from "../src/wire/drop-reason.ts"
import type { Packet } from "../src/wire/packet.ts"
import { parseDurationNs } from "../src/scenario/units.ts"

interface Internals {
  packets: Packet[]
  processReadyNs: number
  processedNs: number
  receive(iface: NetInterface, handle: number, nowNs: number): void
  processed(ns: NetNs, costNs: number): void
  transmit(iface: NetInterface, nextHop: number, handle: number): void
  drop(handle: number, reason: number, ns: NetNs): void
}
interface NodeLoad {
  packets: number
  cpuNs: number
  requests: number
  requestCpuNs: number
  replies: number
  replyCpuNs: number
  maxWaitNs: number
  queueFull: Map<string, number>
}

const file = process.argv[2]
if (file === undefined) throw new Error("usage: queue-probe.ts SCENARIO [--until 5.1s] [--refund]")
const untilArg = process.argv.indexOf("--until")
const refund = process.argv.includes("--refund")
const loaded = loadScenario(file)
if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join("; "))
const spec = loaded.scenario.spec
const untilParsed = untilArg > 0 ? parseDurationNs(process.argv[untilArg + 1] ?? "") : spec.durationNs
if (typeof untilParsed === "string") throw new Error(`--until: ${untilParsed}`)
const untilNs = untilParsed

const P = Network.prototype as unknown as Internals
const loads = new Map<string, NodeLoad>()
const loadOf = (name: string): NodeLoad => {
  let l = loads.get(name)
  if (l === undefined) {
    l = {
      packets: 0,
      cpuNs: 0,
      requests: 0,
      requestCpuNs: 0,
      replies: 0,
      replyCpuNs: 0,
      maxWaitNs: 0,
      queueFull: new Map(),
    }
    loads.set(name, l)
  }
  return l
}
let receiving = -1
let sendingOn: NetInterface | null = null
let charged: { cpus: Float64Array; index: number; before: number; after: number } | null = null
let refunded = 0
const { receive, processed, transmit, drop } = P
P.receive = function (this: Internals, iface, handle, nowNs) {
  receiving = handle
  receive.call(this, iface, handle, nowNs)
  receiving = -1
}
P.processed = function (this: Internals, ns, costNs) {
  const cpus = ns.cpuFreeAtNs
  const before = cpus === null ? null : Float64Array.from(cpus)
  processed.call(this, ns, costNs)
  charged = null
  if (cpus !== null && before !== null)
    for (let i = 0; i < cpus.length; i++)
      if (cpus[i] !== before[i]) charged = { cpus, index: i, before: before[i], after: cpus[i] }
  if (!ns.name.startsWith("node/")) return
  const l = loadOf(ns.name)
  l.packets++
  l.cpuNs += costNs
  const p = receiving >= 0 ? this.packets[receiving] : undefined
  if (p?.dstPort === 5000) {
    l.requests++
    l.requestCpuNs += costNs
  } else if (p?.srcPort === 5000) {
    l.replies++
    l.replyCpuNs += costNs
  }
  const waitNs = this.processedNs - this.processReadyNs - costNs
  if (waitNs > l.maxWaitNs) l.maxWaitNs = waitNs
}
P.transmit = function (this: Internals, iface, nextHop, handle) {
  sendingOn = iface
  transmit.call(this, iface, nextHop, handle)
  sendingOn = null
}
P.drop = function (this: Internals, handle, reason, ns) {
  if (reason === DropReason.QUEUE_FULL) {
    const l = loadOf(ns.name)
    const where = sendingOn === null ? "?" : sendingOn.name
    l.queueFull.set(where, (l.queueFull.get(where) ?? 0) + 1)
    if (
      refund &&
      charged !== null &&
      charged.cpus === ns.cpuFreeAtNs &&
      charged.cpus[charged.index] === charged.after
    ) {
      charged.cpus[charged.index] = charged.before
      refunded++
    }
    charged = null
  }
  drop.call(this, handle, reason, ns)
}

const world = new World(spec, spec.seed, { lazyPods: true })
const scheduler = world.scheduler
for (let t = 0; t < untilNs;) {
  t = Math.min(untilNs, t + 10_000_000)
  const outcome = scheduler.run({ timeNsMax: t, eventCountMax: Number.MAX_SAFE_INTEGER })
  if (outcome.reason === "empty" || outcome.reason === "stopped") break
  scheduler.nowNs = t
}
const us = (ns: number, n: number): number => Number((ns / Math.max(1, n) / 1e3).toFixed(1))
const top = [...loads.entries()].sort((a, b) => b[1].cpuNs - a[1].cpuNs).slice(0, 12)
for (const [name, l] of top)
  console.log(
    name,
    JSON.stringify({
      packets: l.packets,
      cpuMs: Number((l.cpuNs / 1e6).toFixed(1)),
      requests: l.requests,
      requestCpuUs: us(l.requestCpuNs, l.requests),
      replies: l.replies,
      replyCpuUs: us(l.replyCpuNs, l.replies),
      maxWaitMs: Number((l.maxWaitNs / 1e6).toFixed(1)),
      queueFull: Object.fromEntries(l.queueFull),
    }),
  )
const byReason = (world.network as unknown as { counters: { droppedByReason: Float64Array } }).counters.droppedByReason
console.log(
  "drops",
  JSON.stringify({ queueFull: byReason[DropReason.QUEUE_FULL], noSocket: byReason[DropReason.NO_SOCKET] }),
)
if (refund) console.log("refunded", refunded)
for (const w of world.collector.workloads)
  console.log("workload", JSON.stringify({ completed: w.completed, failed: w.failed }))
