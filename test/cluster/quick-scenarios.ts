/**
 * Shipped scenarios whose `run` test/cluster/runtime.test.ts leaves to the extensive tier, and why;
 * test/cluster/compare-scenarios.test.ts reads it to know which iptables runs the quick tier makes.
 */
export const RUNTIME_EXTENSIVE_ONLY: ReadonlyMap<string, string> = new Map([
  // test/cluster/capacity.test.ts runs the same file in the quick tier and checks more (pod counts,
  // events, the summary line); this scenario has no `expect:` lines for `run` to check.
  ["capacity-10m-replicas.yaml", "capacity.test.ts runs it"],
  // Seconds of CoreDNS queueing; test/apps/coredns.test.ts's capacity cases (workers, FIFO queue,
  // max_concurrent) cover the behaviour in the quick tier.
  ["coredns-saturation.yaml", "CoreDNS capacity is covered by coredns.test.ts"],
])
