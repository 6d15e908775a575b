import { defineConfig } from "vitest/config"

// CI sets KUBE_NETSIM_TEST_RESULTS to collect a JSON report it turns into "N passed, N failed".
const resultsFile = process.env.KUBE_NETSIM_TEST_RESULTS

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    ...(resultsFile !== undefined && resultsFile !== ""
      ? { reporters: ["default", "json"], outputFile: { json: resultsFile } }
      : {}),
  },
})
