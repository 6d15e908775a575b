/**
 * Goal: the UDP conntrack race at scenario level (dns.md §4). A pod sends two DNS queries back to
 * back from one socket to the kube-dns ClusterIP (glibc's A + AAAA pair) with two CoreDNS
 * endpoints behind kube-proxy's random DNAT. With `cluster.conntrack.raceProbability: 1` the second
 * datagram reaches the node while the first is still in the hooks: before 4.19 every second
 * datagram is dropped (insert_failed, drop reason conntrack-insert-failed), 4.19 and 5.0 lose only
 * the pairs they cannot merge (5.0 merges every same-endpoint pair), clash-insert answers all.
 * Without the setting (probability 0) the pair never races, whatever the fix level.
 */
import { describe, expect, it } from "vitest"
import { World } from "../../src/cluster/world.ts"
import type { UdpListener, UdpSocket } from "../../src/net/udp.ts"
import { NS_PER_S } from "../../src/sim/time.ts"
import { DropReason } from "../../src/wire/drop-reason.ts"
import { dnsQuery, DnsType, encodedLengthBytes, type DnsMessage } from "../../src/wire/dns.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import type { Packet } from "../../src/wire/packet.ts"
import { RACE_FIXES, type RaceFix } from "../../src/netfilter/conntrack.ts"
import { specFromText } from "./helpers.ts"

function yaml(conntrack: string): string {
  return `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: conntrack-race }
seed: 3
duration: 10s
cluster:
  nodes: { count: 2 }
  # Constant costs: the pair's timing (the second datagram inside the first one's hooks) is the subject.
  network: { profile: constant }
${conntrack}
manifests:
  - inline:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: coredns, namespace: kube-system }
        spec:
          replicas: 2
          selector: { matchLabels: { k8s-app: kube-dns } }
          template:
            metadata: { labels: { k8s-app: kube-dns } }
            spec:
              containers:
                - name: coredns
                  image: registry.k8s.io/coredns/coredns:v1.11.3
                  ports:
                    - { containerPort: 53, name: dns, protocol: UDP }
                    - { containerPort: 53, name: dns-tcp, protocol: TCP }
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec: { clusterIP: 10.96.0.80, selector: { app: web }, ports: [ { port: 80, targetPort: 8080 } ] }
      - apiVersion: v1
        kind: Pod
        metadata: { name: client }
        spec: { containers: [ { name: c, image: busybox } ] }
workloads:
  - { name: noop, from: pod/client, to: "http://10.96.0.80:80/", count: 1, start: 9s, timeout: 1s }
`
}

class Replies implements UdpListener {
  readonly ids: number[] = []
  onUdpMessage(_socket: UdpSocket, packet: Packet): void {
    this.ids.push((packet.appData as DnsMessage).id)
  }
  onUdpError(): void {}
}

const PAIRS = 24

interface Outcome {
  /** Replies per pair (0..2). */
  answered: number[]
  insertFailed: number
  clashResolved: number
  droppedInsertFailed: number
}

/** PAIRS sockets, each sending an A and an AAAA query at the same instant, 10 ms apart. */
function run(conntrack: string): Outcome {
  const world = new World(specFromText(yaml(conntrack)), 3)
  world.scheduler.run({ timeNsMax: 5 * NS_PER_S, eventCountMax: 50_000_000 })
  const client = world.pods.get("default/client") ?? expect.fail("client pod")
  const log = new Replies()
  const sockets: UdpSocket[] = []
  for (let i = 0; i < PAIRS; i++) sockets.push(world.network.udpBind(client.ns, 0, 0, log) ?? expect.fail("no port"))
  for (let i = 0; i < PAIRS; i++) {
    for (const [id, type] of [
      [2 * i, DnsType.A],
      [2 * i + 1, DnsType.AAAA],
    ] as const) {
      const q = dnsQuery(id, "web.default.svc.cluster.local", type)
      sockets[i].sendTo(ipv4("10.96.0.10"), 53, encodedLengthBytes(q), q.id, q)
    }
    world.scheduler.run({ timeNsMax: 5 * NS_PER_S + (i + 1) * 10_000_000, eventCountMax: 50_000_000 })
  }
  world.scheduler.run({ timeNsMax: 7 * NS_PER_S, eventCountMax: 50_000_000 })
  const answered = new Array<number>(PAIRS).fill(0)
  for (const id of log.ids) answered[id >> 1]++
  let insertFailed = 0
  let clashResolved = 0
  for (const node of world.nodes.values()) {
    const stats = node.filter.conntrack.stats()
    insertFailed += stats.insertFailed
    clashResolved += stats.clashResolved
  }
  const droppedInsertFailed = world.network.counters.droppedByReason[DropReason.CONNTRACK_INSERT_FAILED]
  return { answered, insertFailed, clashResolved, droppedInsertFailed }
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)

describe("conntrack race: an A + AAAA pair from one socket to the kube-dns ClusterIP", () => {
  const outcome = new Map<RaceFix, Outcome>()
  for (const fix of RACE_FIXES) outcome.set(fix, run(`  conntrack: { raceFix: "${fix}", raceProbability: 1 }`))

  it("before 4.19 the second datagram of every pair is dropped with insert_failed", () => {
    const o = outcome.get("none") as Outcome
    expect(o.answered).toEqual(new Array(PAIRS).fill(1))
    expect(o.droppedInsertFailed).toBe(PAIRS)
    expect(o.insertFailed).toBeGreaterThanOrEqual(PAIRS)
  })

  it("4.19 and 5.0 lose only pairs they cannot merge; 5.0 merges at least as many; clash-insert answers every query", () => {
    const a = outcome.get("4.19") as Outcome
    const b = outcome.get("5.0") as Outcome
    const c = outcome.get("clash-insert") as Outcome
    for (const o of [a, b]) {
      expect(o.answered.every((n) => n >= 1 && n <= 2)).toBe(true)
      // Every lost datagram is a conntrack-insert-failed drop; every clash was counted.
      expect(o.droppedInsertFailed).toBe(2 * PAIRS - sum(o.answered))
      expect(o.insertFailed).toBeGreaterThanOrEqual(o.droppedInsertFailed)
    }
    // Random DNAT over two endpoints: some pairs split (lost before clash-insert), some do not.
    expect(b.answered.some((n) => n === 1)).toBe(true)
    expect(b.answered.some((n) => n === 2)).toBe(true)
    expect(sum(b.answered)).toBeGreaterThanOrEqual(sum(a.answered))
    expect(c.answered).toEqual(new Array(PAIRS).fill(2))
    expect(c.insertFailed).toBe(0)
    expect(c.droppedInsertFailed).toBe(0)
    expect(c.clashResolved).toBeGreaterThanOrEqual(PAIRS)
  })

  it("without concurrency (the default) the pair never races, even on a kernel without the fixes", () => {
    for (const setting of ["", `  conntrack: { raceFix: none }`]) {
      const o = run(setting)
      expect(o.answered).toEqual(new Array(PAIRS).fill(2))
      expect(o.insertFailed + o.clashResolved + o.droppedInsertFailed).toBe(0)
    }
  })
})
