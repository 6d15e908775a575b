/**
 * SyncRunner reproduces BoundedFrequencyRunner timing (pkg/util/async/bounded_frequency_runner.go):
 * token bucket of `burst` syncs refilled one per minSyncPeriod, requests applied within
 * minSyncPeriod, periodic resync every syncPeriod after the last run.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Scheduler } from "../../src/sim/scheduler.ts"
import type { EventHandler } from "../../src/sim/scheduler.ts"
import { SyncRunner } from "../../src/proxy/sync.ts"

const S = 1_000_000_000
const MS = 1_000_000

/** Drives a runner with requests at the given times; returns the sync times. */
function simulate(
  requestTimesNs: readonly number[],
  endNs: number,
  minNs = 1 * S,
  periodNs = 30 * S,
  burst = 2,
): number[] {
  const scheduler = new Scheduler()
  const syncs: number[] = []
  const runner = new SyncRunner(scheduler, "test", minNs, periodNs, burst, { sync: (now) => void syncs.push(now) })
  const requester: EventHandler = { handleEvent: (_k, _a, _b, now) => runner.requestSync(now) }
  const kind = scheduler.registerKind("test/request", requester)
  runner.start(0)
  for (const t of requestTimesNs) scheduler.schedule(t, kind, 0, 0)
  scheduler.run({ timeNsMax: endNs, eventCountMax: 1_000_000 })
  return syncs
}

describe("SyncRunner", () => {
  it("allows a burst of 2, then spaces syncs by minSyncPeriod", () => {
    // Upstream-style walk: 2 immediate runs, the 3rd waits for a token.
    expect(simulate([0, 100 * MS, 200 * MS], 5 * S)).toEqual([0, 100 * MS, 1100 * MS])
  })

  it("merges requests that arrive while one is pending or rate-limited", () => {
    const requests = [0, 10 * MS, 20 * MS, 30 * MS, 40 * MS, 50 * MS, 60 * MS]
    // 0 and 10ms use the burst; the rest are all served by one run at 1010ms.
    expect(simulate(requests, 5 * S)).toEqual([0, 10 * MS, 1010 * MS])
  })

  it("resyncs every syncPeriod without changes", () => {
    expect(simulate([], 100 * S)).toEqual([30 * S, 60 * S, 90 * S])
    // A change-triggered run restarts the period.
    expect(simulate([10 * S], 70 * S)).toEqual([10 * S, 40 * S, 70 * S])
  })

  it("runs every request at once with minSyncPeriod 0", () => {
    expect(simulate([1, 2, 3], 10, 0, 30 * S, 2)).toEqual([1, 2, 3])
  })

  it("property: every request is applied within minSyncPeriod, and the rate bound holds", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 * S }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 2000 }),
        (times, burst, minMs) => {
          const minNs = minMs * MS
          const periodNs = 30 * S
          const sorted = [...times].sort((a, b) => a - b)
          const syncs = simulate(sorted, 60 * S, minNs, periodNs, burst)
          // Applied within minSyncPeriod.
          for (const r of sorted) {
            expect(syncs.some((s) => s >= r && s <= r + minNs)).toBe(true)
          }
          // Token bucket: at most burst + (t2 - t1) / min syncs in any window [t1, t2].
          for (let i = 0; i < syncs.length; i++) {
            for (let j = i; j < syncs.length; j++) {
              expect(j - i + 1).toBeLessThanOrEqual(burst + Math.floor((syncs[j] - syncs[i]) / minNs))
            }
          }
          // Never longer than syncPeriod without a sync.
          let last = 0
          for (const s of [...syncs, 60 * S]) {
            expect(s - last).toBeLessThanOrEqual(periodNs)
            last = s
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})
