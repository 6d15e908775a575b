/**
 * Goal: a node whose softirq CPUs saturate holds the received packets in a bounded ingress queue in
 * front of the CPUs and drops the excess THERE, before any netfilter hook runs, as Linux does:
 * a packet from a veth (or lo) joins the per-CPU backlog in enqueue_to_backlog (net/core/dev.c:
 * admitted while the queue holds qlen <= netdev_max_backlog packets, else dropped with
 * SKB_DROP_REASON_CPU_BACKLOG); a packet from a NIC waits in that NIC's per-queue RX ring and is
 * dropped by the NIC when the ring has no free descriptor. Method: a fake filter on the forwarding
 * node costs a fixed 10 us per hook and counts its calls; a burst of UDP datagrams is sent through
 * that node; admitted and dropped packets, hook calls and CPU busy time are counted exactly.
 */
import { describe, expect, it } from "vitest"
import { Hook, RejectWith, Verdict } from "../../src/net/hooks.ts"
import type { PacketFilter } from "../../src/net/hooks.ts"
import { DropReason, dropReasonName } from "../../src/wire/drop-reason.ts"
import type { Packet } from "../../src/wire/packet.ts"
import { decodeScenarioText } from "../../src/scenario/load.ts"
import { formatIssue } from "../../src/scenario/issues.ts"
import { SPEC, UdpLog, run, world } from "./helpers.ts"

const HOOK_COST_NS = 10_000
/** A forwarded packet walks PREROUTING, FORWARD and POSTROUTING on the node. */
const FORWARD_CPU_NS = 3 * HOOK_COST_NS

class CostlyFilter implements PacketFilter {
  lastCostNs = HOOK_COST_NS
  lastDropReason: number = DropReason.NETFILTER_DROP
  lastRejectWith: RejectWith = RejectWith.ICMP_PORT_UNREACHABLE
  prerouting = 0
  calls = 0
  /** When each packet's PREROUTING ran (its arrival at the node). */
  readonly arrivalsNs: number[] = []
  runHook(hook: Hook, _packet: Packet, _in: number, _out: number, nowNs: number): Verdict {
    this.calls++
    if (hook === Hook.PREROUTING) {
      this.prerouting++
      this.arrivalsNs.push(nowNs)
    }
    return Verdict.ACCEPT
  }
}

interface Burst {
  readonly delivered: number
  readonly backlogDrops: number
  readonly rxRingDrops: number
  readonly queueFullDrops: number
  readonly prerouting: number
  readonly hookCalls: number
  /** CPU time charged on the forwarding node: the sum over its CPUs of busy time. */
  readonly cpuBusyNs: number
}

/**
 * `count` datagrams sent at once by a pod on n1 to a pod on n2. `through` = "veth": n1 forwards
 * (they reach it over the pod's veth: the per-CPU backlog); "nic": n2 forwards (they reach it on
 * its fabric NIC: the RX ring). The forwarding node has `cpus` CPUs and the filter.
 */
function burst(
  through: "veth" | "nic",
  cpus: number,
  count: number,
  limits = { netdevMaxBacklog: 5, rxRingSize: 3 },
  queuePacketsMax = SPEC.queuePacketsMax,
): Burst {
  const w = world("aws-vpc", { ...SPEC, queuePacketsMax })
  const n1 = w.cluster.addNode("n1", "a")
  const n2 = w.cluster.addNode("n2", "a")
  const a = w.cluster.addPod(n1, "a")
  const b = w.cluster.addPod(n2, "b")
  const node = through === "veth" ? n1 : n2
  const filter = new CostlyFilter()
  node.ns.filter = filter
  w.net.setNamespaceCpus(node.ns, cpus, limits)
  const server = new UdpLog(w.scheduler)
  w.net.udpBind(b.ns, 0, 5000, server)
  const sock = w.net.udpBind(a.ns, 0, 0, new UdpLog(w.scheduler))
  if (sock === null) throw new Error("bind")
  for (let i = 0; i < count; i++) sock.sendTo(b.ip, 5000, 40, i)
  run(w)
  const counters = w.net.counters.droppedByReason
  // CPU i takes the i-th packet at its arrival (all CPUs idle, the first free first) and never
  // idles after it during the burst: its busy time is its free time minus that arrival.
  const cpuFree = node.ns.cpuFreeAtNs as Float64Array
  let cpuBusyNs = 0
  for (let i = 0; i < cpus; i++) cpuBusyNs += cpuFree[i] - filter.arrivalsNs[i]
  return {
    delivered: server.messages.length,
    backlogDrops: counters[DropReason.BACKLOG],
    rxRingDrops: counters[DropReason.RX_RING],
    queueFullDrops: counters[DropReason.QUEUE_FULL],
    prerouting: filter.prerouting,
    hookCalls: filter.calls,
    cpuBusyNs,
  }
}

describe("ingress backlog in front of the softirq CPUs (net/core/dev.c enqueue_to_backlog)", () => {
  it("from a veth: the per-CPU backlog admits while qlen <= netdev_max_backlog; the rest is dropped before any hook", () => {
    // 2 CPUs: each takes one packet at once and queues netdev_max_backlog + 1 = 6 more.
    const r = burst("veth", 2, 30)
    expect(r.delivered).toBe(2 * (1 + 6))
    expect(r.backlogDrops).toBe(30 - 14)
    expect(r.rxRingDrops).toBe(0)
    // Dropped packets ran no hook and cost no CPU: only the 14 admitted ones were charged.
    expect(r.prerouting).toBe(14)
    expect(r.hookCalls).toBe(14 * 3)
    expect(r.cpuBusyNs).toBe(14 * FORWARD_CPU_NS)
  })

  it("the bound is per CPU, as softnet_data's input_pkt_queue is: one CPU holds half as many", () => {
    const r = burst("veth", 1, 30)
    expect(r.delivered).toBe(1 + 6)
    expect(r.backlogDrops).toBe(30 - 7)
    expect(r.prerouting).toBe(7)
    expect(r.cpuBusyNs).toBe(7 * FORWARD_CPU_NS)
  })

  it("from a NIC: the RX ring (one per CPU) holds rxRingSize packets; the NIC drops the rest (rx-ring)", () => {
    const r = burst("nic", 2, 30)
    expect(r.delivered).toBe(2 * (1 + 3))
    expect(r.rxRingDrops).toBe(30 - 8)
    expect(r.backlogDrops).toBe(0)
    expect(r.prerouting).toBe(8)
    expect(r.cpuBusyNs).toBe(8 * FORWARD_CPU_NS)
  })

  it("a burst the queues can hold loses nothing; the drop reasons have stable names", () => {
    const r = burst("veth", 2, 14)
    expect(r.delivered).toBe(14)
    expect(r.backlogDrops + r.rxRingDrops).toBe(0)
    expect(dropReasonName(DropReason.BACKLOG)).toBe("backlog")
    expect(dropReasonName(DropReason.RX_RING)).toBe("rx-ring")
  })

  it("a packet waiting for a CPU is in the ingress queue, not in the transmit queue of the interface it leaves by", () => {
    // Transmit queue of 5 packets on the NIC (10 Gb/s: 85 ns per datagram, against 15 us of CPU
    // per packet on 2 CPUs): after its CPU work a packet finds the qdisc empty, so nothing is
    // dropped queue-full although 28 of them wait for a CPU at once.
    const r = burst("veth", 2, 30, { netdevMaxBacklog: 100, rxRingSize: 100 }, 5)
    expect(r.queueFullDrops).toBe(0)
    expect(r.backlogDrops).toBe(0)
    expect(r.delivered).toBe(30)
  })

  it("cluster.network.netdevMaxBacklog and rxRingSize reach the spec; a bad value is refused at its field", () => {
    const decode = (network: string): string[] | { netdevMaxBacklog?: number; rxRingSize?: number } => {
      const text = `apiVersion: kube-netsim/v1\nkind: Scenario\nmetadata: { name: t }\ncluster:\n  network: ${network}\n`
      const r = decodeScenarioText("s.yaml", text, () => {
        throw Object.assign(new Error("ENOENT"), { code: "ENOENT" })
      })
      return r.ok ? r.scenario.spec.cluster.network : r.issues.map(formatIssue)
    }
    const ok = decode("{ netdevMaxBacklog: 300, rxRingSize: 256 }")
    expect(ok).toMatchObject({ netdevMaxBacklog: 300, rxRingSize: 256 })
    const bad = decode("{ netdevMaxBacklog: 0 }")
    expect(
      Array.isArray(bad) && bad.length === 1 && bad[0].startsWith("s.yaml:5:32: cluster.network.netdevMaxBacklog:"),
    ).toBe(true)
  })
})

/**
 * `ring` datagrams from a pod on n1 to pod b on n2 (they reach n2 on its fabric NIC: the RX ring)
 * sent at 0, and `backlog` datagrams from pod c on n2 to b (they reach n2's host side over c's
 * veth: the per-CPU backlog) sent at `backlogAtNs`, while n2's one CPU is still busy with the
 * ring's packets (30 us each). Returns the order in which b receives them ("R" ring, "B" backlog)
 * as runs ("R64 B10 R136"), and b's receive times by tag.
 */
function alternation(
  ring: number,
  backlog: number,
  weights: { napiWeight?: number; devRxWeight?: number } = {},
  backlogAtNs = 400_000,
  rxRingSize = 1000,
): { runs: string; atNs: Map<number, number>; rxRingDrops: number } {
  const w = world("aws-vpc")
  const n1 = w.cluster.addNode("n1", "a")
  const n2 = w.cluster.addNode("n2", "a")
  const a = w.cluster.addPod(n1, "a")
  const b = w.cluster.addPod(n2, "b")
  const c = w.cluster.addPod(n2, "c")
  n2.ns.filter = new CostlyFilter()
  w.net.setNamespaceCpus(n2.ns, 1, { netdevMaxBacklog: 1000, rxRingSize, ...weights })
  const server = new UdpLog(w.scheduler)
  w.net.udpBind(b.ns, 0, 5000, server)
  const fromA = w.net.udpBind(a.ns, 0, 0, new UdpLog(w.scheduler))
  const fromC = w.net.udpBind(c.ns, 0, 0, new UdpLog(w.scheduler))
  if (fromA === null || fromC === null) throw new Error("bind")
  for (let i = 0; i < ring; i++) fromA.sendTo(b.ip, 5000, 40, i)
  const kind = w.scheduler.registerKind("test/backlog-burst", {
    handleEvent(): void {
      for (let i = 0; i < backlog; i++) fromC.sendTo(b.ip, 5000, 40, 10_000 + i)
    },
  })
  w.scheduler.schedule(backlogAtNs, kind, 0, 0)
  run(w)
  const runs: string[] = []
  let last = ""
  let count = 0
  for (const m of server.messages) {
    const q = m.tag >= 10_000 ? "B" : "R"
    if (q !== last && count > 0) {
      runs.push(`${last}${count}`)
      count = 0
    }
    last = q
    count++
  }
  if (count > 0) runs.push(`${last}${count}`)
  return {
    runs: runs.join(" "),
    atNs: new Map(server.messages.map((m) => [m.tag, m.atNs])),
    rxRingDrops: w.net.counters.droppedByReason[DropReason.RX_RING],
  }
}

/**
 * Goal: one CPU serves its NIC RX ring and its backlog as net_rx_action serves its poll list
 * (net/core/dev.c): each NAPI instance is polled for up to its weight (NAPI_POLL_WEIGHT 64 for the
 * NIC queue, dev_rx_weight 64 for process_backlog) and then, if it used it all, goes to the tail of
 * the poll list (napi_poll's repoll) behind the instance scheduled meanwhile; one that runs dry
 * leaves the list (napi_complete_done). Method: bursts queued on one CPU of a forwarding node, the
 * order and times at which their receiver gets them (each costs 30 us of the CPU).
 */
describe("NAPI alternation between the RX ring and the backlog (net_rx_action / napi_poll / process_backlog)", () => {
  it("200 ring packets, then 10 backlog packets: the backlog's start after 64 ring packets, not after 200", () => {
    const r = alternation(200, 10)
    expect(r.runs).toBe("R64 B10 R136")
    // Back to back on the CPU: backlog packet i ends (64 + i + 1) x 30 us after ring packet 0
    // began, ring packet 64 after the 10 backlog ones.
    const t0 = r.atNs.get(0) as number
    for (let i = 0; i < 10; i++) expect((r.atNs.get(10_000 + i) as number) - t0).toBe((64 + i) * FORWARD_CPU_NS)
    expect((r.atNs.get(64) as number) - t0).toBe((64 + 10) * FORWARD_CPU_NS)
    expect((r.atNs.get(199) as number) - t0).toBe((200 + 10 - 1) * FORWARD_CPU_NS)
  })

  it("each instance is polled for at most its weight per turn: 200 ring and 100 backlog packets alternate by 64", () => {
    expect(alternation(200, 100).runs).toBe("R64 B64 R64 B36 R72")
  })

  it("the weights are the instances' own: a backlog weight of 4 (dev_weight 4) gives the backlog turns of 4", () => {
    expect(alternation(20, 10, { napiWeight: 8, devRxWeight: 4 }).runs).toBe("R8 B4 R8 B4 R4 B2")
  })

  it("a packet finding its CPU idle and both queues empty starts at once; one instance alone is served FIFO", () => {
    // The backlog burst comes after the ring's 200 packets are done: nothing to alternate with.
    const r = alternation(200, 10, {}, 20_000_000)
    expect(r.runs).toBe("R200 B10")
    const t0 = r.atNs.get(0) as number
    expect((r.atNs.get(199) as number) - t0).toBe(199 * FORWARD_CPU_NS)
  })

  it("packets whose start is decided later still hold their ring descriptor: the bound counts them", () => {
    // 1 started at once + 100 waiting (63 in the first turn, 37 deferred beyond it); 99 dropped.
    const r = alternation(200, 10, {}, 400_000, 100)
    expect(r.rxRingDrops).toBe(99)
    expect(r.runs).toBe("R64 B10 R37")
  })
})
