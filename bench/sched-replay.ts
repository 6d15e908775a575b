/**
 * The star's scheduler workload, replayed (issues 8 and 12): records every scheduler call of a
 * cut-down star run (schedules with their API, times, kinds and arguments; cancels; run slices;
 * clock moves; which event each handler ran for), then replays that exact call stream through the
 * Scheduler of one or more source trees in one process, with handlers that only re-issue the
 * recorded calls. What is timed is the scheduler alone on the star's real mix (times, ties, far
 * timeouts, cancels, near-heap sizes), without the model's 95 % around it. Each replay's
 * fingerprint must equal the recorded run's (same dispatch order and fold), so a tree that changes
 * the order fails here.
 *
 * Usage: node --import tsx bench/sched-replay.ts MODE keepAlive|new MS ROUNDS DIR_A [DIR_B ...]
 * A recording can be kept: `MODE keepAlive|new MS save=FILE` writes it and exits;
 * `load=FILE - - ROUNDS DIR_A ...` replays it (no star run, e.g. under callgrind).
 * Prints per tree the median CPU ns per dispatched event and the median paired ratio to DIR_A.
 *
 * Instruction counts of the scheduler alone: with SCHED_REPLAY_MARKER=PATH set, the replay writes
 * PATH after two rounds and waits for PATH.on before the rest (the handshake of bench/jit-count's
 * driver), so callgrind started with --instr-atstart=no counts only the later rounds; see
 * bench/sched-replay-count.sh.
 */
import { Scheduler, type EventHandler, type RunLimits } from "../src/sim/scheduler.ts"
import { loadStar, runStar } from "./star.ts"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import type { ProxyMode } from "../src/cluster/proxy-backends.ts"

const [mode, connection, msText, roundsText, ...dirs] = process.argv.slice(2)
const ms = Number(msText)
const rounds = Number(roundsText)
const saving = roundsText?.startsWith("save=") === true
if (!saving && (dirs.length < 1 || !(rounds >= 2 || mode.startsWith("load="))))
  throw new Error("usage: sched-replay.ts MODE keepAlive|new MS ROUNDS DIR_A [DIR_B ...]")

// Op codes of the recorded stream.
const OP_SCHEDULE = 0 // schedule / scheduleIn (handle returned)
const OP_POST = 1 // postStaged
const OP_SLOT = 2 // scheduleStagedSlot
const OP_STAGED = 3 // scheduleStaged
const OP_CANCEL = 4
const OP_RUN = 5
const OP_RUN_END = 6
const OP_SET_NOW = 7
const OP_DISPATCH = 8

class Stream {
  code = new Int8Array(1 << 20)
  time = new Float64Array(1 << 20)
  x = new Int32Array(1 << 20)
  y = new Int32Array(1 << 20)
  z = new Int32Array(1 << 20)
  length = 0
  push(code: number, time: number, x: number, y: number, z: number): void {
    if (this.length === this.code.length) {
      const grow = <T extends Int8Array | Int32Array | Float64Array>(a: T): T => {
        const n = new (a.constructor as new (n: number) => T)(a.length * 2)
        n.set(a)
        return n
      }
      this.code = grow(this.code)
      this.time = grow(this.time)
      this.x = grow(this.x)
      this.y = grow(this.y)
      this.z = grow(this.z)
    }
    const i = this.length++
    this.code[i] = code
    this.time[i] = time
    this.x[i] = x
    this.y[i] = y
    this.z[i] = z
  }
}

interface Recorded {
  stream: Stream
  kinds: number
  hot: number[]
  /** The preferDispatch call (0 or 1) that named each hot kind's handler. */
  hotGroup: number[]
  fingerprint: string
  events: number
  ids: number
}

/** Runs the cut-down star once with the Scheduler prototype wrapped, recording its calls. */
function record(): Recorded {
  const stream = new Stream()
  const P = Scheduler.prototype as unknown as Record<string, unknown>
  const saved = new Map<string, unknown>()
  const patch = (name: string, make: (orig: (...args: never[]) => unknown) => unknown): void => {
    saved.set(name, P[name])
    P[name] = make(P[name] as (...args: never[]) => unknown)
  }
  let api = -1
  let ids = 0
  const idOfSlot: number[] = []
  const handlerKinds = new Map<EventHandler, EventHandler>()
  const hot: number[] = []
  const hotGroup: number[] = []
  const kindHandler: EventHandler[] = []
  for (const [name, code] of [
    ["schedule", OP_SCHEDULE],
    ["postStaged", OP_POST],
    ["scheduleStagedSlot", OP_SLOT],
    ["scheduleStaged", OP_STAGED],
  ] as const)
    patch(
      name,
      (orig) =>
        function (this: Scheduler, ...args: never[]) {
          const outer = api === -1
          if (outer) api = code
          try {
            return orig.apply(this, args)
          } finally {
            if (outer) api = -1
          }
        },
    )
  patch(
    "insertStaged",
    (orig) =>
      function (this: Scheduler, kind: number, a: number, b: number) {
        const slot = (orig as unknown as (k: number, a: number, b: number) => number).call(this, kind, a, b)
        stream.push(api, this.stagedTimeNs, kind, a, b)
        idOfSlot[slot] = ids++
        return slot
      },
  )
  patch(
    "cancelSlot",
    (orig) =>
      function (this: Scheduler, slot: number, generation: number) {
        const s = this as unknown as { slotHigh: number; slotGeneration: Int32Array; slotKind: Int32Array }
        if (slot < s.slotHigh && s.slotGeneration[slot] === generation && s.slotKind[slot] !== -1)
          stream.push(OP_CANCEL, 0, idOfSlot[slot], 0, 0)
        return (orig as unknown as (s: number, g: number) => void).call(this, slot, generation)
      },
  )
  patch(
    "run",
    (orig) =>
      function (this: Scheduler, limits: RunLimits) {
        stream.push(OP_RUN, limits.timeNsMax, Math.min(limits.eventCountMax, 2 ** 31 - 1), 0, 0)
        const outcome = (orig as unknown as (l: RunLimits) => unknown).call(this, limits)
        stream.push(OP_RUN_END, 0, 0, 0, 0)
        return outcome
      },
  )
  patch(
    "registerKind",
    (orig) =>
      function (this: Scheduler, name: string, handler: EventHandler) {
        const kind = kindHandler.length
        kindHandler.push(handler)
        let wrapper = handlerKinds.get(handler)
        if (wrapper === undefined) {
          wrapper = {
            handleEvent(k: number, a: number, b: number, nowNs: number): void {
              stream.push(OP_DISPATCH, nowNs, k, a, b)
              handler.handleEvent(k, a, b, nowNs)
            },
          }
          handlerKinds.set(handler, wrapper)
        }
        return (orig as unknown as (n: string, h: EventHandler) => number).call(this, name, wrapper)
      },
  )
  patch(
    "preferDispatch",
    (orig) =>
      function (this: Scheduler, handler: EventHandler) {
        const group = hot.length === 0 ? 0 : Math.max(...hot.map((k) => hotGroup[k])) + 1
        kindHandler.forEach((h, k) => {
          if (h === handler) {
            hot.push(k)
            hotGroup[k] = group
          }
        })
        return (orig as unknown as (h: EventHandler) => void).call(this, handlerKinds.get(handler) ?? handler)
      },
  )
  const nowDescriptor = Object.getOwnPropertyDescriptor(P, "nowNs") as PropertyDescriptor
  Object.defineProperty(P, "nowNs", {
    configurable: true,
    get: nowDescriptor.get as () => number,
    set(this: Scheduler, timeNs: number) {
      stream.push(OP_SET_NOW, timeNs, 0, 0, 0)
      ;(nowDescriptor.set as (t: number) => void).call(this, timeNs)
    },
  })
  const s = loadStar(connection as "keepAlive" | "new", mode as ProxyMode)
  const spec = { ...s, workloads: [{ ...s.workloads[0], durationNs: ms * 1e6 }], expect: [] }
  const run = runStar(spec)
  for (const [name, fn] of saved) P[name] = fn
  Object.defineProperty(P, "nowNs", nowDescriptor)
  return { stream, kinds: kindHandler.length, hot, hotGroup, fingerprint: run.fingerprint, events: run.events, ids }
}

interface SchedulerModule {
  Scheduler: new () => {
    registerKind(name: string, handler: EventHandler): number
    preferDispatch(handler: EventHandler): void
    schedule(timeNs: number, kind: number, a: number, b: number): number
    scheduleStaged(kind: number, a: number, b: number): number
    postStaged(kind: number, a: number, b: number): void
    scheduleStagedSlot(kind: number, a: number, b: number): number
    cancel(handle: number): void
    cancelSlot(slot: number, generation: number): void
    run(limits: RunLimits): { eventCount: number }
    fingerprint(): string
    stagedTimeNs: number
    lastGeneration: number
    nowNs: number
  }
}

/** Replays the stream through a fresh scheduler of `mod`; returns its fingerprint and events. */
function makeReplay(mod: SchedulerModule, rec: Recorded): () => { fingerprint: string; events: number } {
  // Handler classes: the hot kinds get one class each (as the network and the apps do), the rest
  // are spread over six classes so the shared dispatch site is megamorphic as in the model.
  const classes: (new (r: Replay) => EventHandler)[] = []
  for (let i = 0; i < 8; i++)
    classes.push(
      class {
        constructor(private readonly r: Replay) {}
        handleEvent(): void {
          this.r.step()
        }
      },
    )
  class Replay {
    i = 0
    readonly handles = new Float64Array(rec.ids)
    readonly slots = new Int32Array(rec.ids)
    readonly generations = new Int32Array(rec.ids)
    nextId = 0
    events = 0
    readonly scheduler = new mod.Scheduler()
    constructor() {
      const handlers: EventHandler[] = []
      const hotHandlers: EventHandler[] = []
      for (let k = 0; k < rec.kinds; k++) {
        const isHot = rec.hot.includes(k)
        const h = isHot
          ? (hotHandlers[rec.hotGroup[k]] ??= new classes[rec.hotGroup[k]](this))
          : new classes[2 + (k % 6)](this)
        handlers.push(h)
        this.scheduler.registerKind(`k${k}`, h)
      }
      for (const k of rec.hot) this.scheduler.preferDispatch(handlers[k])
    }
    /** Executes ops until a dispatch marker or a run's end (not consumed), or the stream's end. */
    ops(): void {
      const st = rec.stream
      const code = st.code
      const sch = this.scheduler
      for (;;) {
        const i = this.i
        if (i >= st.length) return
        const c = code[i]
        if (c === OP_DISPATCH || c === OP_RUN_END) return
        this.i = i + 1
        if (c <= OP_STAGED) {
          const id = this.nextId++
          sch.stagedTimeNs = st.time[i]
          if (c === OP_POST) sch.postStaged(st.x[i], st.y[i], st.z[i])
          else if (c === OP_SLOT) {
            this.slots[id] = sch.scheduleStagedSlot(st.x[i], st.y[i], st.z[i])
            this.generations[id] = sch.lastGeneration
            this.handles[id] = -1
          } else if (c === OP_STAGED) this.handles[id] = sch.scheduleStaged(st.x[i], st.y[i], st.z[i])
          else this.handles[id] = sch.schedule(st.time[i], st.x[i], st.y[i], st.z[i])
        } else if (c === OP_CANCEL) {
          const id = st.x[i]
          if (this.handles[id] >= 0) sch.cancel(this.handles[id])
          else sch.cancelSlot(this.slots[id], this.generations[id])
        } else if (c === OP_RUN) {
          sch.run({ timeNsMax: st.time[i], eventCountMax: st.x[i] })
          if (code[this.i] !== OP_RUN_END) throw new Error(`replay diverged at op ${this.i}`)
          this.i++
        } else if (c === OP_SET_NOW) sch.nowNs = st.time[i]
      }
    }
    step(): void {
      if (rec.stream.code[this.i] !== OP_DISPATCH) throw new Error(`replay diverged at op ${this.i}`)
      this.i++
      this.events++
      this.ops()
    }
  }
  return () => {
    const r = new Replay()
    r.ops()
    if (r.i !== rec.stream.length) throw new Error(`replay stopped at op ${r.i} of ${rec.stream.length}`)
    return { fingerprint: r.scheduler.fingerprint(), events: r.events }
  }
}

/** A recording is saved as a JSON header line plus the stream's columns, so replays can skip the star. */
function save(file: string, r: Recorded): void {
  const st = r.stream
  const header = JSON.stringify({
    length: st.length,
    kinds: r.kinds,
    hot: r.hot,
    hotGroup: r.hotGroup,
    fingerprint: r.fingerprint,
    events: r.events,
    ids: r.ids,
  })
  const n = st.length
  writeFileSync(
    file,
    Buffer.concat([
      Buffer.from(header + "\n"),
      Buffer.from(st.time.buffer, 0, n * 8),
      Buffer.from(st.x.buffer, 0, n * 4),
      Buffer.from(st.y.buffer, 0, n * 4),
      Buffer.from(st.z.buffer, 0, n * 4),
      Buffer.from(st.code.buffer, 0, n),
    ]),
  )
}

function load(file: string): Recorded {
  const bytes = readFileSync(file)
  const newline = bytes.indexOf(10)
  const h = JSON.parse(bytes.subarray(0, newline).toString()) as Omit<Recorded, "stream"> & { length: number }
  const n = h.length
  const stream = new Stream()
  let offset = newline + 1
  const take = (size: number): ArrayBuffer => {
    const copy = new Uint8Array(n * size)
    copy.set(bytes.subarray(offset, offset + n * size))
    offset += n * size
    return copy.buffer
  }
  stream.time = new Float64Array(take(8))
  stream.x = new Int32Array(take(4))
  stream.y = new Int32Array(take(4))
  stream.z = new Int32Array(take(4))
  stream.code = new Int8Array(take(1))
  stream.length = n
  return { ...h, stream }
}

const rec = mode.startsWith("load=") ? load(mode.slice(5)) : record()
if (saving) {
  save(roundsText.slice(5), rec)
  process.exit(0)
}
console.error(
  JSON.stringify({
    recordedOps: rec.stream.length,
    events: rec.events,
    kinds: rec.kinds,
    hot: rec.hot,
    fp: rec.fingerprint,
  }),
)
const replays: (() => { fingerprint: string; events: number })[] = []
for (const d of dirs) replays.push(makeReplay((await import(`${d}/src/sim/scheduler.ts`)) as SchedulerModule, rec))
const nsPerEvent: number[][] = dirs.map(() => [])
const marker = process.env.SCHED_REPLAY_MARKER
for (let r = 0; r < rounds; r++) {
  if (marker !== undefined && r === 2) {
    writeFileSync(marker, "warm")
    // A benchmark harness, not model code: waiting on the controlling script is wall-clock by nature.
    const waitCell = new Int32Array(new SharedArrayBuffer(4))
    for (let waitedMs = 0; !existsSync(`${marker}.on`); waitedMs += 50) {
      if (waitedMs > 600_000) throw new Error("instrumentation was not switched on within 10 minutes")
      Atomics.wait(waitCell, 0, 0, 50)
    }
  }
  for (let j = 0; j < dirs.length; j++) {
    const i = (j + r) % dirs.length
    const start = process.cpuUsage()
    const out = replays[i]()
    const cpu = process.cpuUsage(start)
    if (out.fingerprint !== rec.fingerprint)
      throw new Error(`${dirs[i]}: replay fingerprint ${out.fingerprint}, recorded ${rec.fingerprint}`)
    if (r > 0) nsPerEvent[i].push(((cpu.user + cpu.system) * 1e3) / out.events)
  }
}
const median = (x: number[]): number => {
  const s = [...x].sort((p, q) => p - q)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const result: Record<string, unknown> = { mode, connection, ms, rounds: rounds - 1, events: rec.events }
dirs.forEach((d, i) => {
  result[d] = {
    nsPerEventMedian: +median(nsPerEvent[i]).toFixed(1),
    min: +Math.min(...nsPerEvent[i]).toFixed(1),
    medianRatio: +median(nsPerEvent[i].map((v, k) => v / nsPerEvent[0][k])).toFixed(3),
  }
})
console.log(JSON.stringify(result))
