/**
 * End to end through the real entry point (bin/kube-netsim.js -> tsx -> src/cli/main.ts): the
 * process exit codes and streams users see. Few tests: each spawn costs about a second (several on
 * a loaded machine, hence the generous timeouts: a killed spawn would fail with no message).
 * The quick tier spawns for the failure path here (exit 2, stderr) and for the success path in
 * test/cluster/golden-cli.test.ts (G1's rules through bin/kube-netsim.js: exit 0, a long stdout);
 * the two checks below it leaves to the extensive tier are made in process by test/cli/cli.test.ts.
 */
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { extensive } from "../tier.ts"

const ROOT = join(import.meta.dirname, "..", "..")

function cli(args: string[]) {
  const result = spawnSync(process.execPath, [join(ROOT, "bin", "kube-netsim.js"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 90_000,
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe("kube-netsim (spawned)", { timeout: 120_000 }, () => {
  it.runIf(extensive)("validate scenarios/quickstart.yaml exits 0 (extensive tier)", () => {
    const r = cli(["validate", "scenarios/quickstart.yaml"])
    expect(r.stderr).toBe("")
    expect(r.stdout).toBe("scenarios/quickstart.yaml: ok (3 nodes, 3 objects, 1 workloads, 0 timeline steps)\n")
    expect(r.code).toBe(0)
  })

  it.runIf(extensive)("--help lists the commands and exits 0 (extensive tier)", () => {
    const r = cli(["--help"])
    expect(r.code).toBe(0)
    for (const command of ["run", "validate", "rules"]) expect(r.stdout).toContain(command)
  })

  it("a missing scenario file exits 2 with its path and no stack trace", () => {
    const r = cli(["validate", "scenarios/nope.yaml"])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe("cannot read scenario file scenarios/nope.yaml: no such file\n1 error\n")
  }, 120_000)
})
