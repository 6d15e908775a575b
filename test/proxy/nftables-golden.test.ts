/**
 * Golden tests for the nftables proxier: upstream kube-proxy's nftables unit-test expectations
 * reproduce byte for byte in the form upstream compares them (sortNFTablesTransaction of the
 * expected text vs of knftables' Fake.Dump()). Sources: kubernetes/kubernetes
 * pkg/proxy/nftables/proxier_test.go @ 030880a5 (era A), transcribed in
 * ../shared/reference/proxy-modes.md §2.2-2.5: G-NFT-A1 TestOverallNFTablesRules (base part; the
 * per-service part is kept back upstream-side as an acceptance check), G-NFT-A2
 * TestSyncProxyRulesRepeated (every step, with its NumOperations), G-NFT-A3
 * TestSyncProxyRulesStartup, G-NFT-A4 TestBadIPs. Inputs are the manifests under
 * scenarios/golden/manifests/nft/, expected texts under scenarios/golden/expected/nft/.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { compileNftablesFromObjects } from "../../src/proxy/nftables/compile.ts"
import { NftablesProxier } from "../../src/proxy/nftables/proxier.ts"
import { sortNftablesTransaction } from "../../src/proxy/nftables/sort.ts"
import { NftTable } from "../../src/proxy/nftables/table.ts"
import { parseManifests } from "./helpers.ts"
import { FAKE_NFT_CONFIG, FAKE_NFT_NODE } from "./nft-helpers.ts"

const ROOT = join(import.meta.dirname, "..", "..")
const MANIFESTS = join(ROOT, "scenarios", "golden", "manifests", "nft")
const EXPECTED = join(ROOT, "scenarios", "golden", "expected", "nft")

const manifests = (name: string) => parseManifests(readFileSync(join(MANIFESTS, name), "utf8"))
const expected = (name: string): string => readFileSync(join(EXPECTED, name), "utf8")
const BASE_RULES = expected("base-rules.nft")

/** assertNFTablesTransactionEqual. */
function expectSameTransaction(actualDump: string, expectedText: string): void {
  expect(sortNftablesTransaction(actualDump)).toBe(sortNftablesTransaction(expectedText))
}

/** The objects kube-proxy's informers hold, keyed as the API server keys them. */
class ObjectStore {
  private readonly objects = new Map<string, Service | EndpointSlice>()
  apply(...objects: (Service | EndpointSlice)[]): void {
    for (const o of objects) this.objects.set(`${o.kind}/${o.metadata.namespace}/${o.metadata.name}`, o)
  }
  delete(kind: string, namespace: string, name: string): void {
    this.objects.delete(`${kind}/${namespace}/${name}`)
  }
  services(): Service[] {
    return [...this.objects.values()].filter((o): o is Service => o.kind === "Service")
  }
  slices(): EndpointSlice[] {
    return [...this.objects.values()].filter((o): o is EndpointSlice => o.kind === "EndpointSlice")
  }
}

describe("golden nftables dumps (era A)", () => {
  it("G-NFT-A1 TestOverallNFTablesRules: the base part is baseRules, byte for byte", () => {
    const { services, slices } = manifests("a1-overall.yaml")
    const table = new NftTable("ip", "kube-proxy")
    const result = compileNftablesFromObjects(services, slices, FAKE_NFT_NODE, FAKE_NFT_CONFIG, {
      fullSync: true,
      recreateBaseChains: true,
    })
    table.apply(result.ops)
    // The per-service part: chains, sets and rules with "/" or "affinity-" in their name, and the
    // elements of the per-service sets and maps. Everything else must be baseRules exactly.
    const perService = (line: string): boolean => {
      const words = line.split(" ")
      const name = words[4] ?? ""
      if (name.includes("/") || name.startsWith("affinity-")) return true
      return words[1] === "element" && name !== "nodeport-ips"
    }
    const baseOnly = table
      .dump()
      .split("\n")
      .filter((line) => !perService(line))
      .join("\n")
    expectSameTransaction(baseOnly, BASE_RULES)
    // And the services are there: 6 ClusterIPs (svc6 has no endpoints but still its ClusterIP).
    expect(table.elements("cluster-ips")?.map((e) => e.key[0])).toEqual([
      "172.30.0.41",
      "172.30.0.42",
      "172.30.0.43",
      "172.30.0.44",
      "172.30.0.45",
      "172.30.0.46",
    ])
  })

  it("G-NFT-A2 TestSyncProxyRulesRepeated: every step's dump and operation count", () => {
    const initial = manifests("a2-initial.yaml")
    const steps = manifests("a2-steps.yaml")
    const step = (name: string): Service | EndpointSlice => {
      const found = [...steps.services, ...steps.slices].find(
        (o) => o.metadata.annotations?.["golden.kube-netsim/step"] === name,
      )
      if (found === undefined) throw new Error(`no step object ${name}`)
      return found
    }
    const store = new ObjectStore()
    store.apply(...initial.services, ...initial.slices)
    const fp = new NftablesProxier(FAKE_NFT_NODE, FAKE_NFT_CONFIG)
    let nowNs = 0
    const sync = () => {
      nowNs += 1_000_000 // syncs in a unit test are milliseconds apart
      const result = fp.sync(nowNs, store.services(), store.slices())
      expect(result.error).toBeNull()
      return result
    }
    // ageStaleChains(): every stale chain looks 2 s older, i.e. 2 s pass with no sync.
    const ageStaleChains = () => {
      nowNs += 2_000_000_000
    }
    const check = (block: string) => expectSameTransaction(fp.table.dump(), BASE_RULES + expected(block))

    sync()
    check("a2-s1.nft")

    store.apply(step("svc3"), step("eps3"))
    expect(sync().numOperations).toBe(10)
    check("a2-s2.nft")

    store.delete("Service", "ns2", "svc2")
    expect(sync().numOperations).toBe(4)
    check("a2-s3.nft")

    ageStaleChains()
    const s4 = sync()
    expect(s4.numOperations).toBe(0)
    expect(s4.cleanupOps.length).toBe(2)
    check("a2-s4.nft")

    store.apply(step("svc4"))
    expect(sync().numOperations).toBe(2)
    check("a2-s5.nft")

    store.apply(step("eps4"))
    expect(sync().numOperations).toBe(10)
    check("a2-s6.nft")

    store.apply(step("eps3update"))
    expect(sync().numOperations).toBe(9)
    check("a2-s7.nft")

    ageStaleChains()
    store.apply(step("eps3update2"))
    expect(sync().numOperations).toBe(12)
    check("a2-s8.nft")

    store.apply(step("eps3update3"))
    expect(sync().numOperations).toBe(5)
    check("a2-s9.nft")
    expect([...fp.staleChains.keys()].sort()).toEqual([
      "endpoint-SWWHDC7X-ns3/svc3/tcp/p80__10.0.3.2/80",
      "endpoint-TQ2QKHCZ-ns3/svc3/tcp/p80__10.0.3.3/80",
      "service-4AT6LBPK-ns3/svc3/tcp/p80",
    ])

    store.apply(step("eps3update2"))
    expect(sync().numOperations).toBe(14)
    expect(fp.staleChains.size).toBe(0)
    check("a2-s8.nft")

    // S11: chains deleted first, then recreated in the second sync.
    store.apply(step("eps3update3"))
    sync()
    ageStaleChains()
    store.apply(step("eps3update2"))
    const s11 = sync()
    expect(s11.cleanupOps.length).toBe(3)
    check("a2-s8.nft")

    expect(sync().numOperations).toBe(0)
    check("a2-s8.nft")
  })

  it("G-NFT-A3 TestSyncProxyRulesStartup: a restart rewrites service chains, not existing elements or endpoint chains", () => {
    const setup = new NftablesProxier(FAKE_NFT_NODE, FAKE_NFT_CONFIG)
    const setupOps = setup.sync(0, [], []).numOperations

    const table = new NftTable("ip", "kube-proxy")
    table.parseDump(BASE_RULES + expected("a3-existing.nft"))
    const fp = new NftablesProxier(FAKE_NFT_NODE, FAKE_NFT_CONFIG, {}, table)
    const { services, slices } = manifests("a3-startup.yaml")
    const result = fp.sync(0, services, slices)
    expect(result.error).toBeNull()
    expectSameTransaction(fp.table.dump(), BASE_RULES + expected("a3-expected.nft"))
    expect(result.numOperations).toBe(setupOps + 14)
  })

  it("G-NFT-A4 TestBadIPs: leading-zero addresses are read as ParseIPSloppy reads them", () => {
    const { services, slices } = manifests("a4-bad-ips.yaml")
    const fp = new NftablesProxier(FAKE_NFT_NODE, FAKE_NFT_CONFIG)
    expect(fp.sync(0, services, slices).error).toBeNull()
    expectSameTransaction(fp.table.dump(), BASE_RULES + expected("a4-expected.nft"))
  })

  it("the comparison can fail: each expectation differs from a neighbouring step", () => {
    expect(sortNftablesTransaction(BASE_RULES + expected("a2-s1.nft"))).not.toBe(
      sortNftablesTransaction(BASE_RULES + expected("a2-s2.nft")),
    )
    const { services, slices } = manifests("a4-bad-ips.yaml")
    const fp = new NftablesProxier(FAKE_NFT_NODE, { ...FAKE_NFT_CONFIG, masqueradeMark: "0x00004000" })
    fp.sync(0, services, slices)
    expect(sortNftablesTransaction(fp.table.dump())).not.toBe(
      sortNftablesTransaction(BASE_RULES + expected("a4-expected.nft")),
    )
  })
})
