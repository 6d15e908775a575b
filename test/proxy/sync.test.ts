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

/**
 * Syncs that take time (proxy/sync-cost.ts): upstream's tryRun calls fn() on the Loop goroutine,
 * then sets lastRun = Now() and resets the timer to maxInterval; requests during fn wait in the
 * run channel. Returns [start, end] per sync.
 */
function simulateTimed(
  requestTimesNs: readonly number[],
  endNs: number,
  durationNs: number,
  minNs = 1 * S,
  periodNs = 30 * S,
  burst = 2,
  direct = false,
): [number, number][] {
  const scheduler = new Scheduler()
  const syncs: [number, number][] = []
  let startNs = -1
  const runner = new SyncRunner(scheduler, "test", minNs, periodNs, burst, {
    startSync: (now) => {
      expect(startNs).toBe(-1)
      startNs = now
      return durationNs
    },
    endSync: (now) => {
      syncs.push([startNs, now])
      startNs = -1
      return true
    },
  })
  const requester: EventHandler = { handleEvent: (_k, _a, _b, now) => runner.requestSync(now) }
  const kind = scheduler.registerKind("test/request", requester)
  if (direct) runner.runDirect(0)
  runner.start(0)
  for (const t of requestTimesNs) scheduler.schedule(t, kind, 0, 0)
  scheduler.run({ timeNsMax: endNs, eventCountMax: 1_000_000 })
  return syncs
}

describe("SyncRunner with syncs that take time", () => {
  it("never overlaps syncs: a request during a sync is served when it ends (tokens left)", () => {
    // 300 ms syncs; the request at 100 ms arrives while the first runs and starts at its end.
    expect(simulateTimed([0, 100 * MS], 5 * S, 300 * MS)).toEqual([
      [0, 300 * MS],
      [300 * MS, 600 * MS],
    ])
  })

  it("without a token the next sync waits minSyncPeriod from the END of the last (lastRun after fn)", () => {
    // burst 1, minSyncPeriod 1 s, 300 ms syncs: the request at 100 ms finds no token at 300 ms
    // (credit 0.3 s); next possible = minSyncPeriod - (now - lastRun) = 1 s after the end: 1.3 s.
    expect(simulateTimed([0, 100 * MS], 5 * S, 300 * MS, 1 * S, 30 * S, 1)).toEqual([
      [0, 300 * MS],
      [1300 * MS, 1600 * MS],
    ])
    // With instant syncs the same requests run at 0 and 1 s: the duration delays the next.
    expect(simulate([0, 100 * MS], 5 * S, 1 * S, 30 * S, 1)).toEqual([0, 1 * S])
  })

  it("a sync longer than minSyncPeriod delays the next: back-to-back, never more often", () => {
    // 2.5 s syncs, minSyncPeriod 1 s: requests every 200 ms keep one pending; each sync starts when
    // the previous ends (the bucket refilled during the long sync).
    const requests = Array.from({ length: 50 }, (_, i) => i * 200 * MS)
    const syncs = simulateTimed(requests, 9 * S, 2500 * MS)
    expect(syncs).toEqual([
      [0, 2500 * MS],
      [2500 * MS, 5000 * MS],
      [5000 * MS, 7500 * MS],
    ])
  })

  it("the periodic resync counts syncPeriod from the end of the last sync", () => {
    expect(simulateTimed([], 70 * S, 2 * S)).toEqual([
      [30 * S, 32 * S],
      [62 * S, 64 * S],
    ])
  })

  it("a direct (start-up) sync holds the runner but spends no token and leaves the timer", () => {
    // Requests at 10 ms and 20 ms merge and run when the 500 ms start-up sync ends; the burst of 2
    // is intact, so a request at 1.2 s runs at once.
    expect(simulateTimed([10 * MS, 20 * MS, 1200 * MS], 3 * S, 500 * MS, 1 * S, 30 * S, 2, true)).toEqual([
      [0, 500 * MS],
      [500 * MS, 1000 * MS],
      [1200 * MS, 1700 * MS],
    ])
  })

  it("property: syncs never overlap, each request's sync starts within minSyncPeriod after the running one ends", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 * S }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 0, max: 3000 }),
        (times, burst, minMs, durationMs) => {
          const minNs = minMs * MS
          const durationNs = durationMs * MS
          const sorted = [...times].sort((a, b) => a - b)
          const syncs = simulateTimed(sorted, 60 * S, durationNs, minNs, 30 * S, burst)
          for (let i = 1; i < syncs.length; i++) expect(syncs[i][0]).toBeGreaterThanOrEqual(syncs[i - 1][1])
          for (const [start, end] of syncs) expect(end - start).toBe(durationNs)
          for (const r of sorted) {
            // The sync running at r (if any) ends first; then at most minSyncPeriod more.
            const running = syncs.find(([s, e]) => s <= r && r < e)
            const from = running === undefined ? r : running[1]
            if (from + minNs + durationNs > 60 * S) continue
            expect(syncs.some(([s]) => s >= r && s <= from + minNs)).toBe(true)
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})
