/**
 * Upstream's era-A packet-flow tests (G-NFT-A5, proxy-modes.md §2.7) replayed on the interpreter:
 * each case is a ruleset (baseRules + the per-service rules of fixtures/*.nft), a first packet, and
 * upstream's expected output (endpoints, DROP, REJECT or "") and masquerade flag. Where upstream's
 * tracer follows every numgen branch, runFlow sends 64 probes with seeded draws and collects every
 * endpoint (for mod ≤ 3 the chance that one branch is never drawn is below 3·(2/3)^64 ≈ 2e-11, and
 * the seed is fixed, so the outcome is deterministic).
 */
import { describe, expect, it } from "vitest"
import { fixture, loadDump, runFlow } from "./helpers.ts"

interface Case {
  name: string
  src: string
  dst: string
  port: number
  protocol?: number
  output: string
  masq?: boolean
}

const TCP = 6
const UDP = 17
const SCTP = 132

function suite(title: string, file: string, cases: readonly Case[]): void {
  describe(title, () => {
    const rs = loadDump(fixture("base.nft") + fixture(file), file)
    for (const c of cases) {
      it(c.name, () => {
        const got = runFlow(rs, c.src, c.dst, c.port, c.protocol ?? TCP)
        expect(got.output).toBe(c.output)
        if (c.masq !== undefined) expect(got.masq).toBe(c.masq)
      })
    }
  })
}

suite("TestClusterIPGeneral", "clusterip-general.nft", [
  { name: "simple clusterIP", src: "10.180.0.2", dst: "172.30.0.41", port: 80, output: "10.180.0.1:80", masq: false },
  {
    name: "hairpin to cluster IP",
    src: "10.180.0.1",
    dst: "172.30.0.41",
    port: 80,
    output: "10.180.0.1:80",
    masq: true,
  },
  {
    name: "clusterIP with multiple endpoints",
    src: "10.180.0.2",
    dst: "172.30.0.42",
    port: 80,
    output: "10.180.0.1:80, 10.180.2.1:80",
    masq: false,
  },
  {
    name: "clusterIP with TargetPort",
    src: "10.180.0.2",
    dst: "172.30.0.42",
    port: 443,
    output: "10.180.0.1:8443, 10.180.2.1:8443",
    masq: false,
  },
  {
    name: "clusterIP with TCP, UDP, and SCTP on same port (TCP)",
    src: "10.180.0.2",
    dst: "172.30.0.42",
    port: 53,
    output: "10.180.0.1:5353, 10.180.2.1:5353",
    masq: false,
  },
  {
    name: "clusterIP with TCP, UDP, and SCTP on same port (UDP)",
    src: "10.180.0.2",
    dst: "172.30.0.42",
    port: 53,
    protocol: UDP,
    output: "10.180.0.1:53, 10.180.2.1:53",
    masq: false,
  },
  {
    name: "clusterIP with TCP, UDP, and SCTP on same port (SCTP)",
    src: "10.180.0.2",
    dst: "172.30.0.42",
    port: 53,
    protocol: SCTP,
    output: "10.180.0.1:53, 10.180.2.1:53",
    masq: false,
  },
  {
    name: "TCP-only port does not match UDP traffic",
    src: "10.180.0.2",
    dst: "172.30.0.42",
    port: 80,
    protocol: UDP,
    output: "REJECT",
  },
  { name: "svc1 does not accept svc2's ports", src: "10.180.0.2", dst: "172.30.0.41", port: 443, output: "REJECT" },
  { name: "packet to unallocated cluster ip", src: "10.180.0.2", dst: "172.30.0.50", port: 80, output: "DROP" },
])

const LB_EP = "10.180.0.1:80"
suite("TestLoadBalancer", "load-balancer.nft", [
  { name: "pod to cluster IP", src: "10.0.0.2", dst: "172.30.0.41", port: 80, output: LB_EP, masq: false },
  { name: "external to nodePort", src: "203.0.113.2", dst: "192.168.0.2", port: 3001, output: LB_EP, masq: true },
  {
    name: "nodePort bypasses LoadBalancerSourceRanges",
    src: "203.0.113.130",
    dst: "192.168.0.2",
    port: 3001,
    output: LB_EP,
    masq: true,
  },
  { name: "accepted external to LB1", src: "203.0.113.2", dst: "1.2.3.4", port: 80, output: LB_EP, masq: true },
  { name: "accepted external to LB2", src: "203.0.113.2", dst: "5.6.7.8", port: 80, output: LB_EP, masq: true },
  { name: "blocked external to LB1", src: "203.0.113.130", dst: "1.2.3.4", port: 80, output: "DROP" },
  { name: "blocked external to LB2", src: "203.0.113.130", dst: "5.6.7.8", port: 80, output: "DROP" },
  {
    name: "pod to LB1 (blocked by LoadBalancerSourceRanges)",
    src: "10.0.0.2",
    dst: "1.2.3.4",
    port: 80,
    output: "DROP",
  },
  {
    name: "pod to LB2 (blocked by LoadBalancerSourceRanges)",
    src: "10.0.0.2",
    dst: "5.6.7.8",
    port: 80,
    output: "DROP",
  },
  {
    name: "node to LB1 (allowed by LoadBalancerSourceRanges)",
    src: "192.168.0.2",
    dst: "1.2.3.4",
    port: 80,
    output: LB_EP,
    masq: true,
  },
  {
    name: "node to LB2 (allowed by LoadBalancerSourceRanges)",
    src: "192.168.0.2",
    dst: "5.6.7.8",
    port: 80,
    output: LB_EP,
    masq: true,
  },
  {
    name: "same node to LB1, SNATted to LB1 (implicitly allowed)",
    src: "1.2.3.4",
    dst: "1.2.3.4",
    port: 80,
    output: LB_EP,
    masq: true,
  },
  {
    name: "same node to LB2, SNATted to LB2 (implicitly allowed)",
    src: "5.6.7.8",
    dst: "5.6.7.8",
    port: 80,
    output: LB_EP,
    masq: true,
  },
])

const BOTH = "10.180.0.1:80, 10.180.2.1:80"
const LOCAL = "10.180.2.1:80"
suite("TestExternalTrafficPolicyLocal", "etp-local.nft", [
  {
    name: "pod to cluster IP hits both endpoints, unmasqueraded",
    src: "10.0.0.2",
    dst: "172.30.0.41",
    port: 80,
    output: BOTH,
    masq: false,
  },
  {
    name: "pod to external IP hits both endpoints, unmasqueraded",
    src: "10.0.0.2",
    dst: "192.168.99.11",
    port: 80,
    output: BOTH,
    masq: false,
  },
  {
    name: "external to external IP hits only local endpoint, unmasqueraded",
    src: "203.0.113.2",
    dst: "192.168.99.11",
    port: 80,
    output: LOCAL,
    masq: false,
  },
  {
    name: "pod to LB IP hits only both endpoints, unmasqueraded",
    src: "10.0.0.2",
    dst: "1.2.3.4",
    port: 80,
    output: BOTH,
    masq: false,
  },
  {
    name: "external to LB IP hits only local endpoint, unmasqueraded",
    src: "203.0.113.2",
    dst: "1.2.3.4",
    port: 80,
    output: LOCAL,
    masq: false,
  },
  {
    name: "pod to NodePort hits both endpoints, unmasqueraded",
    src: "10.0.0.2",
    dst: "192.168.0.2",
    port: 3001,
    output: BOTH,
    masq: false,
  },
  {
    name: "external to NodePort hits only local endpoint, unmasqueraded",
    src: "203.0.113.2",
    dst: "192.168.0.2",
    port: 3001,
    output: LOCAL,
    masq: false,
  },
])

suite("TestNoEndpointsReject", "no-endpoints.nft", [
  { name: "pod to cluster IP", src: "10.0.0.2", dst: "172.30.0.41", port: 80, output: "REJECT" },
  { name: "external to external IP", src: "203.0.113.2", dst: "192.168.99.11", port: 80, output: "REJECT" },
  { name: "pod to NodePort", src: "10.0.0.2", dst: "192.168.0.2", port: 3001, output: "REJECT" },
  { name: "external to NodePort", src: "203.0.113.2", dst: "192.168.0.2", port: 3001, output: "REJECT" },
  { name: "pod to LB IP", src: "10.0.0.2", dst: "1.2.3.4", port: 80, output: "REJECT" },
  { name: "external to LB IP", src: "203.0.113.2", dst: "1.2.3.4", port: 80, output: "REJECT" },
])

// Upstream TestNodePorts, ipv4 case with the fake's default nodePortAddresses (nodeport-ips holds
// 192.168.0.2 only): "secondary nodeIP ignores NodePorts". The TestBadIPs ruleset (a4) has the
// same NodePort wiring.
suite("TestNodePorts (ipv4, default nodePortAddresses) on the TestBadIPs rules", "a4.nft", [
  { name: "external to nodePort", src: "203.0.113.2", dst: "192.168.0.2", port: 3001, output: LB_EP, masq: true },
  { name: "secondary nodeIP ignores NodePorts", src: "203.0.113.2", dst: "192.168.1.2", port: 3001, output: "" },
  {
    name: "blocked external to LB (203.0.113.0/25 only)",
    src: "203.0.113.130",
    dst: "1.2.3.4",
    port: 80,
    output: "DROP",
  },
  { name: "canonicalised external IP", src: "203.0.113.2", dst: "192.168.99.22", port: 80, output: LB_EP, masq: true },
])

describe("path and cost of one packet", () => {
  it("simple clusterIP: chains entered and kernel expressions evaluated", () => {
    const rs = loadDump(fixture("base.nft") + fixture("clusterip-general.nft"))
    const got = runFlow(rs, "10.180.0.2", "172.30.0.41", 80, TCP, 1)
    expect(got.path).toEqual([
      "filter-prerouting-pre-dnat",
      "firewall-check",
      "nat-prerouting",
      "services",
      "service-VTO5ESCN-ns1/svc1/tcp/http",
      "endpoint-OX4536ZP-ns1/svc1/tcp/http__10.180.0.1/80",
      "filter-forward",
      "service-endpoints-check",
      "cluster-ips-check",
      "nat-postrouting",
      "masquerading",
    ])
    // Counted from the `nft --debug=netlink` lowering (kernel.test.ts checks it per rule):
    // prerouting filter: ct state new (3) + jump (1), firewall-check vmap miss (4) = 8;
    // nat: jump services (1), service-ips vmap hit (4), `ip daddr X` (2) + `ip saddr != 10/8` (2, breaks),
    // numgen vmap (2), `ip saddr 10.180.0.1` miss (2), `meta l4proto tcp` (2) + dnat (3) = 18;
    // forward: 2 × (ct state 3 + jump 1), no-endpoint vmap miss (4), cluster-ips lookup miss (2),
    // `ip daddr 172.30.0.0/16` miss (2) = 16; postrouting: jump (1), mark & 0x4000 == 0 (3) + return (1) = 5.
    expect(got.expressions).toBe(8 + 18 + 16 + 5)
  })
})
