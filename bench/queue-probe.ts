/**
 * Investigation probe (not model code): which nodes' softirq CPUs saturate and where their packets
 * are dropped in a scenario run. It wraps private Network methods (receive, processed, napiStart,
 * napiFinish, transmit, drop) from outside, so it reads what the model does without changing it
 * (results identical).
 *
 *   node --max-old-space-size=8192 --import tsx bench/queue-probe.ts SCENARIO.yaml [--until 5.1s]
 *
 * Prints, for the nodes with the most packet-processing CPU time: packets processed, CPU ms, mean
 * cost of UDP packets to / from port 5000 (the cluster-scale bench's echo port), the longest wait
 * for a CPU, the ingress drops in front of the CPUs (`backlog`: the per-CPU backlog after a veth or
 * lo; `rx-ring`: the NIC's RX ring; by the interface the packet arrived on: dropped before any hook,
 * they cost no CPU) and `queue-full` drops at transmit (by the interface sent on: those were
 * charged their CPU time). The former `--refund` counterfactual (a queue-full packet given its CPU
 * time back) is gone: the model now drops an overloaded node's excess before the work, which is
 * what that counterfactual approximated.
 */
import { World } from "../src/cluster/index.ts"
import { Network } from "../src/net/network.ts"
import type { NetInterface, NetNs } from "../src/net/netns.ts"
import { loadScenario } from "../src/scenario/load.ts"
import { DropReason, dropReasonName } from "../src/wire/drop-reason.ts"
import type { Packet } from "../src/wire/packet.ts"
import { parseDurationNs } from "../src/scenario/units.ts"

interface Internals {
  packets: Packet[]
  processReadyNs: number
  processedNs: number
  receive(iface: NetInterface, handle: number, nowNs: number): void
  processed(ns: NetNs, costNs: number): void
  napiStart(
    ns: NetNs,
    ingress: unknown,
    cpu: number,
    kind: number,
    bounded: boolean,
    costNs: number,
    handle: number,
    outIfIndex: number,
    nextHop: number,
  ): boolean
  napiFinish(ns: NetNs, handle: number, outIfIndex: number, nextHop: number, endNs: number): void
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
  ingress: Map<string, number>
}

const file = process.argv[2]
if (file === undefined) throw new Error("usage: queue-probe.ts SCENARIO [--until 5.1s]")
const untilArg = process.argv.indexOf("--until")
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
      ingress: new Map(),
    }
    loads.set(name, l)
  }
  return l
}
let receiving = -1
let receivingOn: NetInterface | null = null
let sendingOn: NetInterface | null = null
const { receive, processed, napiStart, napiFinish, transmit, drop } = P
P.receive = function (this: Internals, iface, handle, nowNs) {
  receiving = handle
  receivingOn = iface
  receive.call(this, iface, handle, nowNs)
  receiving = -1
  receivingOn = null
}
/** A packet's work on a node's CPU: counted, and its wait for the CPU (when its start is known). */
const account = (self: Internals, ns: NetNs, costNs: number, waitNs: number): void => {
  if (!ns.name.startsWith("node/")) return
  const l = loadOf(ns.name)
  l.packets++
  l.cpuNs += costNs
  const p = receiving >= 0 ? self.packets[receiving] : undefined
  if (p?.dstPort === 5000) {
    l.requests++
    l.requestCpuNs += costNs
  } else if (p?.srcPort === 5000) {
    l.replies++
    l.replyCpuNs += costNs
  }
  if (waitNs > l.maxWaitNs) l.maxWaitNs = waitNs
}
P.processed = function (this: Internals, ns, costNs) {
  processed.call(this, ns, costNs)
  account(this, ns, costNs, this.processedNs - this.processReadyNs - costNs)
}
// With ingress queues the CPU serves packets in NAPI order (net/backlog.ts): a packet deferred
// there has its wait measured when its CPU picks it (napiFinish, with its end).
const deferred = new Map<number, { readyNs: number; costNs: number }>()
P.napiStart = function (this: Internals, ns, ingress, cpu, kind, bounded, costNs, handle, outIfIndex, nextHop) {
  const readyNs = this.processReadyNs
  const started = napiStart.call(this, ns, ingress, cpu, kind, bounded, costNs, handle, outIfIndex, nextHop)
  if (started) account(this, ns, costNs, this.processedNs - readyNs - costNs)
  else {
    account(this, ns, costNs, 0)
    deferred.set(handle, { readyNs, costNs })
  }
  return started
}
P.napiFinish = function (this: Internals, ns, handle, outIfIndex, nextHop, endNs) {
  const d = deferred.get(handle)
  if (d !== undefined && ns.name.startsWith("node/")) {
    deferred.delete(handle)
    const l = loadOf(ns.name)
    const waitNs = endNs - d.readyNs - d.costNs
    if (waitNs > l.maxWaitNs) l.maxWaitNs = waitNs
  }
  napiFinish.call(this, ns, handle, outIfIndex, nextHop, endNs)
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
  } else if (reason === DropReason.BACKLOG || reason === DropReason.RX_RING) {
    const l = loadOf(ns.name)
    const where = `${receivingOn === null ? "?" : receivingOn.name} ${dropReasonName(reason)}`
    l.ingress.set(where, (l.ingress.get(where) ?? 0) + 1)
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
      ingressDrops: Object.fromEntries(l.ingress),
      queueFull: Object.fromEntries(l.queueFull),
    }),
  )
const byReason = (world.network as unknown as { counters: { droppedByReason: Float64Array } }).counters.droppedByReason
console.log(
  "drops",
  JSON.stringify({
    backlog: byReason[DropReason.BACKLOG],
    rxRing: byReason[DropReason.RX_RING],
    queueFull: byReason[DropReason.QUEUE_FULL],
    noSocket: byReason[DropReason.NO_SOCKET],
  }),
)
for (const w of world.collector.workloads)
  console.log("workload", JSON.stringify({ completed: w.completed, failed: w.failed }))
