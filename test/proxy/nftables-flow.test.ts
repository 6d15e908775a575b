/**
 * G-NFT-A5, upstream's nftables packet-flow tests (pkg/proxy/nftables/proxier_test.go @ 030880a5,
 * era A; proxy-modes.md §2.7): the compiled table, traced the way upstream's helpers_test.go traces
 * it (test/proxy/nft-tracer.ts), sends each probe to the same endpoints (or DROP / REJECT / not
 * handled) with the same masquerade decision. All use the §2.1 fake proxier.
 */
import { describe, expect, it } from "vitest"
import { compileNftablesFromObjects } from "../../src/proxy/nftables/compile.ts"
import type { NftablesConfig } from "../../src/proxy/nftables/compile.ts"
import { NftTable } from "../../src/proxy/nftables/table.ts"
import { parseManifests } from "./helpers.ts"
import { FAKE_NFT_CONFIG, FAKE_NFT_NODE } from "./nft-helpers.ts"
import { NftTracer } from "./nft-tracer.ts"

/** testNodeIPs of the upstream tests (IPv4 ones). */
const NODE_IPS = ["192.168.0.2", "192.168.1.2", "192.168.99.11"]

interface Flow {
  readonly name: string
  readonly src: string
  readonly dst: string
  readonly output: string
  readonly masq?: boolean
  readonly protocol?: "tcp" | "udp" | "sctp"
}

function runFlows(yaml: string, flows: readonly Flow[], config: NftablesConfig = FAKE_NFT_CONFIG): void {
  const { services, slices } = parseManifests(yaml)
  const result = compileNftablesFromObjects(services, slices, FAKE_NFT_NODE, config, { fullSync: true })
  const table = new NftTable("ip", "kube-proxy")
  table.apply(result.ops)
  const tracer = new NftTracer(table, NODE_IPS)
  for (const f of flows) {
    const [destIP, port] = f.dst.split(":")
    const got = tracer.trace({ sourceIP: f.src, protocol: f.protocol ?? "tcp", destIP, destPort: Number(port) })
    expect({ name: f.name, output: got.output }).toEqual({ name: f.name, output: f.output })
    if (f.masq !== undefined && f.output !== "DROP" && f.output !== "REJECT" && f.output !== "")
      expect({ name: f.name, masq: got.masq }).toEqual({ name: f.name, masq: f.masq })
  }
}

const slice = (ns: string, svc: string, endpoints: string, ports: string) => `
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {namespace: ${ns}, name: ${svc}-1, labels: {kubernetes.io/service-name: ${svc}}}
addressType: IPv4
endpoints: ${endpoints}
ports: ${ports}`

describe("G-NFT-A5 packet flows (era A)", () => {
  it("TestClusterIPGeneral", () => {
    const yaml =
      `
apiVersion: v1
kind: Service
metadata: {namespace: ns1, name: svc1}
spec: {clusterIP: 172.30.0.41, ports: [{name: http, port: 80, protocol: TCP}]}
---
apiVersion: v1
kind: Service
metadata: {namespace: ns2, name: svc2}
spec:
  clusterIP: 172.30.0.42
  ports:
  - {name: http, port: 80, protocol: TCP}
  - {name: https, port: 443, protocol: TCP, targetPort: 8443}
  - {name: dns-udp, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 5353}
  - {name: dns-sctp, port: 53, protocol: SCTP}` +
      slice(
        "ns1",
        "svc1",
        "[{addresses: [10.180.0.1], nodeName: test-node}]",
        "[{name: http, port: 80, protocol: TCP}]",
      ) +
      slice(
        "ns2",
        "svc2",
        "[{addresses: [10.180.0.1], nodeName: test-node}, {addresses: [10.180.2.1], nodeName: node2}]",
        "[{name: http, port: 80, protocol: TCP}, {name: https, port: 8443, protocol: TCP}, {name: dns-udp, port: 53, protocol: UDP}, {name: dns-tcp, port: 5353, protocol: TCP}, {name: dns-sctp, port: 53, protocol: SCTP}]",
      )
    runFlows(yaml, [
      { name: "simple clusterIP", src: "10.180.0.2", dst: "172.30.0.41:80", output: "10.180.0.1:80", masq: false },
      { name: "hairpin to cluster IP", src: "10.180.0.1", dst: "172.30.0.41:80", output: "10.180.0.1:80", masq: true },
      {
        name: "clusterIP with multiple endpoints",
        src: "10.180.0.2",
        dst: "172.30.0.42:80",
        output: "10.180.0.1:80, 10.180.2.1:80",
        masq: false,
      },
      {
        name: "clusterIP with TargetPort",
        src: "10.180.0.2",
        dst: "172.30.0.42:443",
        output: "10.180.0.1:8443, 10.180.2.1:8443",
        masq: false,
      },
      {
        name: "TCP on port 53",
        src: "10.180.0.2",
        dst: "172.30.0.42:53",
        output: "10.180.0.1:5353, 10.180.2.1:5353",
        masq: false,
      },
      {
        name: "UDP on port 53",
        src: "10.180.0.2",
        dst: "172.30.0.42:53",
        protocol: "udp",
        output: "10.180.0.1:53, 10.180.2.1:53",
        masq: false,
      },
      {
        name: "SCTP on port 53",
        src: "10.180.0.2",
        dst: "172.30.0.42:53",
        protocol: "sctp",
        output: "10.180.0.1:53, 10.180.2.1:53",
        masq: false,
      },
      {
        name: "TCP-only port does not match UDP traffic",
        src: "10.180.0.2",
        dst: "172.30.0.42:80",
        protocol: "udp",
        output: "REJECT",
      },
      { name: "svc1 does not accept svc2's ports", src: "10.180.0.2", dst: "172.30.0.41:443", output: "REJECT" },
      { name: "packet to unallocated cluster ip", src: "10.180.0.2", dst: "172.30.0.50:80", output: "DROP" },
    ])
  })

  it("TestLoadBalancer", () => {
    const yaml =
      `
apiVersion: v1
kind: Service
metadata: {namespace: ns1, name: svc1}
spec:
  type: LoadBalancer
  clusterIP: 172.30.0.41
  ports: [{name: p80, port: 80, protocol: TCP, nodePort: 3001}]
  loadBalancerSourceRanges: [192.168.0.0/24, " 203.0.113.0/25"]
status: {loadBalancer: {ingress: [{ip: 1.2.3.4}, {ip: 5.6.7.8}]}}` +
      slice("ns1", "svc1", "[{addresses: [10.180.0.1]}]", "[{name: p80, port: 80, protocol: TCP}]")
    const ok = "10.180.0.1:80"
    runFlows(yaml, [
      { name: "pod to cluster IP", src: "10.0.0.2", dst: "172.30.0.41:80", output: ok, masq: false },
      { name: "external to nodePort", src: "203.0.113.2", dst: "192.168.0.2:3001", output: ok, masq: true },
      {
        name: "nodePort bypasses LoadBalancerSourceRanges",
        src: "203.0.113.130",
        dst: "192.168.0.2:3001",
        output: ok,
        masq: true,
      },
      { name: "accepted external to LB1", src: "203.0.113.2", dst: "1.2.3.4:80", output: ok, masq: true },
      { name: "accepted external to LB2", src: "203.0.113.2", dst: "5.6.7.8:80", output: ok, masq: true },
      { name: "blocked external to LB1", src: "203.0.113.130", dst: "1.2.3.4:80", output: "DROP" },
      { name: "blocked external to LB2", src: "203.0.113.130", dst: "5.6.7.8:80", output: "DROP" },
      { name: "pod to LB1", src: "10.0.0.2", dst: "1.2.3.4:80", output: "DROP" },
      { name: "pod to LB2", src: "10.0.0.2", dst: "5.6.7.8:80", output: "DROP" },
      { name: "node to LB1", src: "192.168.0.2", dst: "1.2.3.4:80", output: ok, masq: true },
      { name: "node to LB2", src: "192.168.0.2", dst: "5.6.7.8:80", output: ok, masq: true },
      { name: "same node to LB1, SNATted to LB1", src: "1.2.3.4", dst: "1.2.3.4:80", output: ok, masq: true },
      { name: "same node to LB2, SNATted to LB2", src: "5.6.7.8", dst: "5.6.7.8:80", output: ok, masq: true },
    ])
  })

  it("TestNodePorts (IPv4, default and multiple nodeport-addresses)", () => {
    const yaml =
      `
apiVersion: v1
kind: Service
metadata: {namespace: ns1, name: svc1}
spec: {type: NodePort, clusterIP: 172.30.0.41, ports: [{name: p80, port: 80, protocol: TCP, nodePort: 3001}]}` +
      slice(
        "ns1",
        "svc1",
        "[{addresses: [10.180.0.1]}, {addresses: [10.180.2.1], nodeName: test-node}]",
        "[{name: p80, port: 80, protocol: TCP}]",
      )
    const both = "10.180.0.1:80, 10.180.2.1:80"
    const common: Flow[] = [
      { name: "pod to cluster IP", src: "10.0.0.2", dst: "172.30.0.41:80", output: both, masq: false },
      { name: "external to nodePort", src: "203.0.113.2", dst: "192.168.0.2:3001", output: both, masq: true },
      { name: "node to nodePort", src: "192.168.0.2", dst: "192.168.0.2:3001", output: both, masq: true },
    ]
    runFlows(yaml, [
      ...common,
      { name: "secondary nodeIP ignores NodePorts", src: "203.0.113.2", dst: "192.168.1.2:3001", output: "" },
    ])
    runFlows(
      yaml,
      [...common, { name: "secondary nodeIP", src: "203.0.113.2", dst: "192.168.1.2:3001", output: both, masq: true }],
      { ...FAKE_NFT_CONFIG, nodePortAddresses: ["192.168.0.0/24", "192.168.1.0/24", "2001:db8::/64"] },
    )
  })

  const etpService = (policy: string, hc: string) =>
    `
apiVersion: v1
kind: Service
metadata: {namespace: ns1, name: svc1}
spec:
  type: LoadBalancer
  externalTrafficPolicy: ${policy}
  clusterIP: 172.30.0.41
  externalIPs: [192.168.99.11]
  ports: [{name: p80, port: 80, protocol: TCP, nodePort: 3001, targetPort: 80}]
  ${hc}
status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}` +
    slice(
      "ns1",
      "svc1",
      "[{addresses: [10.180.0.1]}, {addresses: [10.180.2.1], nodeName: test-node}]",
      "[{name: p80, port: 80, protocol: TCP}]",
    )
  const both = "10.180.0.1:80, 10.180.2.1:80"

  it("TestExternalTrafficPolicyLocal", () => {
    runFlows(etpService("Local", "healthCheckNodePort: 30000"), [
      { name: "pod to cluster IP", src: "10.0.0.2", dst: "172.30.0.41:80", output: both, masq: false },
      { name: "pod to external IP", src: "10.0.0.2", dst: "192.168.99.11:80", output: both, masq: false },
      {
        name: "external to external IP",
        src: "203.0.113.2",
        dst: "192.168.99.11:80",
        output: "10.180.2.1:80",
        masq: false,
      },
      { name: "pod to LB IP", src: "10.0.0.2", dst: "1.2.3.4:80", output: both, masq: false },
      { name: "external to LB IP", src: "203.0.113.2", dst: "1.2.3.4:80", output: "10.180.2.1:80", masq: false },
      { name: "pod to NodePort", src: "10.0.0.2", dst: "192.168.0.2:3001", output: both, masq: false },
      {
        name: "external to NodePort",
        src: "203.0.113.2",
        dst: "192.168.0.2:3001",
        output: "10.180.2.1:80",
        masq: false,
      },
    ])
  })

  it("TestExternalTrafficPolicyCluster", () => {
    runFlows(etpService("Cluster", ""), [
      { name: "pod to cluster IP", src: "10.0.0.2", dst: "172.30.0.41:80", output: both, masq: false },
      { name: "pod to external IP", src: "10.0.0.2", dst: "192.168.99.11:80", output: both, masq: true },
      { name: "external to external IP", src: "203.0.113.2", dst: "192.168.99.11:80", output: both, masq: true },
      { name: "pod to LB IP", src: "10.0.0.2", dst: "1.2.3.4:80", output: both, masq: true },
      { name: "external to LB IP", src: "203.0.113.2", dst: "1.2.3.4:80", output: both, masq: true },
      { name: "pod to NodePort", src: "10.0.0.2", dst: "192.168.0.2:3001", output: both, masq: true },
      { name: "external to NodePort", src: "203.0.113.2", dst: "192.168.0.2:3001", output: both, masq: true },
    ])
  })

  it("TestNoEndpointsReject", () => {
    const yaml = `
apiVersion: v1
kind: Service
metadata: {namespace: ns1, name: svc1}
spec:
  type: LoadBalancer
  clusterIP: 172.30.0.41
  externalIPs: [192.168.99.11]
  ports: [{name: p80, port: 80, protocol: TCP, nodePort: 3001}]
status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}`
    runFlows(
      yaml,
      [
        ["10.0.0.2", "172.30.0.41:80"],
        ["203.0.113.2", "192.168.99.11:80"],
        ["10.0.0.2", "192.168.0.2:3001"],
        ["203.0.113.2", "192.168.0.2:3001"],
        ["10.0.0.2", "1.2.3.4:80"],
        ["203.0.113.2", "1.2.3.4:80"],
      ].map(([src, dst]) => ({ name: `${src} -> ${dst}`, src, dst, output: "REJECT" })),
    )
  })

  it("TestInternalExternalMasquerade (base case and the three overrides)", () => {
    const svc = (n: number, extra: string) => `
---
apiVersion: v1
kind: Service
metadata: {namespace: ns${n}, name: svc${n}}
spec:
  type: LoadBalancer
  clusterIP: 172.30.0.4${n}
  ${extra}
  ports: [{name: p80, port: 80, protocol: TCP, nodePort: 300${n}}]
status: {loadBalancer: {ingress: [{ip: ${["1.2.3.4", "5.6.7.8", "9.10.11.12"][n - 1]}}]}}`
    const yaml =
      svc(1, "") +
      svc(2, "externalTrafficPolicy: Local\n  healthCheckNodePort: 30002") +
      svc(3, "internalTrafficPolicy: Local") +
      [1, 2, 3]
        .map((n) =>
          slice(
            `ns${n}`,
            `svc${n}`,
            `[{addresses: [10.180.0.${n}], nodeName: test-node}, {addresses: [10.180.1.${n}], nodeName: remote}]`,
            "[{name: p80, port: 80, protocol: TCP}]",
          ),
        )
        .join("")
    const b = (n: number) => `10.180.0.${n}:80, 10.180.1.${n}:80`
    const base: Flow[] = [
      { name: "pod to ClusterIP", src: "10.0.0.2", dst: "172.30.0.41:80", output: b(1), masq: false },
      { name: "pod to NodePort", src: "10.0.0.2", dst: "192.168.0.2:3001", output: b(1), masq: true },
      { name: "pod to LB", src: "10.0.0.2", dst: "1.2.3.4:80", output: b(1), masq: true },
      { name: "node to ClusterIP", src: "192.168.0.2", dst: "172.30.0.41:80", output: b(1), masq: true },
      { name: "node to NodePort", src: "192.168.0.2", dst: "192.168.0.2:3001", output: b(1), masq: true },
      { name: "node to LB", src: "192.168.0.2", dst: "1.2.3.4:80", output: b(1), masq: true },
      { name: "external to ClusterIP", src: "203.0.113.2", dst: "172.30.0.41:80", output: b(1), masq: true },
      { name: "external to NodePort", src: "203.0.113.2", dst: "192.168.0.2:3001", output: b(1), masq: true },
      { name: "external to LB", src: "203.0.113.2", dst: "1.2.3.4:80", output: b(1), masq: true },
      { name: "pod to ClusterIP with eTP:Local", src: "10.0.0.2", dst: "172.30.0.42:80", output: b(2), masq: false },
      { name: "pod to NodePort with eTP:Local", src: "10.0.0.2", dst: "192.168.0.2:3002", output: b(2), masq: false },
      { name: "pod to LB with eTP:Local", src: "10.0.0.2", dst: "5.6.7.8:80", output: b(2), masq: false },
      { name: "node to ClusterIP with eTP:Local", src: "192.168.0.2", dst: "172.30.0.42:80", output: b(2), masq: true },
      // (sic) upstream uses svc1's NodePort here.
      {
        name: "node to NodePort with eTP:Local",
        src: "192.168.0.2",
        dst: "192.168.0.2:3001",
        output: b(1),
        masq: true,
      },
      { name: "node to LB with eTP:Local", src: "192.168.0.2", dst: "5.6.7.8:80", output: b(2), masq: true },
      {
        name: "external to ClusterIP with eTP:Local",
        src: "203.0.113.2",
        dst: "172.30.0.42:80",
        output: b(2),
        masq: true,
      },
      {
        name: "external to NodePort with eTP:Local",
        src: "203.0.113.2",
        dst: "192.168.0.2:3002",
        output: "10.180.0.2:80",
        masq: false,
      },
      {
        name: "external to LB with eTP:Local",
        src: "203.0.113.2",
        dst: "5.6.7.8:80",
        output: "10.180.0.2:80",
        masq: false,
      },
      {
        name: "pod to ClusterIP with iTP:Local",
        src: "10.0.0.2",
        dst: "172.30.0.43:80",
        output: "10.180.0.3:80",
        masq: false,
      },
      { name: "pod to NodePort with iTP:Local", src: "10.0.0.2", dst: "192.168.0.2:3003", output: b(3), masq: true },
      { name: "pod to LB with iTP:Local", src: "10.0.0.2", dst: "9.10.11.12:80", output: b(3), masq: true },
      {
        name: "node to ClusterIP with iTP:Local",
        src: "192.168.0.2",
        dst: "172.30.0.43:80",
        output: "10.180.0.3:80",
        masq: true,
      },
      {
        name: "node to NodePort with iTP:Local",
        src: "192.168.0.2",
        dst: "192.168.0.2:3003",
        output: b(3),
        masq: true,
      },
      { name: "node to LB with iTP:Local", src: "192.168.0.2", dst: "9.10.11.12:80", output: b(3), masq: true },
      {
        name: "external to ClusterIP with iTP:Local",
        src: "203.0.113.2",
        dst: "172.30.0.43:80",
        output: "10.180.0.3:80",
        masq: true,
      },
      {
        name: "external to NodePort with iTP:Local",
        src: "203.0.113.2",
        dst: "192.168.0.2:3003",
        output: b(3),
        masq: true,
      },
      { name: "external to LB with iTP:Local", src: "203.0.113.2", dst: "9.10.11.12:80", output: b(3), masq: true },
    ]
    const override = (flows: Flow[], changes: Record<string, Partial<Flow>>): Flow[] =>
      flows.map((f) => ({ ...f, ...(changes[f.name] ?? {}) }))
    const clusterIPMasqOff = Object.fromEntries(
      [
        "node to ClusterIP",
        "node to ClusterIP with eTP:Local",
        "node to ClusterIP with iTP:Local",
        "external to ClusterIP",
        "external to ClusterIP with eTP:Local",
        "external to ClusterIP with iTP:Local",
      ].map((n) => [n, { masq: false }]),
    )
    const noShortCircuit = {
      "pod to NodePort with eTP:Local": { output: "10.180.0.2:80" },
      "pod to LB with eTP:Local": { output: "10.180.0.2:80" },
    }
    const masqAll = Object.fromEntries(
      ["pod to ClusterIP", "pod to ClusterIP with eTP:Local", "pod to ClusterIP with iTP:Local"].map((n) => [
        n,
        { masq: true },
      ]),
    )
    runFlows(yaml, base)
    runFlows(yaml, override(base, { ...clusterIPMasqOff, ...noShortCircuit }), {
      ...FAKE_NFT_CONFIG,
      clusterCIDR: null,
    })
    runFlows(yaml, override(base, masqAll), { ...FAKE_NFT_CONFIG, masqueradeAll: true })
    runFlows(yaml, override(base, { ...masqAll, ...noShortCircuit }), {
      ...FAKE_NFT_CONFIG,
      masqueradeAll: true,
      clusterCIDR: null,
    })
  })
  it("TestInternalTrafficPolicy (and REJECT once the slice is deleted)", () => {
    const service = `
apiVersion: v1
kind: Service
metadata: {namespace: ns1, name: svc1}
spec:
  clusterIP: 172.30.1.1
  selector: {foo: bar}
  internalTrafficPolicy: ITP
  ports: [{name: "", port: 80, protocol: TCP}]`
    const eps = (list: [string, string][]) =>
      slice(
        "ns1",
        "svc1",
        `[${list.map(([ip, node]) => `{addresses: [${ip}], nodeName: ${node}, conditions: {ready: true}}`).join(", ")}]`,
        '[{name: "", port: 80, protocol: TCP}]',
      )
    const cases: [string, [string, string][], string][] = [
      [
        "Cluster",
        [
          ["10.0.1.1", "test-node"],
          ["10.0.1.2", "node1"],
          ["10.0.1.3", "node2"],
        ],
        "10.0.1.1:80, 10.0.1.2:80, 10.0.1.3:80",
      ],
      [
        "Local",
        [
          ["10.0.1.1", "test-node"],
          ["10.0.1.2", "node1"],
          ["10.0.1.3", "node2"],
        ],
        "10.0.1.1:80",
      ],
      [
        "Local",
        [
          ["10.0.1.1", "test-node"],
          ["10.0.1.2", "test-node"],
          ["10.0.1.3", "node2"],
        ],
        "10.0.1.1:80, 10.0.1.2:80",
      ],
      [
        "Local",
        [
          ["10.0.1.1", "node0"],
          ["10.0.1.2", "node1"],
          ["10.0.1.3", "node2"],
        ],
        "DROP",
      ],
    ]
    for (const [itp, list, output] of cases) {
      const svc = service.replace("ITP", itp)
      runFlows(svc + eps(list), [
        { name: `${itp} ${output}`, src: "10.0.0.2", dst: "172.30.1.1:80", output, masq: false },
      ])
      runFlows(svc, [{ name: "endpoints deleted", src: "10.0.0.2", dst: "172.30.1.1:80", output: "REJECT" }])
    }
  })

  const terminating = (policy: string, list: [number, boolean, boolean, boolean, string][]) =>
    `
apiVersion: v1
kind: Service
metadata: {namespace: ns1, name: svc1}
spec:
  type: LoadBalancer
  clusterIP: 172.30.1.1
  externalTrafficPolicy: ${policy}
  ${policy === "Local" ? "healthCheckNodePort: 30000" : ""}
  ports: [{name: "", port: 80, protocol: TCP, targetPort: 80}]
status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}` +
    slice(
      "ns1",
      "svc1",
      `[${list
        .map(
          ([n, ready, serving, term, node]) =>
            `{addresses: [10.0.1.${n}], nodeName: ${node}, conditions: {ready: ${ready}, serving: ${serving}, terminating: ${term}}}`,
        )
        .join(", ")}]`,
      '[{name: "", port: 80, protocol: TCP}]',
    )
  const L = "test-node"

  it("TestTerminatingEndpointsTrafficPolicyLocal", () => {
    const run = (list: [number, boolean, boolean, boolean, string][], pod: string, ext: string) =>
      runFlows(terminating("Local", list), [
        { name: "pod to clusterIP", src: "10.0.0.2", dst: "172.30.1.1:80", output: pod, masq: false },
        { name: "external to LB", src: "203.0.113.2", dst: "1.2.3.4:80", output: ext, masq: false },
      ])
    run(
      [
        [1, true, true, false, L],
        [2, true, true, false, L],
        [3, false, true, true, L],
        [4, false, false, true, L],
        [5, true, true, false, "node-1"],
      ],
      "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80",
      "10.0.1.1:80, 10.0.1.2:80",
    )
    run(
      [
        [2, false, true, true, L],
        [3, false, true, true, L],
        [4, false, false, true, L],
        [5, true, true, false, "node-1"],
      ],
      "10.0.1.5:80",
      "10.0.1.2:80, 10.0.1.3:80",
    )
    run([[5, false, true, true, "node-1"]], "10.0.1.5:80", "DROP")
    run(
      [
        [5, false, false, true, L],
        [5, false, false, true, "node-1"],
      ],
      "REJECT",
      "REJECT",
    )
  })

  it("TestTerminatingEndpointsTrafficPolicyCluster", () => {
    const run = (list: [number, boolean, boolean, boolean, string][], out: string) =>
      runFlows(terminating("Cluster", list), [
        { name: "pod to clusterIP", src: "10.0.0.2", dst: "172.30.1.1:80", output: out, masq: false },
        { name: "external to LB", src: "203.0.113.2", dst: "1.2.3.4:80", output: out, masq: true },
      ])
    const A = "another-node"
    run(
      [
        [1, true, true, false, L],
        [2, true, true, false, L],
        [3, false, true, true, A],
        [4, false, false, true, A],
        [5, true, true, false, A],
      ],
      "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80",
    )
    run(
      [
        [2, false, true, true, L],
        [3, false, true, true, L],
        [4, false, false, true, A],
        [5, false, true, true, A],
      ],
      "10.0.1.2:80, 10.0.1.3:80, 10.0.1.5:80",
    )
    run([[5, false, true, true, "node-1"]], "10.0.1.5:80")
    run(
      [
        [5, false, false, true, L],
        [5, false, false, true, "node-1"],
      ],
      "REJECT",
    )
  })
})
