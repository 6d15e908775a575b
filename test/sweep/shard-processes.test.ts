/**
 * Shards as separate processes, as an Indexed Job runs them: `kube-netsim sweep --shard auto/2`
 * with JOB_COMPLETION_INDEX=0 and =1, then `kube-netsim merge`; the merged files equal the
 * single-process sweep's byte for byte (point documents outside `wall`). Each process starts node
 * and tsx (seconds on a loaded 2-core machine), so this runs in the extensive tier; sweep.test.ts
 * checks the same in-process in the quick tier.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { extensive } from "../tier.ts"
import { FIXTURES, withoutWall } from "./helpers.ts"

const run = promisify(execFile)
const BIN = join(import.meta.dirname, "..", "..", "bin", "kube-netsim.js")
const SWEEP = join(FIXTURES, "tiny-sweep.yaml")

function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(dir).sort()) out[name] = readFileSync(join(dir, name), "utf8")
  return out
}

describe.skipIf(!extensive)("sweep shards as processes (extensive tier: starts 4 node processes)", () => {
  it("JOB_COMPLETION_INDEX shards merged equal the single-process sweep", async () => {
    const single = mkdtempSync(join(tmpdir(), "kube-netsim-single-"))
    const shared = mkdtempSync(join(tmpdir(), "kube-netsim-job-"))
    const env = (index: string | undefined) => {
      const e: NodeJS.ProcessEnv = { ...process.env }
      delete e.JOB_COMPLETION_INDEX
      if (index !== undefined) e.JOB_COMPLETION_INDEX = index
      return e
    }
    const [one, s0, s1] = await Promise.all([
      run(process.execPath, [BIN, "sweep", SWEEP, "--out", single], { env: env(undefined) }),
      // Both shards write into one directory, as the Job's pods share its results volume.
      run(process.execPath, [BIN, "sweep", SWEEP, "--shard", "auto/2", "--out", shared], { env: env("0") }),
      run(process.execPath, [BIN, "sweep", SWEEP, "--shard", "auto/2", "--out", shared], { env: env("1") }),
    ])
    expect(s0.stderr + s1.stderr + one.stderr).toBe("")
    const merged = await run(process.execPath, [BIN, "merge", shared])
    expect(merged.stdout).toBe(one.stdout)
    const a = files(single)
    const b = files(shared)
    expect(Object.keys(b)).toEqual([
      ...Object.keys(a).slice(0, 2),
      "shard-0-of-2.json",
      "shard-1-of-2.json",
      ...Object.keys(a).slice(2),
    ])
    for (const name of ["sweep.json", "sweep.csv", "summary.txt"]) expect(b[name]).toBe(a[name])
    for (const name of ["point-0000.json", "point-0001.json"])
      expect(withoutWall(b[name] as string)).toEqual(withoutWall(a[name] as string))
  }, 180_000)
})

describe.skipIf(!extensive)("sweep --jobs (extensive tier: starts worker threads)", () => {
  it("two worker threads write the serial sweep's files", async () => {
    const { runCli } = await import("../../src/cli/app.ts")
    const { captureIo } = await import("./helpers.ts")
    const serial = mkdtempSync(join(tmpdir(), "kube-netsim-serial-"))
    const threads = mkdtempSync(join(tmpdir(), "kube-netsim-threads-"))
    const a = captureIo()
    const b = captureIo()
    expect(await runCli(["sweep", SWEEP, "--out", serial], a.io)).toBe(0)
    expect(await runCli(["sweep", SWEEP, "--jobs", "2", "--out", threads], b.io)).toBe(0)
    expect(b.out()).toBe(a.out())
    const x = files(serial)
    const y = files(threads)
    for (const name of ["sweep.json", "sweep.csv", "summary.txt"]) expect(y[name]).toBe(x[name])
    for (const name of ["point-0000.json", "point-0001.json"])
      expect(withoutWall(y[name] as string)).toEqual(withoutWall(x[name] as string))
  }, 180_000)
})

describe.skipIf(!extensive)("worker pool failures (extensive tier: starts worker threads)", () => {
  it("a task's input error comes back as ScenarioIssues, not a hang", async () => {
    const { runTasksInWorkers } = await import("../../src/cli/sweep/pool.ts")
    const { ScenarioIssues } = await import("../../src/cluster/spec.ts")
    const task = { scenario: join(FIXTURES, "no-such-scenario.yaml"), overrides: [], seed: 1 }
    let caught: unknown
    try {
      runTasksInWorkers([task, task], 2)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(ScenarioIssues)
    expect((caught as InstanceType<typeof ScenarioIssues>).issues[0]?.message).toContain("no such file")
  }, 120_000)
})
