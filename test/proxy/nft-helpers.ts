/** The upstream nftables fake proxier's node and settings (proxy-modes.md §2.1). */
import { DEFAULT_NFTABLES_CONFIG } from "../../src/proxy/nftables/compile.ts"
import type { NftablesConfig } from "../../src/proxy/nftables/compile.ts"
import type { ProxyNode } from "../../src/proxy/service-port.ts"

/**
 * NewFakeProxier(IPv4), era A: node test-node whose interfaces hold 192.168.0.2, 192.168.1.2 and
 * 192.168.99.11 (lo's 127.0.0.1 never accepts NodePorts), detector 10.0.0.0/8, mark "0x4000",
 * nodePortAddresses 192.168.0.2/32 + 2001:db8::1/128, serviceCIDRs 172.30.0.0/16.
 */
export const FAKE_NFT_NODE: ProxyNode = { name: "test-node", ips: ["192.168.0.2", "192.168.1.2", "192.168.99.11"] }
export const FAKE_NFT_CONFIG: NftablesConfig = {
  ...DEFAULT_NFTABLES_CONFIG,
  clusterCIDR: "10.0.0.0/8",
  masqueradeMark: "0x4000",
  nodePortAddresses: ["192.168.0.2/32", "2001:db8::1/128"],
  serviceCIDRs: ["172.30.0.0/16"],
}
