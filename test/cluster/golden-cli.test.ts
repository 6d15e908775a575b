/**
 * Golden scenarios: `kube-netsim rules SCENARIO --node NAME --sorted` on the upstream kube-proxy
 * test cases written as ordinary manifests (scenarios/golden/) prints, byte for byte, what the
 * upstream unit test expects (sorted as its sortIPTablesRules does). Unlike test/proxy/golden.test.ts,
 * which feeds the compiler directly, these go through the whole path: scenario decoding, manifest
 * decoding, API-server admission (ClusterIP/NodePort allocation, LB status), the endpoint
 * controllers, kube-proxy's first sync into the node's netfilter, and iptables-save.
 *
 * Adding an upstream case: write scenarios/golden/NAME.yaml (+ manifests/NAME.yaml), its
 * expected sorted dump (expected/NAME.rules), and add a row to CASES.
 */
import { spawnSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { renderRules } from "../../src/cluster/index.ts"
import type { ScenarioSpec } from "../../src/cluster/spec.ts"
import { decodeScenarioText } from "../../src/scenario/load.ts"
import { cli, ROOT, scenarioSpec } from "./helpers.ts"

interface GoldenCase {
  /** Upstream test (kubernetes/kubernetes pkg/proxy/iptables/proxier_test.go). */
  readonly upstream: string
  readonly scenario: string
  readonly node: string
  readonly expected: string
}

const CASES: readonly GoldenCase[] = [
  {
    upstream: "TestOverallIPTablesRules",
    scenario: "scenarios/golden/g1-overall.yaml",
    node: "test-node",
    expected: "test/proxy/fixtures/g1-expected.rules",
  },
  {
    upstream: "TestSyncProxyRulesRepeated (first sync)",
    scenario: "scenarios/golden/g2-repeated.yaml",
    node: "test-node",
    expected: "test/proxy/fixtures/g2-expected.rules",
  },
  // testHostname-era test (no nfacct); expected text transcribed from the test's dedent block.
  {
    upstream: "TestInternalTrafficPolicyE2E (local endpoints)",
    scenario: "scenarios/golden/itp-local.yaml",
    node: "test-hostname",
    expected: "scenarios/golden/expected/itp-local.rules",
  },
]

const read = (path: string): string => readFileSync(join(ROOT, path), "utf8")
const G1 = CASES[0]

function rules(spec: ScenarioSpec, atNs = 0): string {
  return renderRules(spec, { node: "test-node", atNs, sorted: true })
}

describe("golden scenarios: kube-netsim rules --sorted = upstream kube-proxy test expectations", () => {
  it("every scenarios/golden/*.yaml has a case", () => {
    const files = readdirSync(join(ROOT, "scenarios", "golden"))
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => `scenarios/golden/${f}`)
    expect(files.sort()).toEqual(CASES.map((c) => c.scenario).sort())
  })

  for (const c of CASES) {
    it(`${c.upstream}: ${c.scenario} (in-process CLI, default --at)`, async () => {
      const run = await cli(["rules", join(ROOT, c.scenario), "--node", c.node, "--sorted"])
      expect(run.stderr).toBe("")
      expect(run.code).toBe(0)
      expect(run.stdout).toBe(read(c.expected))
    })
  }

  it("G1 end to end through bin/kube-netsim.js", () => {
    const result = spawnSync(
      process.execPath,
      [join(ROOT, "bin", "kube-netsim.js"), "rules", G1.scenario, "--node", "test-node", "--sorted"],
      { cwd: ROOT, encoding: "utf8", timeout: 90_000 },
    )
    expect(result.stderr).toBe("")
    expect(result.status).toBe(0)
    expect(result.stdout).toBe(read(G1.expected))
  }, 120_000)

  it("the first sync happens at t=0 and later periodic resyncs write the same rules (manifest slices are left alone)", () => {
    const spec = scenarioSpec(G1.scenario)
    // 0 = right after the informers synced; 35s = after the endpoint controllers ran on every
    // Service and after the first periodic resync (syncPeriod 30s).
    expect(rules(spec, 0)).toBe(read(G1.expected))
    expect(rules({ ...spec, durationNs: 40e9 }, 35e9)).toBe(read(G1.expected))
  })

  it("each fake-proxier setting matters (the comparison can fail)", () => {
    const spec = scenarioSpec(G1.scenario)
    const expected = read(G1.expected)
    const withSystem = rules({ ...spec, cluster: { ...spec.cluster, systemServices: true } })
    expect(withSystem).not.toBe(expected)
    expect(withSystem).toContain('"default/kubernetes:https cluster IP" -m tcp -p tcp -d 172.30.0.1 --dport 443')
    expect(withSystem).toContain(
      '"kube-system/kube-dns:dns has no endpoints" -m udp -p udp -d 172.30.0.10 --dport 53 -j REJECT',
    )
    const noNfacct = rules({ ...spec, kubeProxy: { ...spec.kubeProxy, nfacct: false } })
    expect(noNfacct).not.toContain("nfacct")
    const noDetector = rules({ ...spec, kubeProxy: { ...spec.kubeProxy, clusterCIDR: null } })
    expect(noDetector).not.toContain("10.0.0.0/8")
    const randomFully = rules({ ...spec, kubeProxy: { ...spec.kubeProxy, randomFully: true } })
    expect(randomFully).toContain("-j MASQUERADE --random-fully")
  })
})

describe("scenario settings the golden cases need", () => {
  const g1Text = read(G1.scenario)
  const decode = (text: string) => decodeScenarioText(join(ROOT, G1.scenario), text)

  it("cluster.serviceNodePortRange: without it G1's NodePorts 3001-3003 are rejected where they are written", () => {
    const result = decode(g1Text.replace("  serviceNodePortRange: 3000-32767\n", ""))
    expect(result.ok).toBe(false)
    if (result.ok) return
    const messages = result.issues.map(
      (i) => `${i.position?.file.slice(ROOT.length + 1)}:${i.position?.line}: ${i.message}`,
    )
    expect(messages).toEqual([
      "scenarios/golden/manifests/g1-overall.yaml:47: Invalid value: 3001: provided port is not in the valid range. The range of valid ports is 30000-32767",
      "scenarios/golden/manifests/g1-overall.yaml:57: Invalid value: 3003: provided port is not in the valid range. The range of valid ports is 30000-32767",
      "scenarios/golden/manifests/g1-overall.yaml:84: Invalid value: 3002: provided port is not in the valid range. The range of valid ports is 30000-32767",
    ])
  })

  it("cluster.serviceNodePortRange: malformed ranges are errors at the field", () => {
    for (const bad of ["30000-", "32767-30000", "0-100", "30000-70000", "abc"]) {
      const result = decode(g1Text.replace("serviceNodePortRange: 3000-32767", `serviceNodePortRange: "${bad}"`))
      expect(result.ok).toBe(false)
      if (result.ok) continue
      expect(result.issues.map((i) => `${i.path.join(".")}: ${i.message}`)).toEqual([
        `cluster.serviceNodePortRange: invalid port range "${bad}": expected MIN-MAX with ports between 1 and 65535, e.g. 30000-32767`,
      ])
    }
  })

  it("the NodePort allocator uses the range: dynamic NodePorts come from it, ports outside it are refused", () => {
    const text = g1Text
      .replace("serviceNodePortRange: 3000-32767", "serviceNodePortRange: 3000-3099")
      .replace(
        "manifests:\n  - path: manifests/g1-overall.yaml\n",
        "manifests:\n  - inline:\n      apiVersion: v1\n      kind: Service\n      metadata: { name: np }\n      spec: { type: NodePort, clusterIP: 172.30.0.50, ports: [ { port: 80 } ] }\n",
      )
    const result = decode(text)
    expect(result.ok).toBe(true)
    if (!result.ok) return
    const out = rules(result.scenario.spec)
    const port =
      /"default\/np has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport (\d+) -j REJECT/.exec(out)?.[1]
    expect(Number(port)).toBeGreaterThanOrEqual(3000)
    expect(Number(port)).toBeLessThanOrEqual(3099)
    const outside = decode(text.replace("ports: [ { port: 80 } ]", "ports: [ { port: 80, nodePort: 3100 } ]"))
    expect(outside.ok).toBe(false)
    if (!outside.ok) expect(outside.issues[0].message).toContain("The range of valid ports is 3000-3099")
  })

  it("status.loadBalancer.ingress from the manifest is kept (no LB pool needed) and reserved in the pool", () => {
    const spec = scenarioSpec(G1.scenario)
    expect(rules(spec)).toContain('"ns2/svc2:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80')
    const text = g1Text
      .replace("manifests:\n", "loadBalancer: { pool: [ 5.6.7.8/31 ] }\nmanifests:\n")
      .concat(
        "  - inline:\n      apiVersion: v1\n      kind: Service\n      metadata: { name: lb }\n      spec: { type: LoadBalancer, clusterIP: 172.30.0.60, ports: [ { port: 80, nodePort: 3010 } ] }\n",
      )
    const result = decode(text)
    expect(result.ok).toBe(true)
    if (!result.ok) return
    const out = rules(result.scenario.spec)
    // 5.6.7.8 is svc5's (from its status): the pool hands the new Service the next address.
    expect(out).toContain('"default/lb has no endpoints" -m tcp -p tcp -d 5.6.7.9 --dport 80 -j REJECT')
    expect(out).toContain('"ns5/svc5:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80')
  })

  it("healthCheckNodePort: honoured with externalTrafficPolicy Local, rejected otherwise (as the API server does)", () => {
    expect(rules(scenarioSpec(G1.scenario))).toContain(
      '"ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT',
    )
    const text = g1Text.replace(
      "manifests:\n",
      "manifests:\n  - inline:\n      apiVersion: v1\n      kind: Service\n      metadata: { name: hc }\n      spec: { type: LoadBalancer, externalTrafficPolicy: Cluster, healthCheckNodePort: 30001, ports: [ { port: 80 } ] }\n",
    )
    const result = decode(text)
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(() => rules(result.scenario.spec)).toThrow(
      "spec.healthCheckNodePort: Invalid value: 30001: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
    )
  })
})
