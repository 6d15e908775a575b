/**
 * `nft list table ip kube-proxy` as nft prints it. The pinned A1 listing
 * (scenarios/golden/expected/nft/a1-list.nft) was captured from nft 1.0.6 on Linux 6.x after
 * `nft -f` of the A1 transaction; the kernel tests below redo that capture live for several
 * tables (and sequences of partial-sync transactions, stale-chain deletions included) in a
 * private network namespace, so they also check that real nft accepts every transaction the
 * compiler writes. They skip, with a message, without root, `nft` or `unshare`.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { compileNftablesFromObjects } from "../../src/proxy/nftables/compile.ts"
import type { NftablesConfig } from "../../src/proxy/nftables/compile.ts"
import { canonicalRule, listTable, nftTime, priorityText } from "../../src/proxy/nftables/list.ts"
import { NftablesProxier } from "../../src/proxy/nftables/proxier.ts"
import { formatTransaction, NftTable } from "../../src/proxy/nftables/table.ts"
import { parseManifests } from "./helpers.ts"
import { FAKE_NFT_CONFIG, FAKE_NFT_NODE } from "./nft-helpers.ts"

const ROOT = join(import.meta.dirname, "..", "..")
const manifests = (name: string) =>
  parseManifests(readFileSync(join(ROOT, "scenarios", "golden", "manifests", "nft", name), "utf8"))

function fullSyncTable(services: Service[], slices: EndpointSlice[], config: NftablesConfig) {
  const result = compileNftablesFromObjects(services, slices, FAKE_NFT_NODE, config, {
    fullSync: true,
    recreateBaseChains: true,
  })
  const table = new NftTable("ip", "kube-proxy")
  table.apply(result.ops)
  return { table, transaction: formatTransaction(result.ops, "ip", "kube-proxy") }
}

function kernelSkipReason(): string {
  if (process.getuid?.() !== 0) return "not root"
  if (spawnSync("nft", ["--version"]).status !== 0) return "no nft binary"
  if (spawnSync("unshare", ["-n", "true"]).status !== 0) return "cannot create a network namespace (unshare -n)"
  return ""
}
const skipReason = kernelSkipReason()
if (skipReason !== "") console.warn(`[nftables list] kernel comparison SKIPPED: ${skipReason}`)

/** Runs the transactions with `nft -f`, in order, in a fresh network namespace; returns the listing. */
function kernelListing(transactions: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "kube-netsim-nft-"))
  try {
    const files = transactions.map((text, i) => {
      const file = join(dir, `tx${i}.nft`)
      writeFileSync(file, text)
      return file
    })
    const script = [...files.map((f) => `nft -f ${f}`), "nft list table ip kube-proxy"].join(" && ")
    const run = spawnSync("unshare", ["-n", "sh", "-c", script], { encoding: "utf8", timeout: 30_000 })
    if (run.status !== 0) throw new Error(`nft failed: ${run.stderr}`)
    return run.stdout
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("nft list table ip kube-proxy", () => {
  it("A1's table prints as nft 1.0.6 printed it", () => {
    const { services, slices } = manifests("a1-overall.yaml")
    const { table } = fullSyncTable(services, slices, FAKE_NFT_CONFIG)
    expect(listTable(table)).toBe(
      readFileSync(join(ROOT, "scenarios", "golden", "expected", "nft", "a1-list.nft"), "utf8"),
    )
  })

  it("priorities, times and rules in nft's canonical form", () => {
    expect(priorityText(-110, "prerouting")).toBe("dstnat - 10")
    expect(priorityText(-110, "output")).toBe("-110")
    expect(priorityText(-100, "output")).toBe("-100")
    expect(priorityText(0, "input")).toBe("filter")
    expect(priorityText(100, "postrouting")).toBe("srcnat")
    expect(priorityText(5, "input")).toBe("filter + 5")
    expect(nftTime(10800)).toBe("3h")
    expect(nftTime(10801)).toBe("3h1s")
    expect(nftTime(86400)).toBe("1d")
    expect(canonicalRule("mark and 0x4000 == 0 return")).toBe("meta mark & 0x00004000 == 0x00000000 return")
    expect(canonicalRule("ip saddr != { 203.0.113.0/25 , 1.2.3.4 } drop")).toBe(
      "ip saddr != { 1.2.3.4, 203.0.113.0/25 } drop",
    )
    expect(canonicalRule("ip daddr { 172.30.0.0/16 } drop")).toBe("ip daddr 172.30.0.0/16 drop")
  })
})

describe.skipIf(skipReason !== "")("nft list: the real nft agrees (kernel)", () => {
  it("A1 with the fake proxier's settings", () => {
    const { services, slices } = manifests("a1-overall.yaml")
    const { table, transaction } = fullSyncTable(services, slices, FAKE_NFT_CONFIG)
    expect(listTable(table)).toBe(kernelListing([transaction]))
  })

  it("A1 with masqueradeAll, no detector, NodePorts on every address, two service CIDRs, the real mark", () => {
    const { services, slices } = manifests("a1-overall.yaml")
    const extra = parseManifests(`
apiVersion: v1
kind: Service
metadata: {namespace: ns7, name: svc7}
spec:
  type: LoadBalancer
  clusterIP: 172.30.0.47
  internalTrafficPolicy: Local
  loadBalancerSourceRanges: [192.168.0.0/24, 203.0.113.0/25]
  ports: [{name: dns, port: 53, protocol: UDP, nodePort: 3053}, {name: s, port: 9, protocol: SCTP, nodePort: 3009}]
status: {loadBalancer: {ingress: [{ip: 9.10.11.12}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {namespace: ns7, name: svc7-1, labels: {kubernetes.io/service-name: svc7}}
addressType: IPv4
endpoints: [{addresses: [10.180.7.1], nodeName: test-node}, {addresses: [10.180.7.2]}]
ports: [{name: dns, port: 5353, protocol: UDP}, {name: s, port: 9, protocol: SCTP}]
`)
    const config: NftablesConfig = {
      ...FAKE_NFT_CONFIG,
      masqueradeAll: true,
      clusterCIDR: null,
      nodePortAddresses: [],
      serviceCIDRs: ["172.30.0.0/16", "172.50.0.0/16"],
      masqueradeMark: "0x00004000",
    }
    const { table, transaction } = fullSyncTable([...services, ...extra.services], [...slices, ...extra.slices], config)
    expect(listTable(table)).toBe(kernelListing([transaction]))
  })

  it("A2's sequence of syncs (partial syncs, flushed stale chains, their deletion) is accepted and lists the same", () => {
    const initial = manifests("a2-initial.yaml")
    const steps = manifests("a2-steps.yaml")
    const step = (name: string) =>
      [...steps.services, ...steps.slices].find((o) => o.metadata.annotations?.["golden.kube-netsim/step"] === name)!
    const objects = new Map<string, Service | EndpointSlice>()
    const put = (o: Service | EndpointSlice) => objects.set(`${o.kind}/${o.metadata.namespace}/${o.metadata.name}`, o)
    for (const o of [...initial.services, ...initial.slices]) put(o)
    const fp = new NftablesProxier(FAKE_NFT_NODE, FAKE_NFT_CONFIG)
    const transactions: string[] = []
    let nowNs = 0
    const sync = () => {
      nowNs += 1_000_000
      const all = [...objects.values()]
      const result = fp.sync(
        nowNs,
        all.filter((o): o is Service => o.kind === "Service"),
        all.filter((o): o is EndpointSlice => o.kind === "EndpointSlice"),
      )
      if (result.cleanupOps.length > 0) transactions.push(formatTransaction(result.cleanupOps, "ip", "kube-proxy"))
      transactions.push(result.transaction)
    }
    sync()
    put(step("svc3"))
    put(step("eps3"))
    sync()
    objects.delete("Service/ns2/svc2")
    sync()
    nowNs += 2e9
    sync()
    put(step("svc4"))
    sync()
    put(step("eps4"))
    sync()
    put(step("eps3update"))
    sync()
    nowNs += 2e9
    put(step("eps3update2"))
    sync()
    put(step("eps3update3"))
    sync()
    expect(listTable(fp.table)).toBe(kernelListing(transactions))
    nowNs += 2e9
    put(step("eps3update2"))
    sync()
    expect(listTable(fp.table)).toBe(kernelListing(transactions))
  })
})
