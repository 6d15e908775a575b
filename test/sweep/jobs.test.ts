/**
 * `run --runs R --jobs J`: the seeds on worker threads give the serial run's output byte for byte
 * outside `wall` (documents, fingerprints, aggregate, the printed summary).
 */
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "../../src/cli/app.ts"
import { captureIo, FIXTURES, withoutWall } from "./helpers.ts"

const TINY = join(FIXTURES, "tiny.yaml")

describe("run --jobs", () => {
  it("two worker threads give the serial documents, fingerprints and aggregate", async () => {
    const serial = captureIo()
    expect(await runCli(["run", TINY, "--runs", "2", "--json"], serial.io)).toBe(0)
    const parallel = captureIo()
    expect(await runCli(["run", TINY, "--runs", "2", "--jobs", "2", "--json"], parallel.io)).toBe(0)
    const a = serial.out()
    const b = parallel.out()
    // Byte-equal outside the wall metrics: compare the text with those lines' values blanked.
    const blank = (text: string): string => JSON.stringify(withoutWall(text), null, 2)
    expect(blank(b)).toBe(blank(a))
    expect(JSON.parse(b).fingerprints).toEqual(JSON.parse(a).fingerprints)
    expect(JSON.parse(a).fingerprints).toHaveLength(2)
    expect(parallel.err()).toBe("") // stderr is not a terminal: no progress line
  })

  it("refuses the per-run artefacts workers do not carry back yet, rather than drop them", async () => {
    for (const flags of [
      ["--pcap", "pcap-dir"],
      ["--interval", "10ms"],
      ["--report", "r.html"],
    ]) {
      const c = captureIo()
      expect(await runCli(["run", TINY, "--runs", "2", "--jobs", "2", ...flags], c.io)).toBe(2)
      expect(c.err()).toContain(`--jobs: not available with ${flags[0]}`)
    }
  })

  it("rejects --jobs 0 as invalid input", async () => {
    const c = captureIo()
    expect(await runCli(["run", TINY, "--runs", "2", "--jobs", "0"], c.io)).toBe(2)
    expect(c.err()).toContain("--jobs")
  })
})
