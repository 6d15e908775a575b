/**
 * IPVS goldens G-IPVS-1..5: upstream kube-proxy IPVS unit-test expectations
 * (kubernetes/kubernetes pkg/proxy/ipvs/proxier_test.go, transcribed in
 * ../shared/reference/proxy-modes.md §3.5), compared the way upstream compares them (§3.4).
 * Inputs are the tests' Services and EndpointSlices as plain Kubernetes YAML.
 */
import { describe, expect, it } from "vitest"
import { compileIpvs } from "../../../src/proxy/ipvs/compile.ts"
import type { IpvsConfig } from "../../../src/proxy/ipvs/compile.ts"
import { parseManifests } from "../helpers.ts"
import { FAKE_IPVS_CONFIG, fakeIpvs, fakeNode, ipsetEntries, iptablesChains } from "./helpers.ts"

function compile(yaml: string, nodeIPs: readonly string[], config: Partial<IpvsConfig> = {}) {
  const { services, slices } = parseManifests(yaml)
  return compileIpvs(services, slices, fakeNode(nodeIPs), { ...FAKE_IPVS_CONFIG, ...config })
}

function nodePortService(protocol: string, extra = ""): string {
  return `
apiVersion: v1
kind: Service
metadata: { name: svc1, namespace: ns1 }
spec:
  type: NodePort
  clusterIP: 10.20.30.41
  ports: [ { name: p80, port: 80, protocol: ${protocol}, nodePort: 3001 } ]
${extra}
`
}

function slice(name: string, addressType: string, endpoints: string, protocol = "TCP", portName = "p80"): string {
  return `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}, namespace: ns1, labels: { kubernetes.io/service-name: svc1 } }
addressType: ${addressType}
endpoints: ${endpoints}
ports: [ { name: "${portName}", port: 80, protocol: ${protocol} } ]
`
}

const rr = (address: string, port: number, protocol: string) => ({ address, port, protocol, scheduler: "rr" })
const rs = (address: string, port = 80) => ({ address, port, weight: 1 })

describe("G-IPVS-1 TestNodePortIPv4", () => {
  it("1 service with node port, has 2 endpoints", () => {
    const result = compile(
      nodePortService("TCP") +
        slice("svc1-1", "IPv4", "[ { addresses: [ 10.180.0.1 ] } ]") +
        slice("svc1-2", "IPv6", '[ { addresses: [ "1002:ab8::2:10" ] } ]'),
      ["100.101.102.103", "2001:db8::1:1"],
      { nodePortAddresses: [] },
    )
    expect(fakeIpvs(result)).toEqual({
      services: {
        "10.20.30.41:80/TCP": rr("10.20.30.41", 80, "TCP"),
        "100.101.102.103:3001/TCP": rr("100.101.102.103", 3001, "TCP"),
      },
      destinations: {
        "10.20.30.41:80/TCP": [rs("10.180.0.1")],
        "100.101.102.103:3001/TCP": [rs("10.180.0.1")],
      },
    })
  })

  it("1 UDP service with node port, has endpoints", () => {
    const result = compile(
      nodePortService("UDP") + slice("svc1-1", "IPv4", "[ { addresses: [ 10.180.0.1 ] } ]", "UDP"),
      ["100.101.102.103"],
      { nodePortAddresses: ["0.0.0.0/0"] },
    )
    expect(fakeIpvs(result)).toEqual({
      services: {
        "10.20.30.41:80/UDP": rr("10.20.30.41", 80, "UDP"),
        "100.101.102.103:3001/UDP": rr("100.101.102.103", 3001, "UDP"),
      },
      destinations: {
        "10.20.30.41:80/UDP": [rs("10.180.0.1")],
        "100.101.102.103:3001/UDP": [rs("10.180.0.1")],
      },
    })
    expect(ipsetEntries(result, "KUBE-NODE-PORT-UDP")).toEqual(["3001"])
    expect(iptablesChains(result, "KUBE-NODE-PORT")).toEqual([
      ["KUBE-MARK-MASQ", "KUBE-NODE-PORT-UDP"],
      ["ACCEPT", "KUBE-HEALTH-CHECK-NODE-PORT"],
    ])
    expect(iptablesChains(result, "KUBE-SERVICES")).toEqual([
      ["RETURN", ""],
      ["KUBE-MARK-MASQ", "KUBE-CLUSTER-IP"],
      ["KUBE-NODE-PORT", ""],
      ["ACCEPT", "KUBE-CLUSTER-IP"],
    ])
    // The RETURN rule is the one with SourceAddress 127.0.0.0/8.
    expect(result.rules.find((r) => r.chain === "KUBE-SERVICES")?.spec).toBe("-s 127.0.0.0/8 -j RETURN")
  })

  it("service has node port but no endpoints", () => {
    const result = compile(nodePortService("TCP"), ["100.101.102.103"], { nodePortAddresses: [] })
    expect(fakeIpvs(result)).toEqual({
      services: {
        "10.20.30.41:80/TCP": rr("10.20.30.41", 80, "TCP"),
        "100.101.102.103:3001/TCP": rr("100.101.102.103", 3001, "TCP"),
      },
      destinations: { "10.20.30.41:80/TCP": [], "100.101.102.103:3001/TCP": [] },
    })
  })

  it("node port service with protocol sctp on a node with multiple nodeIPs", () => {
    const result = compile(
      nodePortService("SCTP") + slice("svc1-1", "IPv4", "[ { addresses: [ 10.180.0.1 ] } ]", "SCTP"),
      ["100.101.102.103", "100.101.102.104", "100.101.102.105", "2001:db8::1:1", "2001:db8::1:2", "2001:db8::1:3"],
      { nodePortAddresses: [] },
    )
    const keys = ["10.20.30.41:80", "100.101.102.103:3001", "100.101.102.104:3001", "100.101.102.105:3001"]
    expect(fakeIpvs(result)).toEqual({
      services: Object.fromEntries(
        keys.map((k) => {
          const [ip, port] = k.split(":")
          return [`${k}/SCTP`, rr(ip, Number(port), "SCTP")]
        }),
      ),
      destinations: Object.fromEntries(keys.map((k) => [`${k}/SCTP`, [rs("10.180.0.1")]])),
    })
    expect(ipsetEntries(result, "KUBE-NODE-PORT-SCTP-HASH")).toEqual([
      "100.101.102.103,sctp:3001",
      "100.101.102.104,sctp:3001",
      "100.101.102.105,sctp:3001",
    ])
  })

  it("node port service with protocol sctp and externalTrafficPolicy local", () => {
    const result = compile(
      nodePortService("SCTP", "  externalTrafficPolicy: Local") +
        slice(
          "svc1-1",
          "IPv4",
          "[ { addresses: [ 10.180.0.1 ], nodeName: test-node }, { addresses: [ 10.180.1.1 ], nodeName: other-node } ]",
          "SCTP",
        ),
      ["100.101.102.103"],
      { nodePortAddresses: [] },
    )
    expect(fakeIpvs(result)).toEqual({
      services: {
        "10.20.30.41:80/SCTP": rr("10.20.30.41", 80, "SCTP"),
        "100.101.102.103:3001/SCTP": rr("100.101.102.103", 3001, "SCTP"),
      },
      destinations: {
        "10.20.30.41:80/SCTP": [rs("10.180.0.1"), rs("10.180.1.1")],
        "100.101.102.103:3001/SCTP": [rs("10.180.0.1")],
      },
    })
    expect(ipsetEntries(result, "KUBE-NODE-PORT-SCTP-HASH")).toEqual(["100.101.102.103,sctp:3001"])
    expect(ipsetEntries(result, "KUBE-NODE-PORT-LOCAL-SCTP-HASH")).toEqual(["100.101.102.103,sctp:3001"])
    expect(iptablesChains(result, "KUBE-NODE-PORT")).toEqual([
      ["RETURN", "KUBE-NODE-PORT-LOCAL-SCTP-HASH"],
      ["KUBE-MARK-MASQ", "KUBE-NODE-PORT-SCTP-HASH"],
      ["ACCEPT", "KUBE-HEALTH-CHECK-NODE-PORT"],
    ])
  })
})

describe("G-IPVS-2 TestClusterIP", () => {
  const svc1 = `
apiVersion: v1
kind: Service
metadata: { name: svc1, namespace: ns1 }
spec: { clusterIP: 10.20.30.41, ports: [ { name: p80, port: 80, protocol: TCP } ] }
`
  it("2 services with Cluster IP, each with endpoints (the IPv6 one is ignored)", () => {
    const result = compile(
      svc1 +
        `---
apiVersion: v1
kind: Service
metadata: { name: svc2, namespace: ns2 }
spec: { clusterIP: "1002:ab8::2:1", ports: [ { name: p8080, port: 8080, protocol: TCP } ] }
` +
        slice("svc1-1", "IPv4", "[ { addresses: [ 10.180.0.1 ] } ]") +
        `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: svc2-1, namespace: ns2, labels: { kubernetes.io/service-name: svc2 } }
addressType: IPv6
endpoints: [ { addresses: [ "1009:ab8::5:6" ] } ]
ports: [ { name: p8080, port: 8080, protocol: TCP } ]
`,
      [],
    )
    expect(fakeIpvs(result)).toEqual({
      services: { "10.20.30.41:80/TCP": rr("10.20.30.41", 80, "TCP") },
      destinations: { "10.20.30.41:80/TCP": [rs("10.180.0.1")] },
    })
  })

  it("cluster IP service with no endpoints", () => {
    const result = compile(svc1, [])
    expect(fakeIpvs(result)).toEqual({
      services: { "10.20.30.41:80/TCP": rr("10.20.30.41", 80, "TCP") },
      destinations: { "10.20.30.41:80/TCP": [] },
    })
  })
})

describe("G-IPVS-3 TestSessionAffinity", () => {
  it("every virtual server is persistent with the affinity timeout", () => {
    const result = compile(
      `
apiVersion: v1
kind: Service
metadata: { name: svc1, namespace: ns1 }
spec:
  type: NodePort
  clusterIP: 10.20.30.41
  externalIPs: [ 50.60.70.81 ]
  sessionAffinity: ClientIP
  sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } }
  ports: [ { name: p80, port: 80, protocol: TCP, nodePort: 3001 } ]
`,
      ["100.101.102.103"],
    )
    // Upstream asserts Timeout == 10800 on every VS; the VS set and flags are DERIVED in §3.5.
    expect(result.virtualServers.map((vs) => vs.key)).toEqual([
      "10.20.30.41:80/TCP",
      "50.60.70.81:80/TCP",
      "100.101.102.103:3001/TCP",
    ])
    for (const vs of result.virtualServers) {
      expect(vs.timeoutSeconds).toBe(10800)
      expect(vs.flags).toBe(0x1)
      expect(vs.scheduler).toBe("rr")
    }
  })
})

function lbService(name: string, extraSpec: string, ingress = "1.2.3.4", nodePort = "nodePort: 3001"): string {
  return `---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ns1 }
spec:
  type: LoadBalancer
  clusterIP: 10.20.30.41
  ports: [ { name: p80, port: 80, protocol: TCP${nodePort === "" ? "" : `, ${nodePort}`} } ]
${extraSpec}
status: { loadBalancer: { ingress: [ { ip: ${ingress} } ] } }
`
}

const localEndpoints =
  "[ { addresses: [ 10.180.0.1 ], nodeName: test-node }, { addresses: [ 10.180.1.1 ], nodeName: other-node } ]"

/** checkIPVS(fp, {VSNum, IP, Port, Protocol, RS}) */
function checkIpvs(
  result: ReturnType<typeof compile>,
  vsNum: number,
  key: string,
  realServers: { address: string; port: number }[] | null,
): void {
  expect(result.virtualServers).toHaveLength(vsNum)
  const vs = result.virtualServers.find((v) => v.key === key)
  if (realServers === null) {
    expect(vs).toBeUndefined()
    return
  }
  expect(vs).toBeDefined()
  expect(vs?.realServers.map((r) => ({ address: r.address, port: r.port }))).toEqual(realServers)
}

describe("G-IPVS-4 load balancers, local policies, health checks, accept rules", () => {
  it("TestLoadBalancer", () => {
    const result = compile(
      lbService("svc1", "") + slice("svc1-1", "IPv4", "[ { addresses: [ 10.180.0.1 ] } ]", "UDP"),
      [],
    )
    // The upstream filter 1.2.3.4:3001/TCP matches no VS, so only the count is checked.
    checkIpvs(result, 2, "1.2.3.4:3001/TCP", null)
    expect(ipsetEntries(result, "KUBE-LOAD-BALANCER")).toEqual(["1.2.3.4,tcp:80"])
    expect(iptablesChains(result, "KUBE-SERVICES")).toEqual([
      ["RETURN", ""],
      ["KUBE-LOAD-BALANCER", "KUBE-LOAD-BALANCER"],
      ["KUBE-MARK-MASQ", "KUBE-CLUSTER-IP"],
      ["KUBE-NODE-PORT", ""],
      ["ACCEPT", "KUBE-CLUSTER-IP"],
      ["ACCEPT", "KUBE-LOAD-BALANCER"],
    ])
    expect(iptablesChains(result, "KUBE-LOAD-BALANCER")).toEqual([["KUBE-MARK-MASQ", ""]])
  })

  it("TestLoadBalancerSourceRanges", () => {
    const result = compile(
      lbService("svc1", "  loadBalancerSourceRanges: [ 10.0.0.0/8 ]", "1.2.3.4", "") +
        slice("svc1-1", "IPv4", "[ { addresses: [ 10.180.0.1 ] } ]"),
      [],
    )
    checkIpvs(result, 2, "1.2.3.4:80/TCP", [{ address: "10.180.0.1", port: 80 }])
    expect(ipsetEntries(result, "KUBE-LOAD-BALANCER")).toEqual(["1.2.3.4,tcp:80"])
    expect(ipsetEntries(result, "KUBE-LOAD-BALANCER-FW")).toEqual(["1.2.3.4,tcp:80"])
    expect(ipsetEntries(result, "KUBE-LOAD-BALANCER-SOURCE-CIDR")).toEqual(["1.2.3.4,tcp:80,10.0.0.0/8"])
    expect(iptablesChains(result, "KUBE-SERVICES")).toEqual([
      ["RETURN", ""],
      ["KUBE-LOAD-BALANCER", "KUBE-LOAD-BALANCER"],
      ["KUBE-MARK-MASQ", "KUBE-CLUSTER-IP"],
      ["KUBE-NODE-PORT", ""],
      ["ACCEPT", "KUBE-CLUSTER-IP"],
      ["ACCEPT", "KUBE-LOAD-BALANCER"],
    ])
    expect(iptablesChains(result, "KUBE-PROXY-FIREWALL")).toEqual([
      ["KUBE-SOURCE-RANGES-FIREWALL", "KUBE-LOAD-BALANCER-FW"],
    ])
    expect(iptablesChains(result, "KUBE-SOURCE-RANGES-FIREWALL")).toEqual([
      ["RETURN", "KUBE-LOAD-BALANCER-SOURCE-CIDR"],
      ["DROP", ""],
    ])
  })

  it("TestOnlyLocalLoadBalancing", () => {
    const result = compile(
      lbService("svc1", "  externalTrafficPolicy: Local") + slice("svc1-1", "IPv4", localEndpoints),
      [],
    )
    checkIpvs(result, 2, "1.2.3.4:80/TCP", [{ address: "10.180.0.1", port: 80 }])
    expect(ipsetEntries(result, "KUBE-LOAD-BALANCER")).toEqual(["1.2.3.4,tcp:80"])
    expect(ipsetEntries(result, "KUBE-LOAD-BALANCER-LOCAL")).toEqual(["1.2.3.4,tcp:80"])
    expect(iptablesChains(result, "KUBE-SERVICES")).toEqual([
      ["RETURN", ""],
      ["KUBE-LOAD-BALANCER", "KUBE-LOAD-BALANCER"],
      ["KUBE-MARK-MASQ", "KUBE-CLUSTER-IP"],
      ["KUBE-NODE-PORT", ""],
      ["ACCEPT", "KUBE-CLUSTER-IP"],
      ["ACCEPT", "KUBE-LOAD-BALANCER"],
    ])
    expect(iptablesChains(result, "KUBE-LOAD-BALANCER")).toEqual([
      ["RETURN", "KUBE-LOAD-BALANCER-LOCAL"],
      ["KUBE-MARK-MASQ", ""],
    ])
  })

  it("TestOnlyLocalNodePorts", () => {
    const result = compile(
      nodePortService("TCP", "  externalTrafficPolicy: Local") + slice("svc1-1", "IPv4", localEndpoints),
      ["100.101.102.103", "2001:db8::"],
      { nodePortAddresses: ["100.101.102.0/24"] },
    )
    checkIpvs(result, 2, "100.101.102.103:3001/TCP", [{ address: "10.180.0.1", port: 80 }])
    expect(ipsetEntries(result, "KUBE-NODE-PORT-TCP")).toEqual(["3001"])
    expect(ipsetEntries(result, "KUBE-NODE-PORT-LOCAL-TCP")).toEqual(["3001"])
    expect(iptablesChains(result, "KUBE-SERVICES")).toEqual([
      ["RETURN", ""],
      ["KUBE-MARK-MASQ", "KUBE-CLUSTER-IP"],
      ["KUBE-NODE-PORT", ""],
      ["ACCEPT", "KUBE-CLUSTER-IP"],
    ])
    expect(iptablesChains(result, "KUBE-NODE-PORT")).toEqual([
      ["RETURN", "KUBE-NODE-PORT-LOCAL-TCP"],
      ["KUBE-MARK-MASQ", "KUBE-NODE-PORT-TCP"],
      ["ACCEPT", "KUBE-HEALTH-CHECK-NODE-PORT"],
    ])
  })

  it("TestHealthCheckNodePort", () => {
    const result = compile(
      lbService(
        "valid-svc1",
        "  externalTrafficPolicy: Local\n  healthCheckNodePort: 30000",
        "1.2.3.4",
        "nodePort: 3000",
      ) +
        lbService(
          "valid-svc2",
          "  externalTrafficPolicy: Local\n  healthCheckNodePort: 30001",
          "1.2.3.4",
          "nodePort: 3000",
        ) +
        lbService(
          "invalid-svc3",
          "  externalTrafficPolicy: Cluster\n  healthCheckNodePort: 30002",
          "1.2.3.4",
          "nodePort: 3000",
        ),
      ["100.101.102.103", "2001:db8::"],
      { nodePortAddresses: ["100.101.102.0/24"] },
    )
    expect(ipsetEntries(result, "KUBE-HEALTH-CHECK-NODE-PORT")).toEqual(["30000", "30001"])
    expect(iptablesChains(result, "KUBE-NODE-PORT")).toEqual([
      ["RETURN", "KUBE-NODE-PORT-LOCAL-TCP"],
      ["KUBE-MARK-MASQ", "KUBE-NODE-PORT-TCP"],
      ["ACCEPT", "KUBE-HEALTH-CHECK-NODE-PORT"],
    ])
  })

  it("TestAcceptIPVSTraffic", () => {
    const result = compile(
      `
apiVersion: v1
kind: Service
metadata: { name: svc1, namespace: ns1 }
spec: { type: ClusterIP, clusterIP: 10.20.30.40, externalIPs: [ 5.6.7.8 ], ports: [ { name: p80, port: 80, protocol: TCP, nodePort: 80 } ] }
---
apiVersion: v1
kind: Service
metadata: { name: svc2, namespace: ns1 }
spec: { type: LoadBalancer, clusterIP: 10.20.30.41, ports: [ { name: p80, port: 80, protocol: TCP, nodePort: 80 } ] }
status: { loadBalancer: { ingress: [ { ip: 1.2.3.4 } ] } }
---
apiVersion: v1
kind: Service
metadata: { name: svc3, namespace: ns1 }
spec: { type: NodePort, clusterIP: 10.20.30.42, ports: [ { name: p80, port: 80, protocol: TCP, nodePort: 80 } ] }
`,
      [],
    )
    expect(iptablesChains(result, "KUBE-SERVICES")).toEqual([
      ["RETURN", ""],
      ["KUBE-LOAD-BALANCER", "KUBE-LOAD-BALANCER"],
      ["KUBE-MARK-MASQ", "KUBE-CLUSTER-IP"],
      ["KUBE-MARK-MASQ", "KUBE-EXTERNAL-IP"],
      ["ACCEPT", "KUBE-EXTERNAL-IP"],
      ["ACCEPT", "KUBE-EXTERNAL-IP"],
      ["KUBE-NODE-PORT", ""],
      ["ACCEPT", "KUBE-CLUSTER-IP"],
      ["ACCEPT", "KUBE-LOAD-BALANCER"],
    ])
  })
})

describe("G-IPVS-5 terminating endpoints (Test_EndpointSlice*, TestTestInternalTrafficPolicyE2E)", () => {
  function service(etp: string, itp = "Cluster"): string {
    return `
apiVersion: v1
kind: Service
metadata: { name: svc1, namespace: ns1 }
spec:
  type: NodePort
  clusterIP: 172.20.1.1
  externalIPs: [ 1.2.3.4 ]
  externalTrafficPolicy: ${etp}
  internalTrafficPolicy: ${itp}
  ports: [ { name: "", port: 80, protocol: TCP, targetPort: 80 } ]
`
  }
  /** (ready, serving, terminating) and node per endpoint 10.0.1.<i+1>. */
  function endpoints(list: [boolean, boolean, boolean, string][]): string {
    return `[ ${list
      .map(
        ([ready, serving, terminating, node], i) =>
          `{ addresses: [ 10.0.1.${i + 1} ], conditions: { ready: ${ready}, serving: ${serving}, terminating: ${terminating} }, nodeName: ${node} }`,
      )
      .join(", ")} ]`
  }
  const T = true
  const F = false
  const readyAndTerminating = endpoints([
    [T, T, F, "test-node"],
    [T, T, F, "test-node"],
    [F, T, T, "test-node"],
    [F, F, T, "test-node"],
    [T, T, F, "another-node"],
  ])
  const loopBack = (n: number) => Array.from({ length: n }, (_, i) => `10.0.1.${i + 1},tcp:80,10.0.1.${i + 1}`)
  const servers = (...last: number[]) => last.map((i) => ({ address: `10.0.1.${i}`, port: 80 }))
  const realServers = (result: ReturnType<typeof compile>, key: string) =>
    result.virtualServers.find((v) => v.key === key)?.realServers.map((r) => ({ address: r.address, port: r.port }))

  const cases: { name: string; etp: string; eps: string; loop: number; cluster: number[]; external: number[] }[] = [
    {
      name: "ReadyAndTerminatingCluster",
      etp: "Cluster",
      eps: readyAndTerminating,
      loop: 4,
      cluster: [1, 2, 5],
      external: [1, 2, 5],
    },
    {
      name: "ReadyAndTerminatingLocal",
      etp: "Local",
      eps: readyAndTerminating,
      loop: 4,
      cluster: [1, 2, 5],
      external: [1, 2],
    },
    {
      name: "OnlyReadyAndTerminatingCluster",
      etp: "Cluster",
      eps: endpoints([
        [F, T, T, "test-node"],
        [F, T, T, "test-node"],
        [F, F, T, "test-node"],
        [F, T, T, "another-node"],
        [F, F, F, "another-node"],
      ]),
      loop: 3,
      cluster: [1, 2, 4],
      external: [1, 2, 4],
    },
    {
      name: "OnlyReadyAndTerminatingLocal",
      etp: "Local",
      eps: endpoints([
        [F, T, T, "test-node"],
        [F, T, T, "test-node"],
        [F, F, T, "test-node"],
        [F, T, T, "another-node"],
        [T, T, F, "another-node"],
      ]),
      loop: 3,
      cluster: [5],
      external: [1, 2],
    },
  ]
  for (const c of cases) {
    it(`Test_EndpointSlice${c.name}`, () => {
      const result = compile(service(c.etp) + slice("svc1-abc", "IPv4", c.eps, "TCP", ""), [])
      expect(ipsetEntries(result, "KUBE-LOOP-BACK")).toEqual(loopBack(c.loop))
      expect(result.virtualServers.map((v) => v.key)).toEqual(["172.20.1.1:80/TCP", "1.2.3.4:80/TCP"])
      expect(realServers(result, "172.20.1.1:80/TCP")).toEqual(servers(...c.cluster))
      expect(realServers(result, "1.2.3.4:80/TCP")).toEqual(servers(...c.external))
      // After the slice is deleted: no hairpin entries, both virtual servers left without real servers.
      const deleted = compile(service(c.etp), [])
      expect(ipsetEntries(deleted, "KUBE-LOOP-BACK")).toEqual([])
      expect(deleted.virtualServers.map((v) => v.realServers.length)).toEqual([0, 0])
    })
  }

  function itpService(itp: string): string {
    return `
apiVersion: v1
kind: Service
metadata: { name: svc1, namespace: ns1 }
spec: { clusterIP: 172.20.1.1, internalTrafficPolicy: ${itp}, ports: [ { name: "", port: 80, protocol: TCP, targetPort: 80 } ] }
`
  }
  const itpEndpoints = (nodes: string[]) =>
    `[ ${nodes.map((n, i) => `{ addresses: [ 10.0.1.${i + 1} ], conditions: { ready: true }, nodeName: ${n} }`).join(", ")} ]`

  it("TestTestInternalTrafficPolicyE2E", () => {
    const cluster = compile(
      itpService("Cluster") + slice("svc1-abc", "IPv4", itpEndpoints(["test-node", "node1", "node2"]), "TCP", ""),
      [],
    )
    expect(cluster.virtualServers).toHaveLength(1)
    expect(realServers(cluster, "172.20.1.1:80/TCP")).toEqual(servers(1, 2, 3))
    expect(ipsetEntries(cluster, "KUBE-LOOP-BACK")).toHaveLength(1)

    const local = compile(
      itpService("Local") + slice("svc1-abc", "IPv4", itpEndpoints(["test-node", "node1", "node2"]), "TCP", ""),
      [],
    )
    expect(realServers(local, "172.20.1.1:80/TCP")).toEqual(servers(1))

    const noLocal = compile(
      itpService("Local") + slice("svc1-abc", "IPv4", itpEndpoints(["node0", "node1", "node2"]), "TCP", ""),
      [],
    )
    expect(ipsetEntries(noLocal, "KUBE-LOOP-BACK")).toHaveLength(0)
    // Not asserted upstream (expectVirtualServer: false). By the code the fallback is the cluster
    // endpoints, which CategorizeEndpoints leaves empty for an ITP=Local service that is not
    // externally accessible (UsesClusterEndpoints is false): no real servers.
    expect(realServers(noLocal, "172.20.1.1:80/TCP")).toEqual([])
    expect(noLocal.noLocalEndpointsInternal).toEqual(["ns1/svc1"])

    const deleted = compile(itpService("Cluster"), [])
    expect(deleted.virtualServers).toHaveLength(1)
    expect(deleted.virtualServers[0]?.realServers).toEqual([])
  })
})
