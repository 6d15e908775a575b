import { existsSync, readFileSync } from "node:fs"
import { availableParallelism } from "node:os"
import { join, relative } from "node:path"
import { defineConfig } from "vitest/config"
import { BaseSequencer, type TestSpecification } from "vitest/node"

/**
 * Longest files first, so the two workers finish together rather than one running a long file
 * alone at the end. vitest's own order uses the timings of the last run on this machine; without
 * them (a fresh clone: CI) it runs larger files first, and file size says little here (a short file
 * may run a whole scenario under every mode). This order takes vitest's timing where it has one,
 * else the committed test/durations.json (`npm run test:durations`), else a guess from the size.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root
    const path = join(root, "test", "durations.json")
    const committed: Record<string, number> = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : {}
    const secondsOf = (spec: TestSpecification): number => {
      const file = relative(root, spec.moduleId)
      const cached = this.ctx.cache.getFileTestResults(`${spec.project.name}:${file}`)
      if (cached !== undefined) return cached.duration / 1000
      const hint = committed[file]
      if (hint !== undefined) return hint
      // Unknown (a new file): a guess of a second per 20 kB.
      return (this.ctx.cache.getFileStats(`${spec.project.name}:${file}`)?.size ?? 0) / 20_000
    }
    const seconds = new Map(files.map((f) => [f, secondsOf(f)] as const))
    return [...files].sort((a, b) => (seconds.get(b) ?? 0) - (seconds.get(a) ?? 0))
  }
}

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
    sequence: { sequencer: LongestFirst },
    ...(resultsFile !== undefined && resultsFile !== ""
      ? { reporters: ["default", "json"], outputFile: { json: resultsFile } }
      : {}),
  },
})
