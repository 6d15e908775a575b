/**
 * IptablesProxier: partial/full sync decisions of syncProxyRules (pkg/proxy/iptables/proxier.go):
 * first sync full, unchanged services not rewritten, failures and topology changes force a full
 * sync, periodic full sync, large-cluster stale-chain cleanup throttled to once per syncPeriod.
 */
import { describe, expect, it } from "vitest"
import type { EndpointSlice } from "../../src/k8s/types.ts"
import { IptablesProxier } from "../../src/proxy/iptables/proxier.ts"
import { FAKE_CONFIG, FAKE_NODE, loadManifests } from "./helpers.ts"

const S = 1_000_000_000
const written = (r: { services: readonly { namespacedName: string; chainsWritten: boolean }[] }): string[] => [
  ...new Set(r.services.filter((s) => s.chainsWritten).map((s) => s.namespacedName)),
]

describe("IptablesProxier", () => {
  const { services, slices } = loadManifests("g1-overall.yaml")

  it("decides between full and partial syncs like syncProxyRules", () => {
    const proxier = new IptablesProxier(FAKE_NODE, FAKE_CONFIG)
    const first = proxier.sync(0, services, slices)
    expect(first.fullSync).toBe(true)
    expect(written(first)).toEqual(["ns1/svc1", "ns2/svc2", "ns3/svc3", "ns4/svc4", "ns5/svc5", "ns6/svc6"])

    const idle = proxier.sync(1 * S, services, slices)
    expect(idle.fullSync).toBe(false)
    expect(written(idle)).toEqual([])
    expect(idle.restoreInput).not.toContain(":KUBE-SEP-")

    // Scale svc4 down to one endpoint: only svc4 is rewritten and its old SEP deleted.
    const scaled: EndpointSlice[] = slices.map((s) =>
      s.metadata.name === "svc4-1" ? { ...s, endpoints: s.endpoints.slice(0, 1) } : s,
    )
    const partial = proxier.sync(2 * S, services, scaled)
    expect(written(partial)).toEqual(["ns4/svc4"])
    expect(partial.deletedChains).toEqual(["KUBE-SEP-C6EBXVWJJZMIWKLZ"])

    // A failed restore forces the next sync to be full and forgets the deletion.
    proxier.restoreFailed()
    const retry = proxier.sync(3 * S, services, scaled)
    expect(retry.fullSync).toBe(true)
    expect(retry.deletedChains).toEqual(["KUBE-SEP-C6EBXVWJJZMIWKLZ"])
    expect(proxier.natChains().has("KUBE-SEP-C6EBXVWJJZMIWKLZ")).toBe(false)

    // Node topology change.
    proxier.setNode({ ...FAKE_NODE, labels: { "topology.kubernetes.io/zone": "b" } })
    expect(proxier.sync(4 * S, services, scaled).fullSync).toBe(true)
    expect(proxier.sync(5 * S, services, scaled).fullSync).toBe(false)

    // Periodic full sync (FullSyncPeriod after the last one).
    expect(proxier.sync(4 * S + 3600 * S + 1, services, scaled).fullSync).toBe(true)
  })

  it("throttles stale-chain cleanup in large-cluster mode", () => {
    const proxier = new IptablesProxier(
      FAKE_NODE,
      { ...FAKE_CONFIG, largeClusterEndpointsThreshold: 2 },
      { syncPeriodNs: 30 * S },
    )
    proxier.sync(0, services, slices)
    const without4 = services.filter((s) => s.metadata.name !== "svc4")
    const soon = proxier.sync(1 * S, without4, slices)
    expect(soon.largeClusterMode).toBe(true)
    expect(soon.deletedChains).toEqual([])
    const later = proxier.sync(40 * S, without4, slices)
    expect(later.deletedChains).toEqual([
      "KUBE-EXT-4SW47YFZTEDKD3PK",
      "KUBE-SEP-C6EBXVWJJZMIWKLZ",
      "KUBE-SEP-UKSFD7AGPMPPLUHC",
      "KUBE-SVC-4SW47YFZTEDKD3PK",
    ])
  })
})
