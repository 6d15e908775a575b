/**
 * Applying IPVS syncs: netlink operations in upstream order, kernel head insertion of destinations,
 * graceful termination (weight 0 while connections remain, deletion when drained, UDP/SCTP at once,
 * re-added endpoints moved out of the list), address unbinding and cleanLegacyService.
 * Sources: pkg/proxy/ipvs/proxier.go syncEndpoint/cleanLegacyService, graceful_termination.go.
 */
import { describe, expect, it } from "vitest"
import { compileIpvs } from "../../../src/proxy/ipvs/compile.ts"
import {
  EMPTY_IPVS_NODE_STATE,
  planIpsetSync,
  planIpvsSync,
  sweepGracefulDeletes,
  withConnectionCounts,
} from "../../../src/proxy/ipvs/reconcile.ts"
import type { IpvsNodeState } from "../../../src/proxy/ipvs/reconcile.ts"
import { ipvsadmFromNodeState, printIpvsadm } from "../../../src/proxy/ipvs/print.ts"
import { parseManifests } from "../helpers.ts"
import { FAKE_IPVS_CONFIG, fakeNode } from "./helpers.ts"

function desired(protocol: string, endpoints: string[], clusterIP = "10.20.30.41") {
  const yaml = `
apiVersion: v1
kind: Service
metadata: { name: svc1, namespace: ns1 }
spec: { clusterIP: ${clusterIP}, ports: [ { name: p80, port: 80, protocol: ${protocol} } ] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: svc1-1, namespace: ns1, labels: { kubernetes.io/service-name: svc1 } }
addressType: IPv4
endpoints: [ ${endpoints.map((ip) => `{ addresses: [ ${ip} ] }`).join(", ")} ]
ports: [ { name: p80, port: 80, protocol: ${protocol} } ]
`
  const { services, slices } = parseManifests(yaml)
  return compileIpvs(services, slices, fakeNode([]), FAKE_IPVS_CONFIG)
}

function dests(state: IpvsNodeState, key: string): string[] {
  return (state.virtualServers.get(key)?.realServers ?? []).map((rs) => `${rs.address}:${rs.port} w${rs.weight}`)
}

const KEY = "10.20.30.41:80/TCP"

describe("planIpvsSync", () => {
  it("first sync: adds the VS, binds the ClusterIP, adds destinations at the list head", () => {
    const plan = planIpvsSync(EMPTY_IPVS_NODE_STATE, desired("TCP", ["10.0.1.1", "10.0.1.2"]), { initialSync: true })
    expect(plan.operations).toEqual([
      { op: "addVirtualServer", key: KEY },
      { op: "bindAddress", address: "10.20.30.41" },
      { op: "addRealServer", key: KEY, dest: "10.0.1.1:80", weight: 1 },
      { op: "addRealServer", key: KEY, dest: "10.0.1.2:80", weight: 1 },
    ])
    // list_add_rcu: the last added is first.
    expect(dests(plan.state, KEY)).toEqual(["10.0.1.2:80 w1", "10.0.1.1:80 w1"])
    expect([...plan.state.dummyAddresses]).toEqual(["10.20.30.41"])
  })

  it("an unchanged sync makes no netlink calls", () => {
    const first = planIpvsSync(EMPTY_IPVS_NODE_STATE, desired("TCP", ["10.0.1.1"]), { initialSync: true })
    const again = planIpvsSync(first.state, desired("TCP", ["10.0.1.1"]), { initialSync: false })
    expect(again.operations).toEqual([])
  })

  it("TCP endpoint removed with connections: weight 0, then deleted once drained", () => {
    const first = planIpvsSync(EMPTY_IPVS_NODE_STATE, desired("TCP", ["10.0.1.1", "10.0.1.2"]), { initialSync: true })
    const busy = withConnectionCounts(first.state, (_key, dest) =>
      dest === "10.0.1.1:80" ? { activeConns: 2, inactiveConns: 1 } : undefined,
    )
    const removed = planIpvsSync(busy, desired("TCP", ["10.0.1.2"]), { initialSync: false })
    expect(removed.operations).toEqual([{ op: "updateRealServer", key: KEY, dest: "10.0.1.1:80", weight: 0 }])
    expect(dests(removed.state, KEY)).toEqual(["10.0.1.2:80 w1", "10.0.1.1:80 w0"])
    expect([...removed.state.gracefulDeletes]).toEqual([`${KEY}/10.0.1.1:80`])

    // Still connected at the sweep: kept. A later sync does not touch it again.
    expect(sweepGracefulDeletes(removed.state).operations).toEqual([])
    expect(planIpvsSync(removed.state, desired("TCP", ["10.0.1.2"]), { initialSync: false }).operations).toEqual([])

    const drained = withConnectionCounts(removed.state, () => ({ activeConns: 0, inactiveConns: 0 }))
    const swept = sweepGracefulDeletes(drained)
    expect(swept.operations).toEqual([{ op: "deleteRealServer", key: KEY, dest: "10.0.1.1:80" }])
    expect(dests(swept.state, KEY)).toEqual(["10.0.1.2:80 w1"])
    expect(swept.state.gracefulDeletes.size).toBe(0)
  })

  it("TCP endpoint removed without connections is deleted at once", () => {
    const first = planIpvsSync(EMPTY_IPVS_NODE_STATE, desired("TCP", ["10.0.1.1", "10.0.1.2"]), { initialSync: true })
    const removed = planIpvsSync(first.state, desired("TCP", ["10.0.1.2"]), { initialSync: false })
    expect(removed.operations).toEqual([{ op: "deleteRealServer", key: KEY, dest: "10.0.1.1:80" }])
  })

  it("UDP and SCTP endpoints are deleted at once even with connections", () => {
    for (const protocol of ["UDP", "SCTP"]) {
      const key = `10.20.30.41:80/${protocol}`
      const first = planIpvsSync(EMPTY_IPVS_NODE_STATE, desired(protocol, ["10.0.1.1", "10.0.1.2"]), {
        initialSync: true,
      })
      const busy = withConnectionCounts(first.state, () => ({ activeConns: 0, inactiveConns: 5 }))
      const removed = planIpvsSync(busy, desired(protocol, ["10.0.1.2"]), { initialSync: false })
      expect(removed.operations).toEqual([{ op: "deleteRealServer", key, dest: "10.0.1.1:80" }])
    }
  })

  it("an endpoint coming back while terminating is deleted and added again with weight 1", () => {
    const first = planIpvsSync(EMPTY_IPVS_NODE_STATE, desired("TCP", ["10.0.1.1", "10.0.1.2"]), { initialSync: true })
    const busy = withConnectionCounts(first.state, () => ({ activeConns: 1, inactiveConns: 0 }))
    const removed = planIpvsSync(busy, desired("TCP", ["10.0.1.2"]), { initialSync: false })
    const back = planIpvsSync(removed.state, desired("TCP", ["10.0.1.1", "10.0.1.2"]), { initialSync: false })
    expect(back.operations).toEqual([
      { op: "deleteRealServer", key: KEY, dest: "10.0.1.1:80" },
      { op: "addRealServer", key: KEY, dest: "10.0.1.1:80", weight: 1 },
    ])
    expect(dests(back.state, KEY)).toEqual(["10.0.1.1:80 w1", "10.0.1.2:80 w1"])
    expect(back.state.gracefulDeletes.size).toBe(0)
  })

  it("initial sync resets weights of kept destinations", () => {
    const first = planIpvsSync(EMPTY_IPVS_NODE_STATE, desired("TCP", ["10.0.1.1", "10.0.1.2"]), { initialSync: true })
    const vs = first.state.virtualServers.get(KEY)
    if (vs === undefined) throw new Error("no VS")
    // A restarted kube-proxy finds 10.0.1.1 at weight 0 (left by its predecessor) and no termination list.
    const stale: IpvsNodeState = {
      ...first.state,
      virtualServers: new Map([
        [
          KEY,
          { ...vs, realServers: vs.realServers.map((rs) => ({ ...rs, weight: rs.address === "10.0.1.1" ? 0 : 1 })) },
        ],
      ]),
    }
    const restarted = planIpvsSync(stale, desired("TCP", ["10.0.1.1", "10.0.1.2"]), { initialSync: true })
    // One update per mismatching destination, for each kept endpoint (upstream's loop).
    expect(restarted.operations).toEqual([
      { op: "updateRealServer", key: KEY, dest: "10.0.1.1:80", weight: 1 },
      { op: "updateRealServer", key: KEY, dest: "10.0.1.2:80", weight: 1 },
    ])
    expect(dests(restarted.state, KEY)).toEqual(["10.0.1.2:80 w1", "10.0.1.1:80 w1"])
  })

  it("a deleted service: its VS is removed and its address unbound; excluded CIDRs are kept", () => {
    const a = planIpvsSync(EMPTY_IPVS_NODE_STATE, desired("TCP", ["10.0.1.1"]), { initialSync: true })
    const b = planIpvsSync(a.state, desired("TCP", ["10.0.1.1"], "10.20.30.42"), { initialSync: false })
    expect(b.operations).toEqual([
      { op: "addVirtualServer", key: "10.20.30.42:80/TCP" },
      { op: "bindAddress", address: "10.20.30.42" },
      { op: "addRealServer", key: "10.20.30.42:80/TCP", dest: "10.0.1.1:80", weight: 1 },
      { op: "unbindAddress", address: "10.20.30.41" },
      { op: "deleteVirtualServer", key: KEY },
    ])
    const kept = planIpvsSync(a.state, desired("TCP", ["10.0.1.1"], "10.20.30.42"), {
      initialSync: false,
      excludeCIDRs: ["10.20.30.40/30"],
    })
    expect(kept.state.virtualServers.has(KEY)).toBe(true)
  })

  it("a changed affinity updates the virtual server in place", () => {
    const plain = desired("TCP", ["10.0.1.1"])
    const a = planIpvsSync(EMPTY_IPVS_NODE_STATE, plain, { initialSync: true })
    const sticky = {
      ...plain,
      virtualServers: plain.virtualServers.map((vs) => ({ ...vs, flags: 1, timeoutSeconds: 600 })),
    }
    expect(planIpvsSync(a.state, sticky, { initialSync: false }).operations).toEqual([
      { op: "updateVirtualServer", key: KEY },
    ])
  })
})

describe("planIpsetSync", () => {
  it("creates and lists every set each sync, then deletes stale and adds new entries", () => {
    const first = planIpsetSync(new Map(), desired("TCP", ["10.0.1.1"]).ipsets)
    expect(first.operations.filter((o) => o.op === "create")).toHaveLength(17)
    expect(first.operations.filter((o) => o.op === "list")).toHaveLength(17)
    expect(first.operations.filter((o) => o.op === "add")).toEqual([
      { op: "add", set: "KUBE-CLUSTER-IP", entry: "10.20.30.41,tcp:80" },
      { op: "add", set: "KUBE-IPVS-IPS", entry: "10.20.30.41" },
    ])
    const moved = planIpsetSync(first.sets, desired("TCP", ["10.0.1.1"], "10.20.30.42").ipsets)
    expect(moved.operations.filter((o) => o.op === "add" || o.op === "del")).toEqual([
      { op: "del", set: "KUBE-CLUSTER-IP", entry: "10.20.30.41,tcp:80" },
      { op: "add", set: "KUBE-CLUSTER-IP", entry: "10.20.30.42,tcp:80" },
      { op: "del", set: "KUBE-IPVS-IPS", entry: "10.20.30.41" },
      { op: "add", set: "KUBE-IPVS-IPS", entry: "10.20.30.42" },
    ])
    expect(planIpsetSync(moved.sets, desired("TCP", ["10.0.1.1"], "10.20.30.42").ipsets).operations).toHaveLength(34)
  })
})

describe("ipvsadm of the node state", () => {
  it("lists a terminating destination with weight 0 and its connections", () => {
    const first = planIpvsSync(EMPTY_IPVS_NODE_STATE, desired("TCP", ["10.0.1.1", "10.0.1.2"]), { initialSync: true })
    const busy = withConnectionCounts(first.state, (_key, dest) =>
      dest === "10.0.1.1:80" ? { activeConns: 2, inactiveConns: 1 } : undefined,
    )
    const removed = planIpvsSync(busy, desired("TCP", ["10.0.1.2"]), { initialSync: false })
    expect(printIpvsadm(ipvsadmFromNodeState(removed.state)).split("\n").slice(3)).toEqual([
      "TCP  10.20.30.41:80 rr",
      `  -> ${"10.0.1.1:80".padEnd(28)} Masq    0      2          1         `,
      `  -> ${"10.0.1.2:80".padEnd(28)} Masq    1      0          0         `,
      "",
    ])
  })
})
