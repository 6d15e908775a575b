import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Scheduler, type EventHandler } from "../../src/sim/scheduler.ts"

class Recorder implements EventHandler {
  readonly seen: { timeNs: number; a: number; b: number }[] = []
  handleEvent(_kind: number, a: number, b: number, nowNs: number): void {
    this.seen.push({ timeNs: nowNs, a, b })
  }
}

describe("Scheduler", () => {
  it("runs events in (time, sequence) order for any schedule", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }), (times) => {
        const scheduler = new Scheduler(4)
        const recorder = new Recorder()
        const kind = scheduler.registerKind("record", recorder)
        times.forEach((timeNs, index) => scheduler.schedule(timeNs, kind, index, 0))
        const outcome = scheduler.run({ timeNsMax: Number.MAX_SAFE_INTEGER, eventCountMax: 1e9 })
        expect(outcome.reason).toBe("empty")
        const expected = times.map((timeNs, index) => ({ timeNs, index })).sort((x, y) => x.timeNs - y.timeNs || x.index - y.index)
        expect(recorder.seen.map((e) => e.a)).toEqual(expected.map((e) => e.index))
      }),
    )
  })

  it("keeps FIFO order for events scheduled at the same instant from inside handlers", () => {
    const scheduler = new Scheduler()
    const order: number[] = []
    const handler: EventHandler = {
      handleEvent(kind, a, _b, nowNs) {
        order.push(a)
        if (a < 3) {
          scheduler.schedule(nowNs, kind, a + 10, 0)
          scheduler.schedule(nowNs, kind, a + 20, 0)
        }
      },
    }
    const kind = scheduler.registerKind("chain", handler)
    scheduler.schedule(5, kind, 1, 0)
    scheduler.schedule(5, kind, 2, 0)
    scheduler.run({ timeNsMax: 100, eventCountMax: 100 })
    expect(order).toEqual([1, 2, 11, 21, 12, 22])
  })

  it("cancels pending events", () => {
    const scheduler = new Scheduler()
    const recorder = new Recorder()
    const kind = scheduler.registerKind("record", recorder)
    scheduler.schedule(1, kind, 1, 0)
    const handle = scheduler.schedule(2, kind, 2, 0)
    scheduler.schedule(3, kind, 3, 0)
    scheduler.cancel(handle)
    scheduler.run({ timeNsMax: 100, eventCountMax: 100 })
    expect(recorder.seen.map((e) => e.a)).toEqual([1, 3])
  })

  it("stops at the time and event limits with a reason", () => {
    const scheduler = new Scheduler()
    const handler: EventHandler = {
      handleEvent(kind, _a, _b, nowNs) {
        scheduler.schedule(nowNs + 10, kind, 0, 0)
      },
    }
    const kind = scheduler.registerKind("forever", handler)
    scheduler.schedule(0, kind, 0, 0)
    expect(scheduler.run({ timeNsMax: 95, eventCountMax: 1e6 })).toEqual({ reason: "time-limit", eventCount: 10, nowNs: 90 })
    expect(scheduler.run({ timeNsMax: 1e12, eventCountMax: 5 }).reason).toBe("event-limit")
  })

  it("rejects events in the past", () => {
    const scheduler = new Scheduler()
    const kind = scheduler.registerKind("noop", new Recorder())
    scheduler.schedule(10, kind, 0, 0)
    scheduler.run({ timeNsMax: 100, eventCountMax: 10 })
    expect(() => scheduler.schedule(5, kind, 0, 0)).toThrow(/bad event time/)
  })

  it("gives the same fingerprint for the same trace and another for a different one", () => {
    const build = (shift: number): string => {
      const scheduler = new Scheduler()
      const kind = scheduler.registerKind("noop", new Recorder())
      for (let i = 0; i < 100; i++) scheduler.schedule(i * 7 + (i === 50 ? shift : 0), kind, i, 0)
      scheduler.run({ timeNsMax: 1e9, eventCountMax: 1e9 })
      return scheduler.fingerprint()
    }
    expect(build(0)).toBe(build(0))
    expect(build(1)).not.toBe(build(0))
  })
})

/**
 * Model-based check of the heap, the deferred root pop ("replace top") and generation handles: a
 * random program of schedule / cancel (including stale handles) / run / peek, where every
 * dispatched event itself schedules and cancels, runs against a sorted-array reference model.
 */
describe("Scheduler against a reference model", () => {
  type Op =
    | { readonly op: "schedule"; readonly delayNs: number }
    | { readonly op: "cancel"; readonly pick: number }
    | { readonly op: "run"; readonly events: number }
    | { readonly op: "peek" }
  interface Action {
    readonly delaysNs: readonly number[]
    readonly cancelPick: number | null
  }
  interface Pending {
    readonly timeNs: number
    readonly seq: number
    readonly id: number
  }

  const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant("schedule" as const), delayNs: fc.integer({ min: 0, max: 20 }) }),
    fc.record({ op: fc.constant("cancel" as const), pick: fc.nat() }),
    fc.record({ op: fc.constant("run" as const), events: fc.integer({ min: 0, max: 8 }) }),
    fc.record({ op: fc.constant("peek" as const) }),
  )
  const actionArbitrary: fc.Arbitrary<Action> = fc.record({
    delaysNs: fc.array(fc.integer({ min: 0, max: 15 }), { maxLength: 3 }),
    cancelPick: fc.option(fc.nat(), { nil: null }),
  })

  it("dispatches the same trace, pending counts and next times as the model", () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { maxLength: 120 }), fc.array(actionArbitrary, { minLength: 1, maxLength: 16 }), (ops, actions) => {
        // Event ids count schedule calls in order on each side; the real side keeps its handles.
        const scheduler = new Scheduler(2)
        const handles: number[] = []
        const realTrace: string[] = []
        const handler: EventHandler = {
          handleEvent(kind, a, _b, nowNs) {
            realTrace.push(`${nowNs}:${a}`)
            const action = actions[a % actions.length]
            for (const delayNs of action.delaysNs) handles.push(scheduler.schedule(nowNs + delayNs, kind, handles.length, 0))
            if (action.cancelPick !== null) scheduler.cancel(handles[action.cancelPick % handles.length])
            expect(scheduler.peekTimeNs()).toBeGreaterThanOrEqual(nowNs)
          },
        }
        const kind = scheduler.registerKind("model", handler)

        const modelTrace: string[] = []
        let modelPending: Pending[] = []
        let modelNowNs = 0
        let modelIds = 0
        const modelSchedule = (timeNs: number): void => {
          modelPending.push({ timeNs, seq: modelIds, id: modelIds })
          modelIds++
        }
        const modelCancel = (pick: number): void => {
          const target = pick % modelIds
          modelPending = modelPending.filter((p) => p.id !== target)
        }
        const modelRun = (eventsMax: number): number => {
          let ran = 0
          while (ran < eventsMax && modelPending.length > 0) {
            let best = 0
            for (let i = 1; i < modelPending.length; i++) {
              const p = modelPending[i]
              const q = modelPending[best]
              if (p.timeNs < q.timeNs || (p.timeNs === q.timeNs && p.seq < q.seq)) best = i
            }
            const event = modelPending[best]
            modelPending.splice(best, 1)
            modelNowNs = event.timeNs
            modelTrace.push(`${event.timeNs}:${event.id}`)
            ran++
            const action = actions[event.id % actions.length]
            for (const delayNs of action.delaysNs) modelSchedule(event.timeNs + delayNs)
            if (action.cancelPick !== null) modelCancel(action.cancelPick)
          }
          return ran
        }

        for (const op of ops) {
          if (op.op === "schedule") {
            handles.push(scheduler.schedule(scheduler.nowNs + op.delayNs, kind, handles.length, 0))
            modelSchedule(modelNowNs + op.delayNs)
          } else if (op.op === "cancel") {
            if (handles.length === 0) continue
            scheduler.cancel(handles[op.pick % handles.length])
            modelCancel(op.pick)
          } else if (op.op === "run") {
            const outcome = scheduler.run({ timeNsMax: Number.MAX_SAFE_INTEGER, eventCountMax: op.events })
            const ran = modelRun(op.events)
            expect(outcome.eventCount).toBe(ran)
            expect(outcome.reason).toBe(modelPending.length === 0 ? "empty" : "event-limit")
          } else {
            const next = modelPending.reduce((m, p) => Math.min(m, p.timeNs), Number.POSITIVE_INFINITY)
            expect(scheduler.peekTimeNs()).toBe(next)
          }
          expect(realTrace).toEqual(modelTrace)
          expect(scheduler.pendingCount).toBe(modelPending.length)
          expect(scheduler.nowNs).toBe(modelNowNs)
        }
      }),
      { numRuns: 300 },
    )
  })

  it("ignores stale handles after their slot was reused", () => {
    const scheduler = new Scheduler(1)
    const recorder = new Recorder()
    const kind = scheduler.registerKind("record", recorder)
    const first = scheduler.schedule(1, kind, 1, 0)
    scheduler.run({ timeNsMax: 10, eventCountMax: 10 })
    const second = scheduler.schedule(20, kind, 2, 0)
    expect(second).not.toBe(first)
    scheduler.cancel(first)
    scheduler.cancel(first)
    expect(scheduler.pendingCount).toBe(1)
    scheduler.cancel(second)
    scheduler.cancel(second)
    expect(scheduler.pendingCount).toBe(0)
    scheduler.run({ timeNsMax: 100, eventCountMax: 10 })
    expect(recorder.seen.map((e) => e.a)).toEqual([1])
  })

  it("keeps the fingerprint of the original binary heap for the hold model", () => {
    // Pinned from the scheduler before the replace-top / generation-handle rewrite: the
    // dispatched trace, hence the fingerprint, must not change with the data structure.
    const scheduler = new Scheduler()
    let x = 12345
    const handler: EventHandler = {
      handleEvent(k, a, b, nowNs) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0
        scheduler.schedule(nowNs + (x % 1000), k, a, b)
      },
    }
    const kind = scheduler.registerKind("hold", handler)
    for (let i = 0; i < 500; i++) scheduler.schedule(i % 37, kind, i, i & 3)
    scheduler.run({ timeNsMax: Number.MAX_SAFE_INTEGER, eventCountMax: 20_000 })
    expect(scheduler.fingerprint()).toBe(PINNED_HOLD_FINGERPRINT)
  })
})

const PINNED_HOLD_FINGERPRINT = "a24933ea41a0e565"
