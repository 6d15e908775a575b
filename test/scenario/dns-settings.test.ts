/**
 * Bad DNS settings are input errors with file:line:column and the field path (exit 2 from the CLI,
 * like every loader error): the API server's dnsPolicy / dnsConfig validation
 * (pkg/apis/core/validation validatePodDNSConfig), resolver options no resolver can read, and a
 * NodeLocal DNSCache address another part of the cluster already uses. Values a resolver clamps
 * are warnings.
 */
import { describe, expect, it } from "vitest"
import { formatIssue } from "../../src/scenario/issues.ts"
import { decodeScenarioText } from "../../src/scenario/load.ts"

function issues(text: string): { errors: string[]; warnings: string[] } {
  const result = decodeScenarioText("dns.yaml", text)
  const all = result.ok ? result.scenario.warnings : result.issues
  return {
    errors: all.filter((i) => i.severity === "error").map(formatIssue),
    warnings: all.filter((i) => i.severity === "warning").map(formatIssue),
  }
}

/** A scenario whose one pod has `spec` (flow-style YAML, one line). */
function withPod(spec: string, head = ""): string {
  return `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: dns-settings }
${head}manifests:
  - inline:
      - apiVersion: v1
        kind: Pod
        metadata: { name: p }
        spec: { ${spec}, containers: [ { name: c, image: debian } ] }
`
}

describe("pod DNS settings", () => {
  it("an unknown dnsPolicy is an error at the value", () => {
    const { errors } = issues(withPod("dnsPolicy: ClusterFist"))
    expect(errors).toEqual([
      `dns.yaml:9:28: manifests[0].inline[0].spec.dnsPolicy: Expected "ClusterFirst" | "ClusterFirstWithHostNet" | "Default" | "None", got "ClusterFist"`,
    ])
  })

  it("dnsPolicy None needs dnsConfig with a nameserver", () => {
    expect(issues(withPod("dnsPolicy: None")).errors).toEqual([
      "dns.yaml:9:28: manifests[0].inline[0].spec.dnsPolicy: Required value: must provide `dnsConfig` when `dnsPolicy` is None",
    ])
    expect(issues(withPod("dnsPolicy: None, dnsConfig: { nameservers: [] }")).errors).toEqual([
      "dns.yaml:9:60: manifests[0].inline[0].spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None",
    ])
    expect(issues(withPod("dnsPolicy: None, dnsConfig: { nameservers: [10.96.0.10] }")).errors).toEqual([])
  })

  it("options ndots / timeout / attempts need a whole-number value; an empty name is an error", () => {
    const { errors } = issues(
      withPod(
        `dnsConfig: { options: [ { name: ndots }, { name: timeout, value: "2s" }, { name: "" }, { name: attempts, value: "3" } ] }`,
      ),
    )
    expect(errors).toHaveLength(3)
    expect(errors[0]).toMatch(
      /^dns\.yaml:9:41: manifests\[0\]\.inline\[0\]\.spec\.dnsConfig\.options\[0\]: option "ndots" needs a value .*replacing ClusterFirst's ndots:5/,
    )
    expect(errors[1]).toMatch(
      /^dns\.yaml:9:\d+: manifests\[0\]\.inline\[0\]\.spec\.dnsConfig\.options\[1\]\.value: Invalid value: "2s": option "timeout" takes a whole number of seconds \(glibc's atoi would read its leading digits\)$/,
    )
    expect(errors[2]).toMatch(/options\[2\]: Required value: must not be empty$/)
  })

  it("values the resolvers clamp and options none reads are warnings, not errors", () => {
    const { errors, warnings } = issues(
      withPod(
        `dnsConfig: { options: [ { name: ndots, value: "20" }, { name: ndot, value: "2" }, { name: use-vc }, { name: edns0 } ] }`,
      ),
    )
    expect(errors).toEqual([])
    expect(warnings).toEqual([
      expect.stringMatching(
        /options\[0\]\.value: warning: ndots:20 is outside .* max glibc 15, musl 15\): each clamps it/,
      ),
      expect.stringMatching(/options\[1\]\.name: warning: option "ndot" is read by none of the simulated resolvers/),
      expect.stringMatching(
        /options\[3\]\.name: warning: option "edns0" is a resolver option whose effect is not modelled/,
      ),
    ])
  })

  it("dns.mode static warns that it ignores dnsPolicy and dnsConfig; packets (the default) models them", () => {
    const spec = "hostNetwork: true, dnsConfig: { searches: [corp.example] }"
    expect(issues(withPod(spec)).warnings).toEqual([])
    expect(issues(withPod(spec, "dns: { mode: static }\n")).warnings).toEqual([
      expect.stringMatching(
        /spec\.hostNetwork: warning: a hostNetwork pod with dnsPolicy ClusterFirst uses the node's resolv\.conf/,
      ),
      expect.stringMatching(/spec\.dnsConfig: warning: dnsConfig is read only with dns\.mode packets/),
    ])
  })

  it("nameservers must be IPv4 addresses (at most 3); searches RFC 1123 subdomains", () => {
    const { errors } = issues(
      withPod(
        `dnsConfig: { nameservers: [1.1.1.1, 8.8.8.8, 9.9.9.9, dns.example], searches: [Corp.Example, ok.example.] }`,
      ),
    )
    expect(
      errors.map((e) => e.replace(/^dns\.yaml:\d+:\d+: manifests\[0\]\.inline\[0\]\.spec\.dnsConfig\./, "")),
    ).toEqual([
      "nameservers: Invalid value: must not have more than 3 nameservers",
      'nameservers[3]: Invalid value: invalid nameserver "dns.example": expected a dotted quad such as 10.96.0.10',
      "searches[0]: Invalid value: \"Corp.Example\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
    ])
  })

  it("a Deployment's pod template is checked the same way", () => {
    const text = `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: dns-settings }
manifests:
  - inline:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: d }
        spec:
          selector: { matchLabels: { a: b } }
          template:
            metadata: { labels: { a: b } }
            spec: { dnsConfig: { options: [ { name: attempts, value: x } ] }, containers: [ { name: c, image: debian } ] }
`
    expect(issues(text).errors).toEqual([
      `dns.yaml:13:70: manifests[0].inline[0].spec.template.spec.dnsConfig.options[0].value: Invalid value: "x": option "attempts" takes a whole number of attempts (glibc's atoi would read 0)`,
    ])
  })
})

describe("dns.nodeSearchDomains and dns.nodeResolver", () => {
  it("a search domain must be a domain name; the resolver address must be free and outside the cluster", () => {
    const { errors } = issues(
      withPod("hostname: p", "dns: { nodeSearchDomains: [corp.example., Bad_Domain], nodeResolver: 10.96.0.53 }\n"),
    )
    expect(errors).toEqual([
      `dns.yaml:4:43: dns.nodeSearchDomains[1]: "Bad_Domain" is not a domain name (lower case letters, digits, '-' and '.', each label starting and ending with a letter or digit)`,
      "dns.yaml:4:70: dns.nodeResolver: the nodes' resolver 10.96.0.53 is inside cluster.serviceCIDR 10.96.0.0/12: it runs outside the cluster",
    ])
    const clash = issues(withPod("hostname: p", "externalHosts: [ { name: dns, ip: 203.0.113.53 } ]\n")).errors
    expect(clash).toEqual([
      "dns.yaml:4:35: externalHosts[0].ip: external host dns uses 203.0.113.53, the nodes' resolver address (dns.nodeResolver, default); choose another address for one of them",
    ])
  })
})

describe("dns.nodeLocal.address clashes", () => {
  const on = "dns: { nodeLocal: { enabled: true, address: 169.254.20.10 } }\n"
  it("inside the pod CIDR or the load-balancer pool: errors at the address", () => {
    const podCidr = issues(withPod("hostname: p", on.replace("169.254.20.10", "10.244.3.3"))).errors
    expect(podCidr).toEqual([
      "dns.yaml:4:45: dns.nodeLocal.address: the NodeLocal DNSCache address 10.244.3.3 is inside cluster.podCIDR 10.244.0.0/16; use an unused link-local address such as 169.254.20.10",
    ])
    const pool = issues(withPod("hostname: p", `loadBalancer: { pool: [169.254.20.0/24] }\n${on}`)).errors
    expect(pool).toEqual([
      "dns.yaml:5:45: dns.nodeLocal.address: the NodeLocal DNSCache address 169.254.20.10 is inside loadBalancer.pool[0] 169.254.20.0/24; LoadBalancer Services would be given it",
    ])
  })

  it("a Service's externalIPs equal to it: an error at that Service field", () => {
    const text = `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: dns-settings }
${on}manifests:
  - inline:
      - apiVersion: v1
        kind: Service
        metadata: { name: s }
        spec: { externalIPs: [169.254.20.10], ports: [ { port: 80 } ] }
`
    expect(issues(text).errors).toEqual([
      "dns.yaml:10:31: spec.externalIPs[0]: Service s uses 169.254.20.10, the NodeLocal DNSCache address (dns.nodeLocal.address): node-cache binds it on every node; choose another address for one of them",
    ])
  })
})
