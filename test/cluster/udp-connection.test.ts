/**
 * The UDP echo client's `connection` field (docs/scenario.md, workloads): `new` opens a new socket,
 * so a new ephemeral source port, per datagram, and every echo is a new flow: a new conntrack entry
 * and a new walk of the nat chains (a random endpoint each time); `keepAlive` keeps one socket, one
 * entry and the one endpoint that entry's DNAT chose. bench/star-udp-echo.ts and
 * bench/compare-ns3.ts measure both variants; this pins that they are what they claim to be.
 */
import { describe, expect, it } from "vitest"
import { World } from "../../src/cluster/index.ts"
import { CtStatus } from "../../src/netfilter/constants.ts"
import { Protocol } from "../../src/wire/protocol.ts"
import { specFromText } from "./helpers.ts"

const ECHOES = 40
const SERVICE_PORT = 5000

function scenario(connection: "new" | "keepAlive"): string {
  return `
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: udp-connection }
seed: 3
duration: 5s
cluster: { nodes: { count: 1 } }
manifests:
  - inline:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: echo }
        spec:
          replicas: 3
          selector: { matchLabels: { app: echo } }
          template:
            metadata: { labels: { app: echo } }
            spec: { containers: [ { name: echo, image: kube-netsim/udp-echo, ports: [ { containerPort: 7000, protocol: UDP } ] } ] }
      - apiVersion: v1
        kind: Service
        metadata: { name: echo }
        spec: { selector: { app: echo }, ports: [ { port: ${SERVICE_PORT}, targetPort: 7000, protocol: UDP } ] }
      - apiVersion: v1
        kind: Pod
        metadata: { name: client }
        spec: { containers: [ { name: c, image: busybox } ] }
workloads:
  - name: echo
    from: pod/client
    to: udp://echo:${SERVICE_PORT}
    arrival: { every: 1ms }
    count: ${ECHOES}
    connection: ${connection}
`
}

/** The run's UDP flows to the Service port on the one node: conntrack entries, source ports, endpoints. */
function flows(connection: "new" | "keepAlive") {
  const world = new World(specFromText(scenario(connection)), 3)
  world.scheduler.run({ timeNsMax: 5e9, eventCountMax: 1e6 })
  const results = world.collector.results(0, world.expectedEndpoints(world.workloads[0]))
  const ct = [...world.nodes.values()][0].filter.conntrack
  const sourcePorts = new Set<number>()
  const endpoints = new Set<number>()
  let entries = 0
  for (const id of ct.ids()) {
    const original = 2 * id
    const reply = original + 1
    if (ct.proto[id] !== Protocol.UDP || ct.dportOf(original) !== SERVICE_PORT) continue
    expect(ct.status[id] & CtStatus.DST_NAT).toBe(CtStatus.DST_NAT)
    entries++
    sourcePorts.add(ct.sportOf(original))
    endpoints.add(ct.srcOf(reply))
  }
  return {
    entries,
    sourcePorts: sourcePorts.size,
    endpoints: endpoints.size,
    sent: results.requests.sent,
    completed: results.requests.completed,
  }
}

describe("UDP echo client connection modes", () => {
  it("new: one conntrack entry (DNATed, its own source port) per echo sent, spread over the endpoints", () => {
    const f = flows("new")
    expect(f.sent).toBe(ECHOES)
    expect(f.completed).toBe(ECHOES)
    expect(f.entries).toBe(ECHOES)
    expect(f.sourcePorts).toBe(ECHOES)
    expect(f.endpoints).toBe(3)
  })

  it("keepAlive: one conntrack entry and one endpoint for all the echoes", () => {
    const f = flows("keepAlive")
    expect(f.sent).toBe(ECHOES)
    expect(f.completed).toBe(ECHOES)
    expect(f.entries).toBe(1)
    expect(f.sourcePorts).toBe(1)
    expect(f.endpoints).toBe(1)
  })
})
