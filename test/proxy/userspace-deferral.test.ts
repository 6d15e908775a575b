/**
 * userspace mode: idle nodes' proxiers deferred along the cluster's journal (proxy/userspace/
 * deferral.ts). The reference is the same run with every node doing its own work at once
 * (`World` option deferIdleUserspace: false): the run fingerprint (every dispatched event), every
 * node's `rules` printout (its iptables-save with its own proxy ports, then its proxy's ports,
 * endpoints in its shuffled order and round-robin positions) and the requests' results must be the
 * same, whatever needs a node's ports first: a packet, a bind in its namespace, a printout, a step
 * it cannot share.
 */
import { describe, expect, it } from "vitest"
import { World } from "../../src/cluster/index.ts"
import { UserspaceBackend } from "../../src/cluster/backend-userspace.ts"
import { specFromText } from "../cluster/helpers.ts"
import { clusterScaleYaml } from "../../bench/cluster-scale.ts"

const S = 1_000_000_000

interface Outcome {
  readonly fingerprint: string
  readonly rules: string[]
  readonly completed: number[]
  readonly world: World
}

function run(yaml: string, defer: boolean, untilNs?: number, before?: (world: World) => void): Outcome {
  const spec = specFromText(yaml)
  const world = new World(spec, spec.seed, { deferIdleUserspace: defer })
  before?.(world)
  world.scheduler.run({ timeNsMax: untilNs ?? spec.durationNs, eventCountMax: 50_000_000 })
  // The fingerprint before anything is printed (printing a deferred node replays it, which must
  // not change what comes after either: checked by the printouts' equality below).
  const fingerprint = world.scheduler.fingerprint()
  const completed = world.workloads.map((w) => world.collector.results(w.index, []).requests.completed)
  const rules = [...world.nodes.values()].map((n) => `${n.name}\n${n.proxy.rules(false)}`)
  return { fingerprint, rules, completed, world }
}

function deferredNodes(world: World): number {
  let count = 0
  for (const n of world.nodes.values()) if ((n.proxy.backend as UserspaceBackend).proxier.deferred) count++
  return count
}

function expectSame(a: Outcome, b: Outcome): void {
  expect(a.fingerprint).toBe(b.fingerprint)
  expect(a.completed).toEqual(b.completed)
  expect(a.rules).toEqual(b.rules)
}

/** Six nodes; UDP and TCP Services; one client pod; Services and Deployments changed over time. */
function scenario(kubeProxy: string, extraManifests = "", timeline = ""): string {
  return `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: us-deferral }
seed: 7
duration: 6s
cluster:
  nodes: { count: 6 }
dns: { mode: static }
kubeProxy: ${kubeProxy}
manifests:
  - inline:
      - { apiVersion: apps/v1, kind: Deployment, metadata: { name: echo }, spec: { replicas: 3, selector: { matchLabels: { app: echo } }, template: { metadata: { labels: { app: echo } }, spec: { containers: [{ name: echo, image: kube-netsim/udp-echo, ports: [{ containerPort: 5000, protocol: UDP }] }] } } } }
      - { apiVersion: v1, kind: Service, metadata: { name: echo }, spec: { selector: { app: echo }, ports: [{ name: u, port: 5000, targetPort: 5000, protocol: UDP }] } }
      - { apiVersion: apps/v1, kind: Deployment, metadata: { name: web }, spec: { replicas: 2, selector: { matchLabels: { app: web } }, template: { metadata: { labels: { app: web } }, spec: { containers: [{ name: web, image: nginx, ports: [{ containerPort: 8080 }] }] } } } }
      - { apiVersion: v1, kind: Service, metadata: { name: web }, spec: { selector: { app: web }, ports: [{ name: http, port: 80, targetPort: 8080 }] } }
      - { apiVersion: v1, kind: Service, metadata: { name: spare }, spec: { selector: { app: echo }, ports: [{ port: 6000, targetPort: 5000, protocol: UDP }] } }
      - { apiVersion: v1, kind: Pod, metadata: { name: client }, spec: { containers: [{ name: c, image: busybox, command: [sleep, "3600"] }] } }
${extraManifests}workloads:
  - { name: udp, from: pod/client, to: "udp://echo:5000", arrival: { every: 50ms }, count: 40, connection: new, requestBytes: 100, timeout: 500ms }
  - { name: tcp, from: pod/client, to: "http://web:80", arrival: { every: 100ms }, count: 20, timeout: 1s }
timeline:
  - { at: 1s, scale: deployment/echo, replicas: 5 }
  - at: 1500ms
    apply:
      inline: { apiVersion: v1, kind: Service, metadata: { name: spare }, spec: { selector: { app: echo }, ports: [{ port: 6001, targetPort: 5000, protocol: UDP }] } }
  - { at: 2500ms, delete: service/spare }
  - { at: 3s, scale: deployment/web, replicas: 1 }
${timeline}`
}

describe("userspace mode: idle nodes' proxiers deferred (deferral.ts)", () => {
  it("gives the same run as every node doing its own work: events, printouts, results; nodes no packet reached stay deferred", () => {
    const yaml = scenario("{ mode: userspace }")
    const deferred = run(yaml, true)
    const eager = run(yaml, false)
    expectSame(deferred, eager)
    expect(deferred.completed.reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    // The printouts above replayed every node; before them, nodes whose namespace no packet or
    // bind reached were still deferred. Run again and look before printing.
    const spec = specFromText(yaml)
    const world = new World(spec, spec.seed)
    world.scheduler.run({ timeNsMax: spec.durationNs, eventCountMax: 50_000_000 })
    const idle = deferredNodes(world)
    expect(idle).toBeGreaterThan(0)
    expect(idle).toBeLessThan(6)
    expect(deferredNodes(eager.world)).toBe(0)
  })

  it("replays at any instant a reader asks: printing a node mid-run changes nothing after", () => {
    const yaml = scenario("{ mode: userspace }")
    const eager = run(yaml, false)
    for (const atNs of [1, 1.2 * S, 1.6 * S, 2.7 * S]) {
      const spec = specFromText(yaml)
      const world = new World(spec, spec.seed)
      world.scheduler.run({ timeNsMax: atNs, eventCountMax: 50_000_000 })
      // A printout replays every node now (some mid-sync: a plan made, not yet committed).
      for (const n of world.nodes.values()) n.proxy.rules(true)
      expect(deferredNodes(world)).toBe(0)
      world.scheduler.run({ timeNsMax: spec.durationNs, eventCountMax: 50_000_000 })
      expect(world.scheduler.fingerprint(), `printed at ${atNs} ns`).toBe(eager.fingerprint)
    }
  })

  it("with a --proxy-port-range (the range allocator draws from the proxier's stream): the same run", () => {
    const yaml = scenario(`{ mode: userspace, userspace: { proxyPortRange: "36000-36050" } }`)
    expectSame(run(yaml, true), run(yaml, false))
  })

  it("a NodePort's filter rule names each node's proxy port: nodes replay at that sync, with the same run", () => {
    const nodePort = `      - { apiVersion: v1, kind: Service, metadata: { name: np }, spec: { type: NodePort, selector: { app: web }, ports: [{ port: 81, targetPort: 8080, nodePort: 30081 }] } }\n`
    const yaml = scenario("{ mode: userspace }", "", "")
    const withNodePort = yaml.replace("workloads:", `  - inline:\n${nodePort.replace(/^ {6}/, "      ")}workloads:`)
    const deferred = run(withNodePort, true)
    expectSame(deferred, run(withNodePort, false))
    expect(deferred.rules.join("\n")).toContain("KUBE-NODEPORT-NON-LOCAL -m comment --comment default/np")
  })

  it("a portal on one of the node's own addresses (an external IP) is claimed per node: that node replays, the same run", () => {
    const yaml = scenario("{ mode: userspace }")
    // The external IP is node-3's own address (known once a world is built). Two Services claim
    // it on the same port: on node-3 the second one's portal is cut there (claimPortal's conflict),
    // on the other nodes it is not a local address and both get every rule.
    const probe = run(yaml, false, 1)
    const ip = (probe.world.nodes.get("node-3")?.proxy.backend as UserspaceBackend).proxier.hostIP
    const claimed = yaml
      .replace(
        "ports: [{ port: 6000, targetPort: 5000, protocol: UDP }] } }",
        `externalIPs: [${ip}], ports: [{ port: 6000, targetPort: 5000, protocol: UDP }] } }`,
      )
      .replace(
        "workloads:",
        `  - inline:\n      - { apiVersion: v1, kind: Service, metadata: { name: twin }, spec: { selector: { app: echo }, externalIPs: [${ip}], ports: [{ port: 6000, targetPort: 5000, protocol: UDP }] } }\nworkloads:`,
      )
    const deferred = run(claimed, true)
    expectSame(deferred, run(claimed, false))
    const node3 = deferred.rules.find((r) => r.startsWith("node-3\n")) ?? ""
    const node2 = deferred.rules.find((r) => r.startsWith("node-2\n")) ?? ""
    const externalRules = (text: string): number => text.split("\n").filter((l) => l.includes(`-d ${ip}/32`)).length
    expect(externalRules(node3)).toBeLessThan(externalRules(node2))
  })

  it("a hostNetwork client in a deferred node's namespace: the node binds its ports before the client's ephemeral port, the same run", () => {
    const hostClient = `  - inline:\n      - { apiVersion: v1, kind: Pod, metadata: { name: hostclient }, spec: { hostNetwork: true, nodeName: node-4, containers: [{ name: c, image: busybox, command: [sleep, "3600"] }] } }\n`
    const workload = `  - { name: host, from: pod/hostclient, to: "udp://echo:5000", arrival: { every: 100ms }, count: 10, connection: new, requestBytes: 100, timeout: 500ms }\n`
    const yaml = scenario("{ mode: userspace }").replace("workloads:\n", `${hostClient}workloads:\n${workload}`)
    const deferred = run(yaml, true)
    expectSame(deferred, run(yaml, false))
    expect(deferred.completed[0]).toBeGreaterThan(0)
  })

  it("at 2 and 8 nodes of the bench's generated cluster: the journal's steps are made once, each node takes them, the same run", () => {
    const made: number[] = []
    for (const nodes of [2, 8]) {
      const yaml = clusterScaleYaml({
        nodes,
        services: 12,
        pods: 12,
        clients: 2,
        workloads: 2,
        count: 2,
        duration: "2s",
        mode: "userspace",
      })
      const spec = specFromText(yaml)
      const world = new World(spec, spec.seed)
      world.scheduler.run({ timeNsMax: spec.durationNs, eventCountMax: 50_000_000 })
      const journal = world.sharedProxy.userspaceJournal(world.network)
      if (journal === null) throw new Error("expected a journal")
      made.push(journal.stepsMade)
      // Every node took every step (made by the first, found by the others).
      expect(journal.stepsTaken).toBe(journal.stepsMade * (nodes - 1))
      // Only nodes that a packet reached replayed: at most the 2 clients' nodes.
      expect(journal.nodesReplayed).toBeGreaterThan(0)
      expect(journal.nodesReplayed).toBeLessThanOrEqual(2)
      expect(deferredNodes(world)).toBe(nodes - journal.nodesReplayed)
      // A deferred node holds nothing per service port: no port bound in its namespace, no NAT
      // parameter, while it serves (in the journal's shape) every one of the 16 service ports.
      for (const n of world.nodes.values()) {
        const proxier = (n.proxy.backend as UserspaceBackend).proxier
        expect(proxier.servicePortCount).toBe(16)
        if (!proxier.deferred) continue
        expect(proxier.ns.udpSockets.size + proxier.ns.tcpListeners.size).toBe(0)
        expect(n.filter.natParams.size).toBe(0)
      }
      const fingerprint = world.scheduler.fingerprint()
      expect(fingerprint).toBe(run(yaml, false).fingerprint)
    }
    expect(made[1]).toBe(made[0])
  })
})
