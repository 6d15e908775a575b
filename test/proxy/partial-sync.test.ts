/**
 * Partial syncs (MinimizeIPTablesRestore): only changed services' chains are rewritten, top-level
 * chains always, stale chains deleted with -X. Replays upstream TestSyncProxyRulesRepeated
 * (pkg/proxy/iptables/proxier_test.go, the pre-nfacct version of the test, hence nfacct off);
 * every expected dump below is the upstream expectation verbatim (in sorted form).
 */
import { describe, expect, it } from "vitest"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { compileIptables, natChainsAfterRestore } from "../../src/proxy/iptables/compile.ts"
import type { IptablesConfig } from "../../src/proxy/iptables/compile.ts"
import { sortIptablesRules } from "../../src/proxy/iptables/sort.ts"
import { FAKE_CONFIG, FAKE_NODE } from "./helpers.ts"

const CONFIG: IptablesConfig = { ...FAKE_CONFIG, nfacct: false }

function service(namespace: string, name: string, clusterIP: string, portName: string, port: number): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace },
    spec: { type: "ClusterIP", clusterIP, ports: [{ name: portName, port, protocol: "TCP" }] },
  }
}

function slice(namespace: string, name: string, ips: string[], portName: string, port: number): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `${name}-1`, namespace, labels: { "kubernetes.io/service-name": name } },
    addressType: "IPv4",
    endpoints: ips.map((ip) => ({ addresses: [ip] })),
    ports: [{ name: portName, port, protocol: "TCP" }],
  }
}

const FILTER = `*filter
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
`
const FILTER_RULES = `-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
`
const NAT_HEAD = `*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
`
const NAT_FIXED = `-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
`
const LAST = `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n`
const SVC1 = `-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O\n`
const SVC2 = `-A KUBE-SERVICES -m comment --comment "ns2/svc2:p8080 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 8080 -j KUBE-SVC-2VJB64SDSIJUP5T6\n`
const SVC3 = `-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK\n`
const SVC4 = `-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK\n`

describe("partial syncs (TestSyncProxyRulesRepeated)", () => {
  it("rewrites only changed services and deletes stale chains", () => {
    const services = new Map<string, Service>()
    const slices = new Map<string, EndpointSlice>()
    services.set("ns1/svc1", service("ns1", "svc1", "172.30.0.41", "p80", 80))
    services.set("ns2/svc2", service("ns2", "svc2", "172.30.0.42", "p8080", 8080))
    slices.set("ns1/svc1", slice("ns1", "svc1", ["10.0.1.1"], "p80", 80))
    slices.set("ns2/svc2", slice("ns2", "svc2", ["10.0.2.1"], "p8080", 8080))
    let existing = new Set<string>()
    const sync = (changed: string[] | null): string => {
      const result = compileIptables([...services.values()], [...slices.values()], FAKE_NODE, CONFIG, {
        changedServices: changed === null ? null : new Set(changed),
        existingNatChains: existing,
      })
      existing = natChainsAfterRestore(existing, result.restoreInput)
      return sortIptablesRules(result.restoreInput)
    }

    // Initial full sync.
    expect(sync(null)).toBe(
      FILTER +
        FILTER_RULES +
        NAT_HEAD +
        `:KUBE-SEP-SNQ3ZNILQDEJNDQO - [0:0]
:KUBE-SEP-UHEGFW77JX3KXTOV - [0:0]
:KUBE-SVC-2VJB64SDSIJUP5T6 - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
` +
        SVC1 +
        SVC2 +
        LAST +
        NAT_FIXED +
        `-A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -s 10.0.1.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.1.1:80
-A KUBE-SEP-UHEGFW77JX3KXTOV -m comment --comment ns2/svc2:p8080 -s 10.0.2.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-UHEGFW77JX3KXTOV -m comment --comment ns2/svc2:p8080 -m tcp -p tcp -j DNAT --to-destination 10.0.2.1:8080
-A KUBE-SVC-2VJB64SDSIJUP5T6 -m comment --comment "ns2/svc2:p8080 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 8080 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-2VJB64SDSIJUP5T6 -m comment --comment "ns2/svc2:p8080 -> 10.0.2.1:8080" -j KUBE-SEP-UHEGFW77JX3KXTOV
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.0.1.1:80" -j KUBE-SEP-SNQ3ZNILQDEJNDQO
COMMIT
`,
    )

    // Add a service and its endpoints: only its SVC and SEP chains are written.
    services.set("ns3/svc3", service("ns3", "svc3", "172.30.0.43", "p80", 80))
    slices.set("ns3/svc3", slice("ns3", "svc3", ["10.0.3.1"], "p80", 80))
    expect(sync(["ns3/svc3"])).toBe(
      FILTER +
        FILTER_RULES +
        NAT_HEAD +
        `:KUBE-SEP-BSWRHOQ77KEXZLNL - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
` +
        SVC1 +
        SVC2 +
        SVC3 +
        LAST +
        NAT_FIXED +
        `-A KUBE-SEP-BSWRHOQ77KEXZLNL -m comment --comment ns3/svc3:p80 -s 10.0.3.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-BSWRHOQ77KEXZLNL -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.1:80
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.1:80" -j KUBE-SEP-BSWRHOQ77KEXZLNL
COMMIT
`,
    )

    // Delete a service: its chains are flushed and deleted, nothing else rewritten.
    services.delete("ns2/svc2")
    expect(sync(["ns2/svc2"])).toBe(
      FILTER +
        FILTER_RULES +
        NAT_HEAD +
        `:KUBE-SEP-UHEGFW77JX3KXTOV - [0:0]
:KUBE-SVC-2VJB64SDSIJUP5T6 - [0:0]
` +
        SVC1 +
        SVC3 +
        LAST +
        NAT_FIXED +
        `-X KUBE-SEP-UHEGFW77JX3KXTOV
-X KUBE-SVC-2VJB64SDSIJUP5T6
COMMIT
`,
    )

    // Add a service without endpoints: only the filter REJECT rule.
    services.set("ns4/svc4", service("ns4", "svc4", "172.30.0.44", "p80", 80))
    expect(sync(["ns4/svc4"])).toBe(
      FILTER +
        `-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j REJECT\n` +
        FILTER_RULES +
        NAT_HEAD +
        SVC1 +
        SVC3 +
        LAST +
        NAT_FIXED +
        "COMMIT\n",
    )

    // Then its endpoints.
    slices.set("ns4/svc4", slice("ns4", "svc4", ["10.0.4.1"], "p80", 80))
    expect(sync(["ns4/svc4"])).toBe(
      FILTER +
        FILTER_RULES +
        NAT_HEAD +
        `:KUBE-SEP-AYCN5HPXMIRJNJXU - [0:0]
:KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]
` +
        SVC1 +
        SVC3 +
        SVC4 +
        LAST +
        NAT_FIXED +
        `-A KUBE-SEP-AYCN5HPXMIRJNJXU -m comment --comment ns4/svc4:p80 -s 10.0.4.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-AYCN5HPXMIRJNJXU -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.4.1:80
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.0.4.1:80" -j KUBE-SEP-AYCN5HPXMIRJNJXU
COMMIT
`,
    )

    // Change an endpoint: the service's chains are rewritten, the old SEP deleted.
    slices.set("ns3/svc3", slice("ns3", "svc3", ["10.0.3.2"], "p80", 80))
    expect(sync(["ns3/svc3"])).toBe(
      FILTER +
        FILTER_RULES +
        NAT_HEAD +
        `:KUBE-SEP-BSWRHOQ77KEXZLNL - [0:0]
:KUBE-SEP-DKCFIS26GWF2WLWC - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
` +
        SVC1 +
        SVC3 +
        SVC4 +
        LAST +
        NAT_FIXED +
        `-A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -s 10.0.3.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.2:80
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.2:80" -j KUBE-SEP-DKCFIS26GWF2WLWC
-X KUBE-SEP-BSWRHOQ77KEXZLNL
COMMIT
`,
    )

    // Add an endpoint.
    slices.set("ns3/svc3", slice("ns3", "svc3", ["10.0.3.2", "10.0.3.3"], "p80", 80))
    const withTwo = `-A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -s 10.0.3.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.2:80
-A KUBE-SEP-JVVZVJ7BSEPPRNBS -m comment --comment ns3/svc3:p80 -s 10.0.3.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-JVVZVJ7BSEPPRNBS -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.3:80
`
    const svc3Chain = `-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.2:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-DKCFIS26GWF2WLWC
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.3:80" -j KUBE-SEP-JVVZVJ7BSEPPRNBS
`
    expect(sync(["ns3/svc3"])).toBe(
      FILTER +
        FILTER_RULES +
        NAT_HEAD +
        `:KUBE-SEP-DKCFIS26GWF2WLWC - [0:0]
:KUBE-SEP-JVVZVJ7BSEPPRNBS - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
` +
        SVC1 +
        SVC3 +
        SVC4 +
        LAST +
        NAT_FIXED +
        withTwo +
        svc3Chain +
        "COMMIT\n",
    )

    // No changes: no service chains at all.
    expect(sync([])).toBe(FILTER + FILTER_RULES + NAT_HEAD + SVC1 + SVC3 + SVC4 + LAST + NAT_FIXED + "COMMIT\n")

    // Delete svc4; upstream forces this to be a full resync (after a failed partial restore).
    services.delete("ns4/svc4")
    expect(sync(null)).toBe(
      FILTER +
        FILTER_RULES +
        NAT_HEAD +
        `:KUBE-SEP-AYCN5HPXMIRJNJXU - [0:0]
:KUBE-SEP-DKCFIS26GWF2WLWC - [0:0]
:KUBE-SEP-JVVZVJ7BSEPPRNBS - [0:0]
:KUBE-SEP-SNQ3ZNILQDEJNDQO - [0:0]
:KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
` +
        SVC1 +
        SVC3 +
        LAST +
        NAT_FIXED +
        withTwo +
        `-A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -s 10.0.1.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.1.1:80
` +
        svc3Chain +
        `-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.0.1.1:80" -j KUBE-SEP-SNQ3ZNILQDEJNDQO
-X KUBE-SEP-AYCN5HPXMIRJNJXU
-X KUBE-SVC-4SW47YFZTEDKD3PK
COMMIT
`,
    )
    expect([...existing].filter((c) => c.startsWith("KUBE-S")).sort()).toEqual([
      "KUBE-SEP-DKCFIS26GWF2WLWC",
      "KUBE-SEP-JVVZVJ7BSEPPRNBS",
      "KUBE-SEP-SNQ3ZNILQDEJNDQO",
      "KUBE-SERVICES",
      "KUBE-SVC-X27LE4BHSL4DOUIK",
      "KUBE-SVC-XPGD46QRK7WJZT7O",
    ])
  })
})
