/**
 * Every shipped scenario under `kubeProxy.mode: userspace` (kube-proxy <= v1.25): its expectations
 * hold, except where the userspace proxier's real behaviour differs; each such difference is listed
 * here with its cause (and in MODEL.md "userspace mode"), and the test checks that it is what
 * happens, so the list cannot go stale:
 * - externalTrafficPolicy: Local is not honoured (proxier.go never reads it): NodePort/LB traffic
 *   reaches endpoints on other nodes, and nodes without a local endpoint still answer.
 * - No service health check servers (v1.25 created a ServiceHealthServer only in the iptables and
 *   IPVS proxiers): an ETP-Local LoadBalancer's healthCheckNodePort is refused on every node, so
 *   the cloud load balancer never has a healthy backend (the runtime then never starts a workload
 *   to it: it waits for one).
 * - Round robin per service port per node (roundrobin.go): two workloads alternating on one
 *   client pod get alternate endpoints, so each workload sees only one of two endpoints.
 * (graceful-termination.yaml states its userspace difference itself, with a `modes:` filter: no
 * terminating-endpoint fallback, as the load balancer reads Endpoints' ready addresses.)
 * - aws-vpc: the host-side ENI veths have no IPv4 address, and REDIRECT drops what comes in on an
 *   interface without one (nf_nat_redirect_ipv4), so pods cannot reach ClusterIPs at all.
 * Besides: the source address every server sees is the proxying node's (its node IP, or cni0's
 * address for a pod on the same node), and each proxied connection holds two conntrack entries on
 * the proxying node.
 */
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runScenario } from "../../src/cluster/index.ts"
import type { ScenarioSpec } from "../../src/cluster/spec.ts"
import { checkExpectations } from "../../src/scenario/expect.ts"
import { loadScenario } from "../../src/scenario/load.ts"
import type { ResultsDocument } from "../../src/stats/results.ts"
import { extensive } from "../tier.ts"
import { ROOT } from "./helpers.ts"

/** Expectation messages that fail under userspace mode, by scenario, with the reason. */
const KNOWN_DIFFERENCES: Record<string, { readonly failures: readonly string[]; readonly why: string }> = {
  "etp-local-vs-cluster.yaml": {
    failures: [
      "local-via-node3: expected completedAtMost: 0, got 100",
      "local-via-node1: expected endpointsAtMost: 1, got 2",
      "lb-local: expected completedAtLeast: 200, got 0",
      "lb-local: expected endpointsAtLeast: 2, got 0",
    ],
    why:
      "externalTrafficPolicy: Local is not honoured, and no health check server answers healthCheckNodePort: " +
      "the cloud LB never sees a healthy node, and the runtime starts a workload to an LB only once one is",
  },
  "seed-003-service-types.yaml": {
    failures: ["nodeport-via-node2: expected completedAtMost: 0, got 20"],
    why: "externalTrafficPolicy: Local is not honoured by the userspace proxier",
  },
  "seed-002-my-nginx.yaml": {
    failures: ["curl-short-name: expected endpointsAtLeast: 2, got 1"],
    why: "per-node round robin: two workloads alternating on one pod get alternate endpoints",
  },
  "seed-000-cluster-test-01.yaml": {
    failures: [
      "curl-svc-fqdn: expected completedAtLeast: 150, got 0",
      "curl-svc-fqdn: expected failedAtMost: 0, got 150",
    ],
    why: "aws-vpc host-side veths have no IPv4 address: REDIRECT drops (nf_nat_redirect_ipv4)",
  },
}

/**
 * The quick tier runs the scenarios with a listed difference and the small seeds; the rest (the
 * longer runs, and the proxy-mode scenarios test/cluster/compare-scenarios.test.ts already runs
 * under every mode) run in the extensive tier.
 */
const QUICK = new Set([
  ...Object.keys(KNOWN_DIFFERENCES),
  "quickstart.yaml",
  "seed-001-external-endpoints.yaml",
  "seed-001-session-affinity.yaml",
])

function run(
  file: string,
  mode: ScenarioSpec["kubeProxy"]["mode"],
  dnsMode?: ScenarioSpec["dns"]["mode"],
): { doc: ResultsDocument; failures: string[] } {
  const loaded = loadScenario(join(ROOT, "scenarios", file))
  if (!loaded.ok) throw new Error(`${file}: ${loaded.issues.map((i) => i.message).join("; ")}`)
  const spec = loaded.scenario.spec
  const dns = { ...spec.dns, mode: dnsMode ?? spec.dns.mode }
  const doc = runScenario({ ...spec, dns, kubeProxy: { ...spec.kubeProxy, mode } }, { seed: spec.seed })
  return { doc, failures: checkExpectations(loaded.scenario.expectations, doc, mode).map((f) => f.message) }
}

describe("shipped scenarios under kubeProxy.mode: userspace", () => {
  const files = readdirSync(join(ROOT, "scenarios")).filter((f) => f.endsWith(".yaml"))
  for (const file of files) {
    if (!QUICK.has(file) && !extensive) continue
    it(file, () => {
      const { doc, failures } = run(file, "userspace")
      expect(failures).toEqual(KNOWN_DIFFERENCES[file]?.failures ?? [])
      expect(doc.kubeProxy?.syncs.failed ?? 0).toBe(0)
    })
  }
})

describe("userspace mode against iptables mode on the quick start", () => {
  it("servers see the proxying node as the client; round robin spreads exactly; two conntrack entries per connection", () => {
    // dns.mode static: the figures below are the web Service's connections, without the lookups'.
    const iptables = run("quickstart.yaml", "iptables", "static").doc
    const userspace = run("quickstart.yaml", "userspace", "static").doc
    const wi = iptables.workloads.wget
    const wu = userspace.workloads.wget
    expect(wu.requests.completed).toBe(1000)
    // iptables: the client pod's address survives DNAT. userspace: the node's address towards other
    // nodes, the cni0 gateway towards a pod on the same node.
    expect(Object.keys(wi.clientAddressesSeen ?? {})).toEqual(["10.244.0.2"])
    expect(Object.keys(wu.clientAddressesSeen ?? {}).sort()).toEqual(["10.0.0.2", "10.244.0.1"])
    // Round robin over 3 endpoints from one client: 334/333/333.
    expect(Object.values(wu.distribution.byEndpoint).sort()).toEqual([333, 333, 334])
    // Two conntrack entries per proxied connection on the client's node.
    expect(userspace.conntrack.peakEntries).toBe(2 * iptables.conntrack.peakEntries)
    // Proxying in user space costs latency (connect + copy costs, one more hop through the stack).
    expect(wu.latencyNs.mean).toBeGreaterThan(wi.latencyNs.mean)
    // And its syncs are slower: one iptables invocation per rule check.
    expect(userspace.kubeProxy?.syncs.durationNs.mean ?? 0).toBeGreaterThan(
      iptables.kubeProxy?.syncs.durationNs.mean ?? 0,
    )
  })
})
