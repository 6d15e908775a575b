/**
 * The batch progress line: on a terminal, after a second of wall time, points and runs done, the
 * simulated/wall rate and an ETA; nothing at all when stderr is not a terminal.
 */
import { describe, expect, it } from "vitest"
import { BatchProgress } from "../../src/cli/sweep/progress.ts"

function io(tty: boolean) {
  let err = ""
  let now = 0
  return {
    io: { stderr: (text: string) => void (err += text), stderrIsTTY: tty, wallClockMs: () => now },
    err: () => err,
    advance: (ms: number) => void (now += ms),
  }
}

describe("BatchProgress", () => {
  it("shows points, runs, rate and ETA on a terminal, then clears the line", () => {
    const t = io(true)
    // 2 points x 2 seeds, 10 s of simulated time each.
    const p = new BatchProgress(t.io, true, "sweep s", [10e9, 10e9, 10e9, 10e9], 2, (task) => Math.floor(task / 2))
    p.progress(0, 5e9)
    expect(t.err()).toBe("") // not before a second of wall time
    t.advance(2000)
    p.done(0)
    p.progress(1, 10e9)
    t.advance(2000)
    p.done(1)
    // 20 s simulated in 4 s of wall: 5 s/s; 20 s left: ETA 4 s.
    expect(t.err()).toContain("\r\x1b[Ksweep s: 1/2 points, 2/4 runs done, 5.00 s simulated/s wall, ETA 4s")
    p.clear()
    expect(t.err().endsWith("\r\x1b[K")).toBe(true)
  })

  it("prints nothing when stderr is not a terminal", () => {
    const t = io(false)
    const p = new BatchProgress(t.io, false, "run", [1e9, 1e9])
    t.advance(5000)
    p.progress(0, 5e8)
    p.done(0)
    p.done(1)
    p.clear()
    expect(t.err()).toBe("")
  })
})
