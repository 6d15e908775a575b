import { availableParallelism } from "node:os"
import { defineConfig } from "vitest/config"

// CI sets KUBE_NETSIM_TEST_RESULTS to collect a JSON report it turns into "N passed, N failed".
const resultsFile = process.env.KUBE_NETSIM_TEST_RESULTS

export default defineConfig({
  test: {
    // examples/: the library examples users copy (examples/fairness.test.ts) run in `npm test` too.
    include: ["test/**/*.test.ts", "src/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // One worker per core: vitest's default (cores - 1) runs a 2-core machine's suite on one worker,
    // while the kernel differential spends most of its time waiting on iptables/conntrack processes.
    maxWorkers: Math.max(2, availableParallelism()),
    // Test files share a worker's module cache instead of re-importing effect, the runtime and the
    // scenario stack per file: this halves the quick tier's CPU time. Files must not leave global
    // state behind (a test that patches a prototype restores it in `finally`).
    isolate: false,
    ...(resultsFile !== undefined && resultsFile !== ""
      ? { reporters: ["default", "json"], outputFile: { json: resultsFile } }
      : {}),
  },
})
