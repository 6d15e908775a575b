/**
 * Helpers mirroring how upstream's IPVS unit tests compare (pkg/proxy/ipvs/proxier_test.go;
 * ../shared/reference/proxy-modes.md §3.4): the whole fake IPVS (`reflect.DeepEqual` on services
 * and destinations), `checkIPSet` (sorted entries of the listed sets), `checkIptables` (per chain,
 * the -j target and --match-set of every rule, nat rules then filter rules, in order).
 */
import type { IpvsCompileResult, IpvsConfig } from "../../../src/proxy/ipvs/compile.ts"
import { DEFAULT_IPVS_CONFIG } from "../../../src/proxy/ipvs/compile.ts"
import type { ProxyNode } from "../../../src/proxy/service-port.ts"

/** ipvstest.FakeIPVS contents: VirtualServer fields that are non-zero, keyed by "IP:port/PROTO". */
export interface FakeIpvs {
  services: Record<
    string,
    { address: string; protocol: string; port: number; scheduler: string; flags?: number; timeout?: number }
  >
  destinations: Record<string, { address: string; port: number; weight: number }[]>
}

export function fakeIpvs(result: IpvsCompileResult): FakeIpvs {
  const out: FakeIpvs = { services: {}, destinations: {} }
  for (const vs of result.virtualServers) {
    out.services[vs.key] = {
      address: vs.address,
      protocol: vs.protocol,
      port: vs.port,
      scheduler: vs.scheduler,
      ...(vs.flags !== 0 ? { flags: vs.flags } : {}),
      ...(vs.timeoutSeconds !== 0 ? { timeout: vs.timeoutSeconds } : {}),
    }
    out.destinations[vs.key] = vs.realServers.map((rs) => ({ address: rs.address, port: rs.port, weight: rs.weight }))
  }
  return out
}

export function ipsetEntries(result: IpvsCompileResult, name: string): string[] {
  const set = result.ipsets.find((s) => s.info.name === name)
  if (set === undefined) throw new Error(`no ipset ${name}`)
  return [...set.entries].sort()
}

/** checkIptables: chain -> [jump, matchSet] of each rule, nat rules first, then filter rules. */
export function iptablesChains(result: IpvsCompileResult, chain: string): [string, string][] {
  const pick = (table: "nat" | "filter"): [string, string][] =>
    result.rules.filter((r) => r.table === table && r.chain === chain).map((r) => [r.jump, r.matchSet])
  return [...pick("nat"), ...pick("filter")]
}

/** NewFakeProxier(ctx, ipt, ipvs, ipset, nodeIPs, nil, IPv4): node test-node, no local detector, rr. */
export function fakeNode(ips: readonly string[]): ProxyNode {
  return { name: "test-node", ips, labels: {} }
}

/** The fake proxier's settings: no detector (src,dst ClusterIP rule), iptablestest fake without random-fully. */
export const FAKE_IPVS_CONFIG: IpvsConfig = { ...DEFAULT_IPVS_CONFIG, clusterCIDR: null, randomFully: false }
