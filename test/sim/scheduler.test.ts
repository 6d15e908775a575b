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
