/**
 * IPVS-mode printers: the iptables-restore payload (proxy-modes.md §3.5 G-IPVS-1 case 2, DERIVED full
 * payload), `ipvsadm -Ln` / `--stats` / `--rate` layouts (ipvsadm.c format strings), `ipset list` and
 * `ipset save`, and the iptables-save view.
 */
import { describe, expect, it } from "vitest"
import { compileIpvs, masqueradeMarkIpvs } from "../../../src/proxy/ipvs/compile.ts"
import {
  glibcMergeSort,
  ipvsadmServices,
  largeNumber,
  printIpsetList,
  printIpsetSave,
  printIptablesSave,
  printIpvsadm,
  printIpvsRules,
  ZERO_STATS,
} from "../../../src/proxy/ipvs/print.ts"
import type { IpvsadmService } from "../../../src/proxy/ipvs/print.ts"
import { parseManifests, readFixture } from "../helpers.ts"
import { FAKE_IPVS_CONFIG, fakeNode } from "./helpers.ts"

const UDP_NODEPORT = `
apiVersion: v1
kind: Service
metadata: { name: svc1, namespace: ns1 }
spec:
  type: NodePort
  clusterIP: 10.20.30.41
  ports: [ { name: p80, port: 80, protocol: UDP, nodePort: 3001 } ]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: svc1-1, namespace: ns1, labels: { kubernetes.io/service-name: svc1 } }
addressType: IPv4
endpoints: [ { addresses: [ 10.180.0.1 ] } ]
ports: [ { name: p80, port: 80, protocol: UDP } ]
`

function udpCase() {
  const { services, slices } = parseManifests(UDP_NODEPORT)
  return compileIpvs(services, slices, fakeNode(["100.101.102.103"]), {
    ...FAKE_IPVS_CONFIG,
    nodePortAddresses: ["0.0.0.0/0"],
  })
}

describe("iptables-restore payload", () => {
  it("matches the full payload of G-IPVS-1 case 2 (real mark, no --random-fully)", () => {
    expect(udpCase().restoreInput).toBe(readFixture("ipvs/g-ipvs-1-udp.rules"))
  })

  it("prints the masquerade mark as Go %#08x does", () => {
    expect(masqueradeMarkIpvs(14)).toBe("0x00004000")
    expect(masqueradeMarkIpvs(0)).toBe("0x00000001")
  })

  it("uses the local detector and masqueradeAll as writeIptablesRules does", () => {
    const { services, slices } = parseManifests(UDP_NODEPORT)
    const node = fakeNode(["100.101.102.103"])
    const detector = compileIpvs(services, slices, node, { ...FAKE_IPVS_CONFIG, clusterCIDR: "10.0.0.0/8" })
    expect(detector.restoreInput).toContain(
      '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ\n',
    )
    const all = compileIpvs(services, slices, node, { ...FAKE_IPVS_CONFIG, masqueradeAll: true, randomFully: true })
    expect(all.restoreInput).toContain("--match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ\n")
    expect(all.restoreInput).toContain('"kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully\n')
  })

  it("blocks node access to an LB IP whose source ranges exclude the node (KUBE-IPVS-OUT-FILTER)", () => {
    const yaml = `
apiVersion: v1
kind: Service
metadata: { name: lb, namespace: ns1 }
spec:
  type: LoadBalancer
  clusterIP: 10.20.30.41
  loadBalancerSourceRanges: [ 203.0.113.0/25 ]
  ports: [ { port: 443, protocol: TCP, nodePort: 30443 } ]
status: { loadBalancer: { ingress: [ { ip: 5.6.7.8 } ] } }
`
    const { services, slices } = parseManifests(yaml)
    const outside = compileIpvs(services, slices, fakeNode(["192.168.0.2"]), FAKE_IPVS_CONFIG)
    expect(outside.restoreInput).toContain(
      "-A KUBE-IPVS-OUT-FILTER -s 5.6.7.8 -m ipvs --vaddr 5.6.7.8 --vproto tcp --vport 443 -j DROP\n",
    )
    expect(outside.ipsets.find((s) => s.info.name === "KUBE-LOAD-BALANCER-SOURCE-IP")?.entries).toEqual([])
    const inside = compileIpvs(services, slices, fakeNode(["203.0.113.9"]), FAKE_IPVS_CONFIG)
    expect(inside.restoreInput).not.toContain("KUBE-IPVS-OUT-FILTER -s")
    expect(inside.ipsets.find((s) => s.info.name === "KUBE-LOAD-BALANCER-SOURCE-IP")?.entries).toEqual([
      "5.6.7.8,tcp:443,5.6.7.8",
    ])
    // The LB IP is not a node address, so it is bound to kube-ipvs0 with the ClusterIP.
    expect(inside.dummyAddresses).toEqual(["5.6.7.8", "10.20.30.41"])
  })
})

describe("ipvsadm", () => {
  it("prints -Ln as ipvsadm's format strings lay it out", () => {
    const result = udpCase()
    const text = printIpvsadm(ipvsadmServices(result.virtualServers))
    expect(text).toBe(
      [
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "UDP  10.20.30.41:80 rr",
        `  -> ${"10.180.0.1:80".padEnd(28)} Masq    1      0          0         `,
        "UDP  100.101.102.103:3001 rr",
        `  -> ${"10.180.0.1:80".padEnd(28)} Masq    1      0          0         `,
        "",
      ].join("\n"),
    )
  })

  it("prints persistence, sorts by protocol, then address with ipvsadm's wrapping int compare, then port", () => {
    const svc = (protocol: "TCP" | "UDP", address: string, port: number): IpvsadmService => ({
      address,
      port,
      protocol,
      scheduler: "rr",
      flags: 0x1,
      timeoutSeconds: 10800,
      dests: [],
    })
    const text = printIpvsadm([svc("UDP", "10.0.0.1", 53), svc("TCP", "10.0.0.2", 80), svc("TCP", "10.0.0.2", 443)])
    expect(text.split("\n").slice(3, 6)).toEqual([
      "TCP  10.0.0.2:80 rr persistent 10800",
      "TCP  10.0.0.2:443 rr persistent 10800",
      "UDP  10.0.0.1:53 rr persistent 10800",
    ])
    // ntohl(a) - ntohl(b) into an int: 200.0.0.1 - 10.0.0.1 wraps negative, so 200.x sorts first.
    const wrapped = printIpvsadm([svc("TCP", "10.0.0.1", 80), svc("TCP", "200.0.0.1", 80)])
    expect(wrapped.split("\n").slice(3, 5)).toEqual([
      "TCP  200.0.0.1:80 rr persistent 10800",
      "TCP  10.0.0.1:80 rr persistent 10800",
    ])
  })

  it("prints --stats and --rate with print_largenum columns", () => {
    const stats = {
      ...ZERO_STATS,
      conns: 12,
      inPackets: 345,
      outPackets: 123_456_789,
      inBytes: 1_500_000_000,
      outBytes: 7,
    }
    const services: IpvsadmService[] = [
      {
        address: "10.96.0.10",
        port: 53,
        protocol: "UDP",
        scheduler: "rr",
        flags: 0,
        timeoutSeconds: 0,
        stats,
        dests: [
          { address: "10.244.1.3", port: 53, weight: 1, activeConns: 0, inactiveConns: 2, stats },
          { address: "10.244.0.2", port: 53, weight: 0, activeConns: 0, inactiveConns: 1 },
        ],
      },
    ]
    expect(printIpvsadm(services, { format: "stats" })).toBe(
      [
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
        "  -> RemoteAddress:Port",
        "UDP  10.96.0.10:53".padEnd(33) + "       12      345  123456K    1500M        7",
        `  -> ${"10.244.0.2:53".padEnd(28)}` + "        0        0        0        0        0",
        `  -> ${"10.244.1.3:53".padEnd(28)}` + "       12      345  123456K    1500M        7",
        "",
      ].join("\n"),
    )
    const rate = {
      ...ZERO_STATS,
      connsPerSecond: 3,
      inPacketsPerSecond: 40,
      outPacketsPerSecond: 41,
      inBytesPerSecond: 5000,
      outBytesPerSecond: 6000,
    }
    const rated: IpvsadmService[] = [{ ...services[0], stats: rate, dests: [{ ...services[0].dests[0], stats: rate }] }]
    expect(printIpvsadm(rated, { format: "rate" }).split("\n").slice(1)).toEqual([
      "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS",
      "  -> RemoteAddress:Port",
      "UDP  10.96.0.10:53".padEnd(33) + "        3       40       41     5000     6000",
      // Destinations: "  -> %-28s %8u %8u %8u" then print_largenum twice.
      `  -> ${"10.244.1.3:53".padEnd(28)} ` + "       3       40       41     5000     6000",
      "",
    ])
  })

  it("formats large numbers as print_largenum does", () => {
    expect(largeNumber(99_999_999, false)).toBe(" 99999999")
    expect(largeNumber(100_000_000, false)).toBe("  100000K")
    expect(largeNumber(99_999_999_999, false)).toBe("   99999M")
    expect(largeNumber(100_000_000_000, false)).toBe("     100G")
    expect(largeNumber(100_000_000_000_000, false)).toBe("     100T")
    expect(largeNumber(123_456_789_012, true)).toBe(" 123456789012")
  })

  it("sorts as glibc's merge sort does, stable on ties", () => {
    const items = [3, 1, 2, 1, 3, 0].map((value, index) => ({ value, index }))
    const sorted = glibcMergeSort(items, (a, b) => a.value - b.value)
    expect(sorted.map((i) => i.index)).toEqual([5, 1, 3, 2, 0, 4])
  })
})

describe("ipset", () => {
  it("saves every set in ipsetInfo order with kube-proxy's create options", () => {
    const save = printIpsetSave(udpCase().ipsets)
    const lines = save.trimEnd().split("\n")
    expect(lines[0]).toBe("create KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536")
    expect(lines).toContain("create KUBE-NODE-PORT-UDP bitmap:port range 0-65535")
    expect(lines).toContain("add KUBE-NODE-PORT-UDP 3001")
    expect(lines).toContain("add KUBE-CLUSTER-IP 10.20.30.41,udp:80")
    expect(lines).toContain("add KUBE-IPVS-IPS 10.20.30.41")
    expect(lines.at(-2)).toBe("create KUBE-IPVS-IPS hash:ip family inet hashsize 1024 maxelem 65536")
    expect(lines.filter((l) => l.startsWith("create "))).toHaveLength(17)
  })

  it("lists sets with references counted from the iptables rules", () => {
    const result = udpCase()
    const list = printIpsetList(result.ipsets, result.rules)
    // KUBE-CLUSTER-IP: MARK-MASQ, ACCEPT in KUBE-SERVICES, RETURN in KUBE-IPVS-FILTER.
    expect(list).toContain(
      [
        "Name: KUBE-CLUSTER-IP",
        "Type: hash:ip,port",
        "Header: family inet hashsize 1024 maxelem 65536",
        "References: 3",
        "Number of entries: 1",
        "Members:",
        "10.20.30.41,udp:80",
      ].join("\n"),
    )
    expect(list).toContain(
      "Name: KUBE-NODE-PORT-UDP\nType: bitmap:port\nHeader: range 0-65535\nReferences: 1\nNumber of entries: 1\nMembers:\n3001\n",
    )
    expect(list).toContain(
      "Name: KUBE-LOOP-BACK\nType: hash:ip,port,ip\nHeader: family inet hashsize 1024 maxelem 65536\nReferences: 0\nNumber of entries: 0\nMembers:\n\n",
    )
  })
})

describe("iptables-save view", () => {
  it("shows built-in chains with the jump rules, kube chains sorted, nat before filter", () => {
    const result = udpCase()
    const text = printIptablesSave(result.rules, result.jumpRules)
    const lines = text.split("\n")
    expect(lines.slice(0, 10)).toEqual([
      "*nat",
      ":PREROUTING ACCEPT [0:0]",
      ":INPUT ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":POSTROUTING ACCEPT [0:0]",
      ":KUBE-LOAD-BALANCER - [0:0]",
      ":KUBE-MARK-MASQ - [0:0]",
      ":KUBE-NODE-PORT - [0:0]",
      ":KUBE-POSTROUTING - [0:0]",
      ":KUBE-SERVICES - [0:0]",
    ])
    expect(lines).toContain('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    // INPUT got three -I inserts; the last one ensured (KUBE-IPVS-FILTER) is first.
    const input = lines.filter((l) => l.startsWith("-A INPUT "))
    expect(input).toEqual([
      '-A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER',
      '-A INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
      '-A INPUT -m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT',
    ])
    expect(lines.indexOf("*filter")).toBeGreaterThan(lines.indexOf("*nat"))
    expect(lines.filter((l) => l === "COMMIT")).toHaveLength(2)
  })
})

describe("rules output", () => {
  it("puts each tool's output under its command line", () => {
    const result = udpCase()
    const text = printIpvsRules(result, { format: "stats" })
    const headers = text.split("\n").filter((l) => l.startsWith("# "))
    expect(headers).toEqual(["# kube-ipvs0 addresses", "# ipvsadm -Ln --stats", "# ipset list", "# iptables-save"])
    expect(text).toContain("# kube-ipvs0 addresses\n10.20.30.41/32\n")
    expect(text).toContain(printIptablesSave(result.rules, result.jumpRules))
  })
})
