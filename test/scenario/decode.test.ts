/**
 * Scenario decoding: every shipped scenario decodes without issues; defaults are filled; bad
 * input yields every error at once, each printed as `file:line:column: path: message`.
 */
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { formatIssue } from "../../src/scenario/issues.ts"
import { decodeScenarioText, loadScenario, type ReadFile } from "../../src/scenario/load.ts"
import { simulatedProxyModes } from "../../src/cluster/proxy-backends.ts"

const ROOT = join(import.meta.dirname, "..", "..")

function scenarioFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory() && entry.name !== "manifests") out.push(...scenarioFiles(path))
    else if (entry.isFile() && entry.name.endsWith(".yaml")) out.push(path)
  }
  return out.sort()
}

const SCENARIOS = scenarioFiles(join(ROOT, "scenarios"))

/** Decodes `text` as `s.yaml` with extra in-memory files; returns printed issue lines. */
function issuesOf(text: string, files: Record<string, string> = {}): string[] {
  const readFile: ReadFile = (path) => {
    const content = files[path]
    if (content === undefined) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" })
    return content
  }
  const result = decodeScenarioText("s.yaml", text, readFile)
  return result.ok ? result.scenario.warnings.map(formatIssue) : result.issues.map(formatIssue)
}

const HEAD = "apiVersion: kube-netsim/v1\nkind: Scenario\nmetadata: { name: t }\n"

describe("shipped scenarios", () => {
  it("finds the scenarios", () => {
    expect(SCENARIOS.length).toBeGreaterThanOrEqual(5)
  })
  for (const file of SCENARIOS) {
    it(`decodes ${file.slice(ROOT.length + 1)} without issues`, () => {
      const result = loadScenario(file)
      if (!result.ok) expect(result.issues.map(formatIssue)).toEqual([])
      expect(result.ok && result.scenario.warnings.map(formatIssue)).toEqual([])
    })
  }

  it("fills the documented defaults (quickstart)", () => {
    const result = loadScenario(join(ROOT, "scenarios", "quickstart.yaml"))
    if (!result.ok) throw new Error("quickstart must decode")
    const spec = result.scenario.spec
    expect(spec.cluster.nodes.map((n) => n.name)).toEqual(["node-1", "node-2", "node-3"])
    expect(spec.cluster.serviceCIDR).toBe("10.96.0.0/12")
    expect(spec.cluster.network).toEqual({
      sameNodeLatencyNs: 20_000,
      crossNodeLatencyNs: 250_000,
      crossZoneLatencyNs: 1_000_000,
      externalLatencyNs: 5_000_000,
      bandwidthBitsPerSecond: 10_000_000_000,
      mtuBytes: 1500,
      lossPartsPerMillion: 0,
      queuePacketsMax: 1000,
    })
    expect(spec.kubeProxy.syncPeriodNs).toBe(30e9)
    expect(spec.kubeProxy.minSyncPeriodNs).toBe(1e9)
    expect(spec.kubeProxy.conntrack).toEqual({
      // The kernel's own nf_conntrack_max; kube-proxy writes max(32768 x CPUs, 131072) over it.
      max: 262144,
      maxPerCore: 32768,
      min: 131072,
      tcpBeLiberal: false,
      tcpEstablishedTimeoutNs: 86400e9,
      tcpCloseWaitTimeoutNs: 3600e9,
      udpTimeoutNs: 30e9,
      udpStreamTimeoutNs: 120e9,
    })
    expect(spec.workloads[0].arrival).toEqual({ kind: "poisson", ratePerSecond: 200 })
    expect(spec.workloads[0].to).toEqual({ scheme: "http", host: "http-go-svc", port: 80, path: "/" })
    expect(
      spec.manifests.map((m) => `${m.object.kind}/${m.object.metadata.namespace}/${m.object.metadata.name}`),
    ).toEqual(["Deployment/default/http-go", "Service/default/http-go-svc", "Pod/default/busybox"])
    expect(result.scenario.expectations.map((e) => e.text)).toEqual([
      "completedAtLeast: 990",
      "failedAtMost: 10",
      "endpointsAtLeast: 3",
    ])
  })

  it("locates manifest fields in their own file (seed 000)", () => {
    const result = loadScenario(join(ROOT, "scenarios", "seed-000-cluster-test-01.yaml"))
    if (!result.ok) throw new Error("seed 000 must decode")
    const service = result.scenario.spec.manifests.find((m) => m.object.kind === "Service")
    expect(service?.locate(["spec", "ports", 0, "port"])).toEqual({
      file: join(ROOT, "scenarios", "manifests", "cluster-test-01-service.yaml"),
      line: 12,
      column: 13,
    })
    expect(
      result.scenario.spec.manifests.every(
        (m) => m.object.metadata.namespace === "cluster-test-01" || m.object.kind === "Namespace",
      ),
    ).toBe(true)
  })
})

describe("errors", () => {
  it("reports every error at once with file:line:column: path: message", () => {
    const text = `${HEAD}duration: 10 sec
cluster:
  podCIDR: 10.244.0.1/16
  nodes: { count: 2, colour: blue }
workloads:
  - name: w
    from: pod/missing
    to: http://svc/
    arrival: { poisson: 200 }
`
    expect(issuesOf(text)).toEqual([
      `s.yaml:4:11: duration: invalid duration "10 sec": expected a number followed by a unit (ns, us, µs, ms, s, m, h), e.g. 250us, 10ms, 1.5s`,
      `s.yaml:6:12: cluster.podCIDR: invalid CIDR "10.244.0.1/16": host bits are set (did you mean 10.244.0.0/16?)`,
      "s.yaml:7:22: cluster.nodes.colour: unknown field",
      "s.yaml:12:25: workloads[0].arrival.poisson: invalid rate 200: a rate needs a unit, e.g. 200/s",
    ])
  })

  it("checks references after the schema passes", () => {
    const text = `${HEAD}manifests:
  - inline:
      apiVersion: apps/v1
      kind: Deployment
      metadata: { name: web }
      spec:
        selector: { matchLabels: { app: web } }
        template:
          metadata: { labels: { app: web } }
          spec: { containers: [{ name: web, image: nginx }] }
  - inline:
      apiVersion: v1
      kind: Service
      metadata: { name: other }
      spec: { selector: { app: nothing }, ports: [{ port: 80 }] }
workloads:
  - { name: w, from: pod/web, to: "http://web/" }
  - { name: w, from: node/node-9, to: "udp://10.96.0.10" }
timeline:
  - { at: 1s, scale: deployment/nope, replicas: 2 }
expect:
  - { workload: x, completedAtLeast: 1 }
`
    expect(issuesOf(text)).toEqual([
      's.yaml:18:25: spec.selector: warning: Service other selects app=nothing but no Pod or Deployment template in namespace "default" has these labels (it will have no endpoints)',
      's.yaml:20:22: workloads[0].from: no Pod "web" in namespace "default" (to send from the replicas of Deployment web, write deployment/web)',
      's.yaml:21:13: workloads[1].name: duplicate workload name "w"',
      's.yaml:21:22: workloads[1].from: no node "node-9" (nodes: node-1, node-2, node-3)',
      's.yaml:21:39: workloads[1].to: invalid target "udp://10.96.0.10": udp needs a port (udp://HOST:PORT)',
      's.yaml:23:22: timeline[0].scale: no Deployment "nope" in namespace "default"',
      's.yaml:25:17: expect[0].workload: no workload named "x"',
    ])
  })

  it("decodes manifests with Kubernetes' own rules", () => {
    const manifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: -1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: webb } }
    spec:
      containers:
        - name: web
          image: nginx
          imagePullPolicy: Always
          resources: { limits: { cpu: 1 } }
          ports: [{ containerPort: "80", protocl: TCP }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: cfg }
---
apiVersion: extensions/v1beta1
kind: Deployment
metadata: { name: old }
---
apiVersion: v1
kind: Service
metadata: { name: svc }
spec:
  type: NodePort
  ports:
    - { port: 80, nodePort: 80 }
    - { port: 81 }
`
    expect(
      issuesOf(`${HEAD}manifests:\n  - path: m/web.yaml\n  - path: m/missing.yaml\n`, { "m/web.yaml": manifest }),
    ).toEqual(
      [
        "m/web.yaml:6:13: spec.replicas: must not be negative",
        'm/web.yaml:16:42: spec.template.spec.containers[0].ports[0].protocl: warning: unknown field "protocl" (ignored)',
        'm/web.yaml:16:36: spec.template.spec.containers[0].ports[0].containerPort: expected number, got "80"',
        "m/web.yaml:19:7: kind: warning: kind ConfigMap (v1) is not simulated; object skipped",
        'm/web.yaml:22:13: apiVersion: no matches for kind "Deployment" in version "extensions/v1beta1" (the simulator serves Deployment at apps/v1)',
        "m/web.yaml:32:7: spec.ports[0].name: Required value (every port of a multi-port Service needs a name)",
        "m/web.yaml:32:29: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767",
        "m/web.yaml:33:7: spec.ports[1].name: Required value (every port of a multi-port Service needs a name)",
        "s.yaml:6:11: manifests[1].path: cannot read manifest file m/missing.yaml: no such file",
      ].sort(byPosition),
    )
  })

  it("reports YAML syntax errors with their position", () => {
    expect(issuesOf(`${HEAD}seed: 1\nseed: 2\n`)).toEqual(["s.yaml:5:1: YAML syntax error: Map keys must be unique"])
    expect(issuesOf(`${HEAD}workloads: [ { name: a\n`)[0]).toMatch(/^s\.yaml:\d+:\d+: YAML syntax error: /)
  })

  it("rejects an empty file and a wrong kind", () => {
    expect(issuesOf("")).toEqual([
      "s.yaml:1:1: empty scenario file: expected apiVersion: kube-netsim/v1, kind: Scenario",
    ])
    expect(issuesOf("apiVersion: kube-netsim/v1\nkind: Scenaro\nmetadata: { name: t }\n")).toEqual([
      's.yaml:2:7: kind: expected "Scenario", got "Scenaro"',
    ])
  })

  it("refuses proxy modes that are not simulated yet and warns about DNS settings with no effect", () => {
    const simulated = simulatedProxyModes()
    expect(simulated).toContain("iptables")
    for (const mode of ["iptables", "ipvs", "nftables", "userspace"]) {
      expect(issuesOf(`${HEAD}kubeProxy: { mode: ${mode} }\n`)).toEqual(
        simulated.includes(mode as never)
          ? []
          : [
              `s.yaml:4:20: kubeProxy.mode: kube-proxy mode ${mode} is not simulated yet (simulated: ${simulated.join(", ")})`,
            ],
      )
    }
    expect(issuesOf(`${HEAD}dns: { nodeLocal: { enabled: true } }\n`)).toEqual([])
  })

  it("refuses address ranges with no room for every node (they were internal errors at run time)", () => {
    // bridge: a /24 pod subnet per node is carved from podCIDR (kube-controller-manager --node-cidr-mask-size 24).
    expect(issuesOf(`${HEAD}cluster: { nodes: { count: 2 }, podCIDR: 10.32.0.0/28 }\n`)).toEqual([
      "s.yaml:4:42: cluster.podCIDR: 10.32.0.0/28 is narrower than the /24 pod subnet each node gets (kube-controller-manager --node-cidr-mask-size); use a /24 or wider",
    ])
    expect(issuesOf(`${HEAD}cluster: { nodes: { count: 2 }, podCIDR: 10.32.0.0/24 }\n`)).toEqual([
      "s.yaml:4:42: cluster.podCIDR: 10.32.0.0/24 has room for 1 node pod subnet (/24) but the cluster has 2 nodes",
    ])
    expect(issuesOf(`${HEAD}cluster: { nodes: { count: 2 }, podCIDR: 10.32.0.0/23 }\n`)).toEqual([])
    // aws-vpc: pods take VPC addresses, so the pod CIDR's width does not matter.
    expect(issuesOf(`${HEAD}cluster: { nodes: { count: 2 }, cni: aws-vpc, podCIDR: 10.32.0.0/28 }\n`)).toEqual([])
    // nodeCIDR: .1 is the bridge gateway; AWS reserves 5 addresses of a VPC subnet.
    expect(issuesOf(`${HEAD}cluster: { nodes: { count: 6 }, nodeCIDR: 10.0.0.0/29 }\n`)).toEqual([
      "s.yaml:4:43: cluster.nodeCIDR: 10.0.0.0/29 has room for 5 node addresses (.1 is the gateway) but the cluster has 6 nodes",
    ])
    expect(issuesOf(`${HEAD}cluster: { nodes: { count: 4 }, cni: aws-vpc, nodeCIDR: 10.0.0.0/29 }\n`)).toEqual([
      "s.yaml:4:57: cluster.nodeCIDR: 10.0.0.0/29 has room for 3 node addresses (AWS reserves 5 per subnet) but the cluster has 4 nodes",
    ])
    expect(issuesOf(`${HEAD}cluster: { nodes: { count: 3 }, cni: aws-vpc, nodeCIDR: 10.0.0.0/29 }\n`)).toEqual([])
  })

  it("refuses an empty TCP request (it was an internal error at run time); UDP and ICMP may be empty", () => {
    const workload = (to: string): string =>
      `${HEAD}manifests: [{ inline: { apiVersion: v1, kind: Pod, metadata: { name: c }, spec: { containers: [{ name: c, image: busybox }] } } }]\nworkloads: [{ name: w, from: pod/c, to: "${to}", requestBytes: 0 }]\n`
    expect(issuesOf(workload("http://10.0.0.2/"))).toEqual([
      "s.yaml:5:75: workloads[0].requestBytes: must be at least 1 for http:// targets (a request is bytes on the connection)",
    ])
    expect(issuesOf(workload("tcp://10.0.0.2:80"))).toEqual([
      "s.yaml:5:76: workloads[0].requestBytes: must be at least 1 for tcp:// targets (a request is bytes on the connection)",
    ])
    expect(issuesOf(workload("udp://10.0.0.2:53"))).toEqual([])
    expect(issuesOf(workload("icmp://10.0.0.2"))).toEqual([])
  })

  it("checks load-balancer pool entries with the allocator's parser (host bits were an internal error)", () => {
    expect(issuesOf(`${HEAD}loadBalancer: { pool: [198.51.100.10/30] }\n`)).toEqual([
      's.yaml:4:24: loadBalancer.pool[0]: invalid pool entry "198.51.100.10/30": host bits are set (did you mean 198.51.100.8/30?)',
    ])
    expect(issuesOf(`${HEAD}loadBalancer: { pool: [198.51.100.20-198.51.100.10] }\n`)).toEqual([
      's.yaml:4:24: loadBalancer.pool[0]: invalid pool entry "198.51.100.20-198.51.100.10": expected a range FIRST-LAST of IPv4 addresses with FIRST <= LAST (192.168.1.240-192.168.1.250)',
    ])
    expect(issuesOf(`${HEAD}loadBalancer: { pool: [198.51.100.8/30, 198.51.100.20-198.51.100.30] }\n`)).toEqual([])
  })

  it("parses addresses and CIDRs with ip-address: IPv6 is refused as not modelled, malformed IPv4 says why", () => {
    expect(
      issuesOf(`${HEAD}cluster: { podCIDR: "fd00:10:244::/56", serviceCIDR: 10.96.0.0/33, nodeCIDR: 10.0.0.0/08 }\n`),
    ).toEqual([
      's.yaml:4:21: cluster.podCIDR: CIDR "fd00:10:244::/56" is IPv6: IPv6 is not modelled (the simulator is IPv4 single-stack)',
      's.yaml:4:54: cluster.serviceCIDR: invalid CIDR "10.96.0.0/33": the prefix length must be 0 to 32',
      's.yaml:4:78: cluster.nodeCIDR: invalid CIDR "10.0.0.0/08": the prefix length must be 0 to 32',
    ])
    expect(
      issuesOf(
        `${HEAD}externalHosts: [{ name: a, ip: 010.0.0.1 }, { name: b, ip: "2001:db8::1" }, { name: c, ip: 10.0.0.256 }]\n`,
      ),
    ).toEqual([
      `s.yaml:4:32: externalHosts[0].ip: invalid IPv4 address "010.0.0.1": IPv4 addresses can't have leading zeroes`,
      's.yaml:4:60: externalHosts[1].ip: address "2001:db8::1" is IPv6: IPv6 is not modelled (the simulator is IPv4 single-stack)',
      's.yaml:4:92: externalHosts[2].ip: invalid IPv4 address "10.0.0.256": expected a dotted quad such as 10.96.0.10',
    ])
    expect(issuesOf(`${HEAD}loadBalancer: { pool: ["fd00::1-fd00::9", 198.51.100.1-198.51.100.300] }\n`)).toEqual([
      's.yaml:4:24: loadBalancer.pool[0]: pool entry "fd00::1-fd00::9" is IPv6: IPv6 is not modelled (the simulator is IPv4 single-stack)',
      's.yaml:4:43: loadBalancer.pool[1]: invalid pool entry "198.51.100.1-198.51.100.300": invalid range bound "198.51.100.300": expected a dotted quad such as 10.96.0.10',
    ])
  })

  it("checks the address fields of manifests: clusterIP(s), externalIPs, loadBalancerIP, source ranges, slice and Endpoints addresses", () => {
    const service = (spec: string): string[] =>
      issuesOf(
        `${HEAD}manifests: [{ inline: { apiVersion: v1, kind: Service, metadata: { name: s }, spec: { selector: { app: a }, ports: [{ port: 80 }], ${spec} } } }]\n`,
      ).filter((l) => !l.includes("warning"))
    expect(service(`clusterIP: "fd00::10"`)).toEqual([
      's.yaml:4:143: manifests[0].inline.spec.clusterIP: clusterIP "fd00::10" is IPv6: IPv6 is not modelled (the simulator is IPv4 single-stack)',
    ])
    expect(service(`clusterIP: 10.96.0.1.5`)).toEqual([
      's.yaml:4:143: manifests[0].inline.spec.clusterIP: invalid clusterIP "10.96.0.1.5": expected a dotted quad such as 10.96.0.10',
    ])
    expect(service(`clusterIPs: [10.96.0.10, "fd00::10"]`)).toEqual([
      's.yaml:4:157: manifests[0].inline.spec.clusterIPs[1]: clusterIP "fd00::10" is IPv6: IPv6 is not modelled (the simulator is IPv4 single-stack)',
    ])
    expect(service(`type: LoadBalancer, loadBalancerIP: 198.51.100.1/32`)).toEqual([
      's.yaml:4:168: manifests[0].inline.spec.loadBalancerIP: invalid loadBalancerIP "198.51.100.1/32": expected an address without a /prefix',
    ])
    expect(service(`externalIPs: ["2001:db8::7"]`)).toEqual([
      's.yaml:4:146: manifests[0].inline.spec.externalIPs[0]: address "2001:db8::7" is IPv6: IPv6 is not modelled (the simulator is IPv4 single-stack)',
    ])
    // Source ranges: space padding and host bits allowed, as the API server's IsValidCIDR does.
    expect(service(`type: LoadBalancer, loadBalancerSourceRanges: [" 203.0.113.7/25", 203.0.113.0/40]`)).toEqual([
      's.yaml:4:198: manifests[0].inline.spec.loadBalancerSourceRanges[1]: invalid source range "203.0.113.0/40": the prefix length must be 0 to 32',
    ])
    const slice = issuesOf(
      `${HEAD}manifests: [{ inline: { apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, metadata: { name: s-1, labels: { kubernetes.io/service-name: s } }, addressType: IPv4, endpoints: [{ addresses: [10.244.1.5] }, { addresses: ["fd00::5"] }] } }]\n`,
    )
    expect(slice.filter((l) => !l.includes("warning"))).toEqual([
      's.yaml:4:221: manifests[0].inline.endpoints[1].addresses[0]: endpoint address "fd00::5" is IPv6: IPv6 is not modelled (the simulator is IPv4 single-stack)',
    ])
    const endpoints = issuesOf(
      `${HEAD}manifests: [{ inline: { apiVersion: v1, kind: Endpoints, metadata: { name: s }, subsets: [{ addresses: [{ ip: "fd00::5" }] }] } }]\n`,
    )
    expect(endpoints.filter((l) => !l.includes("warning"))).toEqual([
      's.yaml:4:111: manifests[0].inline.subsets[0].addresses[0].ip: address "fd00::5" is IPv6: IPv6 is not modelled (the simulator is IPv4 single-stack)',
    ])
  })

  it("refuses an IPv6 or malformed address literal in a workload target", () => {
    const workload = (to: string): string[] =>
      issuesOf(
        `${HEAD}manifests: [{ inline: { apiVersion: v1, kind: Pod, metadata: { name: c }, spec: { containers: [{ name: c, image: busybox }] } } }]\nworkloads: [{ name: w, from: pod/c, to: "${to}" }]\n`,
      )
    expect(workload("http://[fd00::1]:80/")).toEqual([
      's.yaml:5:41: workloads[0].to: invalid target "http://[fd00::1]:80/": address "fd00::1" is IPv6: IPv6 is not modelled (the simulator is IPv4 single-stack)',
    ])
    expect(workload("http://10.96.0.300/")).toEqual([
      's.yaml:5:41: workloads[0].to: invalid target "http://10.96.0.300/": invalid address "10.96.0.300": expected a dotted quad such as 10.96.0.10',
    ])
  })

  it("refuses headless NodePort and LoadBalancer Services as the API server does", () => {
    const svc = (type: string): string =>
      `${HEAD}manifests: [{ inline: { apiVersion: v1, kind: Service, metadata: { name: s }, spec: { type: ${type}, clusterIP: None, selector: { app: a }, ports: [{ port: 80 }] } } }]\n`
    expect(issuesOf(svc("NodePort")).filter((l) => !l.includes("warning"))).toEqual([
      `s.yaml:4:114: manifests[0].inline.spec.clusterIP: Invalid value: "None": may not be set to 'None' for NodePort services`,
    ])
    expect(issuesOf(svc("LoadBalancer")).filter((l) => !l.includes("warning"))).toEqual([
      `s.yaml:4:118: manifests[0].inline.spec.clusterIP: Invalid value: "None": may not be set to 'None' for LoadBalancer services`,
    ])
    expect(issuesOf(svc("ClusterIP")).filter((l) => !l.includes("warning"))).toEqual([])
  })

  it("refuses dual-stack Services on the IPv4 single-stack cluster (alloc.go initIPFamilyFields)", () => {
    const manifest = `apiVersion: v1
kind: Service
metadata: { name: dual }
spec:
  selector: { app: a }
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  ports: [{ port: 80 }]
---
apiVersion: v1
kind: Service
metadata: { name: single }
spec:
  selector: { app: a }
  ipFamilyPolicy: PreferDualStack
  ipFamilies: [IPv4]
  ports: [{ port: 80 }]
---
apiVersion: v1
kind: Service
metadata: { name: lb }
spec:
  type: ClusterIP
  allocateLoadBalancerNodePorts: false
  selector: { app: a }
  ports: [{ port: 80 }]
`
    const pods = `apiVersion: v1\nkind: Pod\nmetadata: { name: p, labels: { app: a } }\nspec: { containers: [{ name: c, image: i }] }\n`
    expect(
      issuesOf(`${HEAD}manifests:\n  - path: m/s.yaml\n  - path: m/p.yaml\n`, {
        "m/s.yaml": manifest,
        "m/p.yaml": pods,
      }),
    ).toEqual([
      'm/s.yaml:6:19: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services (the simulator models IPv4 single-stack clusters only)',
      'm/s.yaml:7:22: spec.ipFamilies[1]: Invalid value: "IPv6": not configured on this cluster (the simulator models IPv4 single-stack clusters only)',
      "m/s.yaml:24:34: spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'",
    ])
  })

  it("rejects a Deployment strategy the API server rejects (apps/validation ValidateDeploymentStrategy), at the field", () => {
    const deployment = (strategy: string) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  strategy: ${strategy}
  selector: { matchLabels: { app: web } }
  template: { metadata: { labels: { app: web } }, spec: { containers: [{ name: web, image: nginx }] } }
`
    const files = {
      "m/a.yaml": deployment("{ type: Recreate, rollingUpdate: { maxSurge: 1 } }"),
      "m/b.yaml": deployment("{ rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } }"),
      "m/c.yaml": deployment('{ rollingUpdate: { maxSurge: "1.5%", maxUnavailable: "120%" } }'),
      "m/d.yaml": deployment("{ type: Rolling }"),
      "m/ok.yaml": deployment('{ type: RollingUpdate, rollingUpdate: { maxSurge: 2, maxUnavailable: "50%" } }'),
    }
    const list = Object.keys(files)
      .map((f) => `  - path: ${f}\n`)
      .join("")
    const issues = issuesOf(`${HEAD}manifests:\n${list}`, files)
    expect(issues.filter((i) => !i.startsWith("m/d.yaml"))).toEqual([
      "m/a.yaml:5:46: spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
      "m/b.yaml:5:61: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
      `m/c.yaml:5:42: spec.strategy.rollingUpdate.maxSurge: Invalid value: "1.5%": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`,
      'm/c.yaml:5:66: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "120%": must not be greater than 100%',
    ])
    expect(issues.filter((i) => i.startsWith("m/d.yaml"))).toEqual([expect.stringContaining("m/d.yaml:5:")])
  })

  it("warns, at the field, about fields whose behaviour is not modelled; keeps silent for empty or modelled values", () => {
    const manifest = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  strategy: { type: Recreate }
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: { runAsUser: 1000 }
      dnsConfig: { nameservers: [1.1.1.1] }
      dnsPolicy: Default
      affinity: {}
      containers:
        - name: web
          image: nginx
          lifecycle: { preStop: { exec: { command: [sleep, "5"] } } }
          ports: [{ containerPort: 80, hostPort: 8080 }]
---
apiVersion: v1
kind: Pod
metadata: { name: agent, labels: { app: web } }
spec:
  hostNetwork: true
  securityContext: { sysctls: [{ name: net.ipv4.ip_local_port_range, value: "1024 65535" }] }
  containers: [{ name: c, image: agent }]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  annotations: { service.kubernetes.io/topology-mode: Auto }
spec:
  type: LoadBalancer
  loadBalancerClass: example.com/lb
  trafficDistribution: PreferClose
  selector: { app: web }
  ports: [{ port: 80 }]
---
apiVersion: v1
kind: Service
metadata: { name: near }
spec:
  trafficDistribution: PreferSameNode
  selector: { app: web }
  ports: [{ port: 80 }]
`
    expect(issuesOf(`${HEAD}manifests:\n  - path: m/web.yaml\n`, { "m/web.yaml": manifest })).toEqual([
      "m/web.yaml:19:11: spec.template.spec.containers[0].lifecycle: warning: lifecycle hooks are not modelled: postStart does not delay readiness and preStop does not delay termination (field ignored)",
      "m/web.yaml:20:50: spec.template.spec.containers[0].ports[0].hostPort: warning: hostPort is not modelled (CNI portmap): the port is not opened on the node's address",
      "m/web.yaml:27:3: spec.securityContext: warning: sysctls are not modelled: the pod's network namespace keeps the node defaults (field ignored)",
      "m/web.yaml:37:22: spec.loadBalancerClass: warning: loadBalancerClass is not modelled: the scenario's load balancer serves this Service as if it had the default class",
      "m/web.yaml:46:24: spec.trafficDistribution: warning: PreferSameNode sets node and zone hints, but the simulated kube-proxy (v1.33, feature gate PreferSameTrafficDistribution off) uses the zone hints only: traffic prefers the zone, not the node",
    ])
  })

  it("warns that a Service another proxy owns (service-proxy-name label) gets no data plane", () => {
    const text = `${HEAD}manifests: [{ inline: { apiVersion: v1, kind: Service, metadata: { name: s, labels: { service.kubernetes.io/service-proxy-name: cilium } }, spec: { ports: [{ port: 80 }] } } }]\n`
    expect(issuesOf(text)).toEqual([
      's.yaml:4:129: manifests[0].inline.metadata.labels["service.kubernetes.io/service-proxy-name"]: warning: kube-proxy ignores a Service with this label (as upstream), and the proxy it names is not simulated: the Service has no data plane',
    ])
  })

  it("accepts trafficDistribution values and refuses others as the API server does", () => {
    const svc = (value: string): string =>
      `${HEAD}manifests: [{ inline: { apiVersion: v1, kind: Service, metadata: { name: s }, spec: { trafficDistribution: ${value}, ports: [{ port: 80 }] } } }]\n`
    expect(issuesOf(svc("PreferClose"))).toEqual([])
    expect(issuesOf(svc("PreferSameZone"))).toEqual([])
    expect(issuesOf(svc("Nearest"))[0]).toMatch(
      /^s\.yaml:4:\d+: manifests\[0\]\.inline\.spec\.trafficDistribution: Expected "PreferClose" \| "PreferSameZone" \| "PreferSameNode", got "Nearest"$/,
    )
  })

  it("reports a missing scenario file with its path", () => {
    const result = loadScenario("/nonexistent/x.yaml")
    expect(result.ok ? [] : result.issues.map(formatIssue)).toEqual([
      "cannot read scenario file /nonexistent/x.yaml: no such file",
    ])
  })
})

function byPosition(a: string, b: string): number {
  const pa = /^(.*?):(\d+):(\d+):/.exec(a)
  const pb = /^(.*?):(\d+):(\d+):/.exec(b)
  if (pa === null || pb === null) return 0
  return pa[1] < pb[1] ? -1 : pa[1] > pb[1] ? 1 : Number(pa[2]) - Number(pb[2]) || Number(pa[3]) - Number(pb[3])
}
