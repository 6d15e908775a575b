/**
 * Scheduler benchmark: the hold model (ns-3 utils/bench-scheduler.cc, Jones 1986).
 *
 * A constant population of PENDING events; running an event schedules exactly one successor at
 * now + Exp(mean 1 us) (Rng.exponentialNs), so every dispatched event is one pop + one push on
 * the event list plus the dispatch, the fingerprint fold and one random variate. EVENTS events
 * per measured run. benny (benchmark.js underneath) times whole runs; events/s = runs/s x EVENTS.
 *
 * Usage: npx tsx bench/scheduler.ts   (the last line printed is a JSON object)
 */
import { loadavg } from "node:os"
import { Rng } from "../src/sim/rng.ts"
import { Scheduler, type EventHandler } from "../src/sim/scheduler.ts"
import { timeRuns } from "./timing.ts"

const PENDING = 10_000
const EVENTS = 3_000_000
const MEAN_DELAY_NS = 1_000
const SEED = 1

class Hold implements EventHandler {
  constructor(
    private readonly scheduler: Scheduler,
    private readonly rng: Rng,
  ) {}

  handleEvent(kind: number, a: number, b: number, nowNs: number): void {
    this.scheduler.schedule(nowNs + this.rng.exponentialNs(MEAN_DELAY_NS), kind, a, b)
  }
}

interface HoldRun {
  fingerprint: string
  nowNs: number
  eventCount: number
}

function holdRun(): HoldRun {
  const scheduler = new Scheduler()
  const rng = Rng.stream(SEED, "bench/hold")
  const kind = scheduler.registerKind("hold", new Hold(scheduler, rng))
  for (let i = 0; i < PENDING; i++) scheduler.schedule(rng.exponentialNs(MEAN_DELAY_NS), kind, i, 0)
  const outcome = scheduler.run({ timeNsMax: Number.MAX_SAFE_INTEGER, eventCountMax: EVENTS })
  if (outcome.eventCount !== EVENTS || scheduler.pendingCount !== PENDING)
    throw new Error("hold model broke its invariant")
  return { fingerprint: scheduler.fingerprint(), nowNs: outcome.nowNs, eventCount: outcome.eventCount }
}

// One plain timed run first: it checks determinism (same fingerprint twice) and warms the JIT.
const check = holdRun()
const cpuStart = process.cpuUsage()
const start = process.hrtime.bigint()
const again = holdRun()
const plainSeconds = Number(process.hrtime.bigint() - start) / 1e9
const plainCpu = process.cpuUsage(cpuStart)
const plainCpuSeconds = (plainCpu.user + plainCpu.system) / 1e6
if (again.fingerprint !== check.fingerprint) throw new Error("hold model is not deterministic")

// benny rounds ops/s to an integer (2 ops/s here), so events/s comes from the sample times.
const { secondsMean, secondsMedian, samples, relativeMarginOfErrorPercent } = await timeRuns(
  `scheduler hold model: ${PENDING} pending, ${EVENTS} events`,
  "near heap + bucket ring + far heap (time, seq)",
  () => {
    holdRun()
  },
  { minSamples: 5, maxTime: 10 },
)

console.log(
  JSON.stringify({
    benchmark: "scheduler-hold",
    node: process.version,
    pending: PENDING,
    events: EVENTS,
    meanDelayNs: MEAN_DELAY_NS,
    eventsPerSecond: Math.round(EVENTS / secondsMean),
    eventsPerSecondMedian: Math.round(EVENTS / secondsMedian),
    relativeMarginOfErrorPercent,
    samples,
    plainRunEventsPerSecond: Math.round(EVENTS / plainSeconds),
    // CPU time of this process (all threads) in the plain run: less sensitive to a loaded machine.
    plainRunEventsPerCpuSecond: Math.round(EVENTS / plainCpuSeconds),
    loadavg: loadavg().map((l) => Number(l.toFixed(2))),
    fingerprint: check.fingerprint,
    simulatedNs: check.nowNs,
  }),
)
