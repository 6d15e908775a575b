/**
 * Discrete-event scheduler: a two-level event list over parallel typed arrays, keyed by (timeNs, seq).
 *
 * Why this shape:
 * - Total order. `seq` is assigned at schedule time, so events due at the same instant run in the
 *   order they were scheduled (FIFO), as in ns-3's EventKey { m_ts, m_uid }. Nothing depends on hash
 *   map iteration order, nor on which structure holds an event.
 * - No closure per event. An event is (kind, a, b): a small integer kind registered once by the
 *   subsystem that handles it, and two integer arguments (a packet handle, an interface id, a timer
 *   generation...). Dispatch is one indexed method call on the handler registered for the kind.
 * - Typed arrays. Object-per-event heaps are several times slower at 10^5 pending events (STYLE.md,
 *   flatqueue).
 * - Two levels (a calendar queue's buckets in front of a heap, as in a ladder queue). Time is cut
 *   into buckets of a power-of-two width. Only the current bucket's events sit in the near heap,
 *   a binary min-heap on (timeNs, seq); the next RING_BUCKETS - 1 buckets are unsorted FIFO lists
 *   (O(1) insert, a bitmap finds the next non-empty one); later events (timers seconds away) wait
 *   in a far FIFO queue (times scheduled in order) or a far heap (the others), both by time, and
 *   move to the ring when it reaches them. When the current bucket runs dry the next one is
 *   poured out and sorted once into a run (an insertion sort: a bucket holds tens of events, nearly
 *   in order) that is dispatched by an index step; events scheduled into the running bucket go to
 *   the near heap, and the earlier of the run's head and the heap's root runs next. On the star
 *   almost every event lands in a later bucket, so a dispatch costs no sift levels. The bucket
 *   width is retuned between buckets from measured events per bucket (see `retune`); a bucket whose
 *   sort would take too many moves (far out of order) goes to the near heap, a plain heap as before.
 * - Replace top. The root's event is dispatched while still in the near heap; the first event its
 *   handler schedules into the current bucket takes the root's place with one sift-down.
 *   Hold model, 10^4 pending (bench/scheduler.ts, 2 cores, Node 20): single binary heap 5.8-6.2 M
 *   events/s, this structure 9.1-10.0 M (ns-3 3.37 CalendarScheduler: 6.9-7.2 M).
 *
 * Cancellation is by the handle `schedule` returns (slot + generation, so stale handles are inert);
 * the event is marked and skipped when it reaches the near heap's root or the run's head.
 * Subsystems that re-arm timers often should prefer generation counters (ignore a fired timer whose
 * generation is stale), which costs nothing.
 */
import { AssertionError, assert } from "./assert.ts"
import { TIME_NS_MAX } from "./time.ts"

/**
 * TIME_NS_MAX as a constant of this module: TurboFan folds it into insertStaged, where the imported
 * binding is a load and a hole check per insert.
 */
const TIME_NS_LIMIT: number = TIME_NS_MAX

export interface EventHandler {
  /** Called when an event of a kind registered by this handler is due. `nowNs` equals its time. */
  handleEvent(kind: number, a: number, b: number, nowNs: number): void
}

export interface RunLimits {
  /** Events due after this time are not run; the run ends with reason "time-limit". */
  readonly timeNsMax: number
  /** At most this many events run; then the run ends with reason "event-limit". */
  readonly eventCountMax: number
}

export type RunEndReason = "empty" | "time-limit" | "event-limit" | "stopped"

export interface RunOutcome {
  readonly reason: RunEndReason
  readonly eventCount: number
  readonly nowNs: number
}

const CAPACITY_INITIAL = 1024

/**
 * A cancel handle is `generation * SLOT_LIMIT + slot`: the record slot the event occupies and how
 * many times that slot had been reused. A stale handle (its event ran or was cancelled, and the
 * slot was reused) no longer matches the slot's generation, so cancelling it is a no-op. Both parts
 * stay below 2^53: at most 2^24 (16.7 M) events pending at once, and a slot is retired after 2^29
 * reuses instead of letting its generation wrap.
 */
const SLOT_LIMIT = 16_777_216
const GENERATION_LIMIT = 536_870_912
/** `slotKind` of a pending event that was cancelled; it is skipped when it reaches the root. */
const KIND_CANCELLED = -1

/** Buckets in the ring (a power of two); the ring covers RING_BUCKETS x bucket width of time. */
const RING_BUCKETS = 4096
const RING_MASK = RING_BUCKETS - 1
/** End of a bucket's list / an empty bucket. */
const NONE = -1
/** Bucket width bounds (powers of two, ns). Times are integers, so 1 ns is the finest useful. */
const BUCKET_WIDTH_MIN = 1
const BUCKET_WIDTH_MAX = 2 ** 40
const BUCKET_WIDTH_INITIAL = 1024
/** Retuning: dispatched events per drained bucket kept between these (see `retune`). */
const EVENTS_PER_BUCKET_LOW = 4
const EVENTS_PER_BUCKET_HIGH = 32
const EVENTS_PER_BUCKET_TARGET = 10
const EPOCH_EVENTS_MIN = 8192
/** Far events a far push moves from the FIFO queue's tail to the far heap at most (see farPush). */
const FAR_EVICT_MAX = 64
/**
 * Sorting a bucket's run (see sortRun): it may take the moves of reversing RUN_SORT_MAX events
 * (RUN_SORT_MAX^2 / 2, so a run that short always sorts) plus RUN_SORT_MOVES_PER_EVENT per event;
 * a run that needs more goes to the near heap.
 */
const RUN_SORT_MAX = 64
const RUN_SORT_MOVES_PER_EVENT = 8

export class Scheduler {
  /** Current simulated time; only moves forward (run, or a caller advancing an idle clock). */
  get nowNs(): number {
    return this.nowValueNs
  }

  set nowNs(timeNs: number) {
    this.nowValueNs = timeNs
    this.dispatchTimeNs = timeNs
  }

  private nowValueNs = 0
  /** Number of events dispatched since creation. */
  eventCount = 0

  // Near heap: pending events of buckets <= bucketCurrent, as (timeNs, slot) pairs; the
  // tie-breaking seq lives in the slot record and is read only when two times are equal.
  // The typed-array fields below start as empty arrays (the constructor sizes them): declared
  // without a value, a class field is first defined as undefined, and V8 then tracks it as any
  // value, checking the array's map at every access; defined as an array of the kind it keeps,
  // the field's type is that map, and the check goes.
  private heapTimeNs: Float64Array = new Float64Array(0)
  private heapSlot: Int32Array = new Int32Array(0)
  /**
   * The entries' seqs, moved with them: many events share a time (clients in lockstep), and a tie
   * then compares seqs here rather than through slotSeq[heapSlot[i]] (two dependent loads).
   */
  private heapSeq: Float64Array = new Float64Array(0)
  private heapLength = 0
  /**
   * True while the root's event is being dispatched: the root's record is already consumed, but
   * the root stays in place so that the first event the handler schedules replaces it with one
   * sift-down ("replace top") instead of a pop plus a push. Settled by `settleRoot`.
   */
  private rootTaken = false

  /**
   * The sorted run: the current bucket's events as poured from the ring (and the far queues),
   * sorted by (time, seq) once, then dispatched from runHead in order: a pop is an index step
   * instead of a sift-down through the near heap. Events scheduled into the current bucket while
   * it runs go to the near heap; the next event is the earlier of the run's head and the heap's
   * root, so the dispatch order is (time, seq) as before.
   *
   * Seqs are mostly not needed. A ring bucket's list is appended in seq order (inserts happen in
   * seq order), so a stable sort by time alone gives the (time, seq) order. Only events moved in
   * from the far queues break that order (they leave those by time only): a run holding one
   * (runSeqNeeded) copies the seqs into runSeq and sorts by (time, seq). And every near-heap event
   * was scheduled after the run was poured, so its seq is larger than any run event's: on equal
   * times the run's head goes first, without a seq compare.
   */
  private runTimeNs: Float64Array = new Float64Array(0)
  private runSeq: Float64Array = new Float64Array(0)
  private runSlot: Int32Array = new Int32Array(0)
  private runHead = 0
  private runEnd = 0
  /** The run holds events moved in from the far queues: sort it by (time, seq) (see runSeq). */
  private runSeqNeeded = false
  /** Set by settleNext: the next event is the run's head (else the near heap's root). */
  private nextFromRun = false

  // Ring: buckets bucketCurrent+1 .. bucketCurrent+RING_BUCKETS-1, each an unsorted FIFO list of
  // slots linked through slotNext from ringHead to ringTail (the tail's slotNext is stale: a list
  // ends at its tail, which saves a store per insert); bucket b lives at index b & RING_MASK. ringBits has one bit per
  // non-empty bucket.
  private readonly ringHead = new Int32Array(RING_BUCKETS).fill(NONE)
  private readonly ringTail = new Int32Array(RING_BUCKETS).fill(NONE)
  private readonly ringBits = new Int32Array(RING_BUCKETS >> 5)
  /** One bit per ring bucket holding events moved in from the far queues (not in seq order). */
  private readonly ringFarBits = new Int32Array(RING_BUCKETS >> 5)
  private ringCount = 0
  private bucketCurrent = 0
  private bucketWidth = BUCKET_WIDTH_INITIAL
  private bucketScale = 1 / BUCKET_WIDTH_INITIAL

  // Far events: those of buckets >= bucketCurrent + RING_BUCKETS, ordered by time only (they are
  // re-ordered by (time, seq) in the near heap). Two structures hold them: a FIFO queue for events
  // scheduled at or after the queue's last time, and a heap for the others. Most far events are
  // timers set a fixed delay ahead (request timeouts, idle timers: one per request, mostly
  // cancelled), so their times arrive in order and each costs O(1) in the queue where the heap
  // cost two walks over log2(pending) levels of a large array. Far events leave in time order
  // (the earlier of the queue's head and the heap's root); which structure held an event never
  // changes the dispatch order.
  private farTimeNs: Float64Array = new Float64Array(0)
  private farSlot: Int32Array = new Int32Array(0)
  private farLength = 0
  /** The far FIFO queue: a ring of capacity farQueueTimeNs.length from farQueueHead. */
  private farQueueTimeNs: Float64Array = new Float64Array(0)
  private farQueueSlot: Int32Array = new Int32Array(0)
  private farQueueHead = 0
  private farQueueLength = 0

  // Retuning statistics since the epoch started.
  private epochStartEventCount = 0
  private epochStartSeq = 0
  private epochAdvances = 0
  private epochFarCount = 0
  private epochDistinctTimes = 0
  private lastDispatchedTimeNs = -1
  /**
   * lastDispatchedTimeNs as handleEvent's argument. A time above 2^30 ns is no small integer: passed
   * from a double to a call V8 does not inline, it is boxed into a new heap number per event. This
   * field holds the boxed value itself (null first, so V8 keeps it a tagged field, not an unboxed
   * double one): one heap number per distinct dispatch time, shared by the events at that time
   * (clients in lockstep, a packet's hops at one node).
   */
  private dispatchTimeNs: number | null = null

  /**
   * nowNs (the setter keeps the two equal), read from the tagged field above: for hot callers that pass the current time on to a
   * call (a hook, an observer), which a read of the double field nowNs would box per call.
   */
  get nowBoxedNs(): number {
    return this.dispatchTimeNs as number
  }

  private slotTimeNs: Float64Array = new Float64Array(0)
  private slotSeq: Float64Array = new Float64Array(0)
  private slotKind: Int32Array = new Int32Array(0)
  private slotA: Int32Array = new Int32Array(0)
  private slotB: Int32Array = new Int32Array(0)
  private slotNext: Int32Array = new Int32Array(0)
  private slotGeneration: Int32Array = new Int32Array(0)
  private slotFree: Int32Array = new Int32Array(0)
  private slotFreeLength = 0
  private slotHigh = 0

  private seqNext = 0
  private cancelledCount = 0
  private readonly handlers: EventHandler[] = []
  /** handlers.length, as a plain field: the insert's kind check reads it without the array. */
  private kindCount = 0
  private readonly kindNames: string[] = []
  private stopRequested = false

  // Fingerprint of the dispatched event trace: two 32-bit FNV-1a-style lanes over
  // (timeNs, kind, a, b). Same scenario + seed => same trace => same fingerprint.
  private hashLow = 0x811c9dc5
  private hashHigh = 0x01000193

  constructor(capacity = CAPACITY_INITIAL) {
    // nowNs (0) until the first dispatch; set after the null above, so the field stays tagged.
    this.dispatchTimeNs = 0
    assert(Number.isInteger(capacity) && capacity >= 1 && capacity <= SLOT_LIMIT, `bad scheduler capacity ${capacity}`)
    this.heapTimeNs = new Float64Array(capacity)
    this.heapSlot = new Int32Array(capacity)
    this.heapSeq = new Float64Array(capacity)
    this.runTimeNs = new Float64Array(capacity)
    this.runSeq = new Float64Array(capacity)
    this.runSlot = new Int32Array(capacity)
    this.farTimeNs = new Float64Array(capacity)
    this.farSlot = new Int32Array(capacity)
    this.farQueueTimeNs = new Float64Array(capacity)
    this.farQueueSlot = new Int32Array(capacity)
    this.slotTimeNs = new Float64Array(capacity)
    this.slotSeq = new Float64Array(capacity)
    this.slotKind = new Int32Array(capacity)
    this.slotA = new Int32Array(capacity)
    this.slotB = new Int32Array(capacity)
    this.slotNext = new Int32Array(capacity)
    this.slotGeneration = new Int32Array(capacity)
    this.slotFree = new Int32Array(capacity)
  }

  /** Registers a handler for a new event kind and returns the kind's id. Called at build time. */
  registerKind(name: string, handler: EventHandler): number {
    const kind = this.handlers.length
    this.handlers.push(handler)
    this.kindNames.push(name)
    this.kindCount = kind + 1
    return kind
  }

  /**
   * Dispatches `handler`'s events through a call site of its own in `run` (at most two handlers;
   * later calls are ignored). The shared `handlers[kind].handleEvent` site sees a dozen handler
   * classes and is megamorphic: each dispatch there is a stub-cache lookup of the method, and
   * TurboFan cannot inline it. A site that only ever sees one class is monomorphic: a direct call
   * V8 may inline. For the handlers of most events (the network's packet arrivals, the apps').
   * Which site calls a handler never changes what runs, nor in which order.
   */
  preferDispatch(handler: EventHandler): void {
    if (this.hot0 === null) this.hot0 = handler
    else if (this.hot1 === null && handler !== this.hot0) this.hot1 = handler
  }

  private hot0: EventHandler | null = null
  private hot1: EventHandler | null = null

  kindName(kind: number): string {
    return this.kindNames[kind] ?? `kind-${kind}`
  }

  get pendingCount(): number {
    return (
      this.heapLength +
      this.runEnd -
      this.runHead +
      this.ringCount +
      this.farLength +
      this.farQueueLength -
      this.cancelledCount -
      (this.rootTaken ? 1 : 0)
    )
  }

  /**
   * The time argument of `scheduleStaged`. Hot callers store a time here and call scheduleStaged
   * instead of passing it: a time above 2^30 ns is no small integer, and passing it to a call V8
   * does not inline allocates a heap number per call; a store into this double field does not.
   */
  stagedTimeNs = 0

  /** Schedules an event at absolute time `timeNs` (>= now). Returns a handle for `cancel`. */
  schedule(timeNs: number, kind: number, a: number, b: number): number {
    this.stagedTimeNs = timeNs
    return this.scheduleStaged(kind, a, b)
  }

  /** `schedule(stagedTimeNs, kind, a, b)`: see stagedTimeNs. */
  scheduleStaged(kind: number, a: number, b: number): number {
    const slot = this.insertStaged(kind, a, b)
    return this.slotGeneration[slot] * SLOT_LIMIT + slot
  }

  /**
   * `scheduleStaged` for callers that keep no handle (packets crossing a link...): a handle is
   * `generation * 2^24 + slot`, above 2^30 once a slot has been reused 64 times, so returning it
   * from a call V8 does not inline allocates a heap number per event even when it is ignored.
   */
  postStaged(kind: number, a: number, b: number): void {
    this.insertStaged(kind, a, b)
  }

  /**
   * `scheduleStaged` whose handle is read as two small integers: the slot (returned) and its
   * generation (`lastGeneration`); `cancelSlot(slot, generation)` is `cancel(handle)` for them.
   * For hot callers that keep a handle per event (request timeouts), without a heap number each.
   */
  scheduleStagedSlot(kind: number, a: number, b: number): number {
    const slot = this.insertStaged(kind, a, b)
    this.lastGeneration = this.slotGeneration[slot]
    return slot
  }

  /** The generation of the slot `scheduleStagedSlot` returned last. */
  lastGeneration = 0

  /** Inserts the event (stagedTimeNs, kind, a, b); returns its slot. */
  private insertStaged(kind: number, a: number, b: number): number {
    const timeNs = this.stagedTimeNs
    // Plain ifs rather than assert(cond, `template`): the message would be built on every call.
    if (!(timeNs >= this.nowNs && timeNs <= TIME_NS_LIMIT && Number.isInteger(timeNs))) badTime(timeNs, this.nowNs)
    if (!(kind >= 0 && kind < this.kindCount)) badKind(kind)
    let slot: number
    if (this.slotFreeLength > 0) slot = this.slotFree[--this.slotFreeLength]
    else {
      if (this.slotHigh === this.slotKind.length) this.grow()
      slot = this.slotHigh++
    }
    const seq = this.seqNext++
    this.slotTimeNs[slot] = timeNs
    this.slotSeq[slot] = seq
    this.slotKind[slot] = kind
    // `| 0` is the ToInt32 the Int32Array store does anyway, done on the tagged argument (the
    // store's own conversion went through a double).
    this.slotA[slot] = a | 0
    this.slotB[slot] = b | 0
    const bucket = Math.floor(timeNs * this.bucketScale)
    if (bucket <= this.bucketCurrent) {
      if (this.rootTaken) {
        this.rootTaken = false
        this.siftDown(0, slot)
      } else {
        this.siftUp(this.heapLength++, slot)
      }
    } else if (bucket < this.bucketCurrent + RING_BUCKETS) {
      this.ringAppend(bucket & RING_MASK, slot)
    } else {
      this.epochFarCount++
      this.farPush(slot)
    }
    return slot
  }

  /** Schedules an event `delayNs` after now. */
  scheduleIn(delayNs: number, kind: number, a: number, b: number): number {
    return this.schedule(this.nowNs + delayNs, kind, a, b)
  }

  /**
   * Cancels a pending event by its handle. Cancelling an event that already ran or was already
   * cancelled is a no-op. The event stays queued, marked, until it reaches the near heap's root.
   */
  cancel(handle: number): void {
    if (!(handle >= 0 && Number.isSafeInteger(handle))) return
    const slot = handle % SLOT_LIMIT
    this.cancelSlot(slot, (handle - slot) / SLOT_LIMIT)
  }

  /** `cancel(generation * 2^24 + slot)` (see scheduleStagedSlot). */
  cancelSlot(slot: number, generation: number): void {
    if (slot >= this.slotHigh || this.slotGeneration[slot] !== generation || this.slotKind[slot] === KIND_CANCELLED)
      return
    this.slotKind[slot] = KIND_CANCELLED
    this.cancelledCount++
  }

  /** Ends the current `run` after the event being dispatched. */
  stop(): void {
    this.stopRequested = true
  }

  /** Time of the next event that will run (cancelled events excluded), or +Infinity. */
  peekTimeNs(): number {
    this.settleRoot()
    if (!this.settleNext()) return Number.POSITIVE_INFINITY
    return this.nextFromRun ? this.runTimeNs[this.runHead] : this.heapTimeNs[0]
  }

  run(limits: RunLimits): RunOutcome {
    this.stopRequested = false
    let eventCount = 0
    const handlers = this.handlers
    const timeNsMax = limits.timeNsMax
    const eventCountMax = limits.eventCountMax
    const hot0 = this.hot0
    const hot1 = this.hot1
    for (;;) {
      if (this.rootTaken) {
        // The last handler scheduled nothing into the near heap: pop its event now.
        this.rootTaken = false
        this.popRoot()
      }
      // The common case inline: the run's head is due next (no near-heap event, not cancelled);
      // its slot and kind are read once here.
      let runHead = this.runHead
      let fromRun = true
      let slot = 0
      let kind = KIND_CANCELLED
      if (runHead < this.runEnd && this.heapLength === 0) {
        slot = this.runSlot[runHead]
        kind = this.slotKind[slot]
      }
      if (kind === KIND_CANCELLED) {
        if (!this.settleNext()) return this.outcome("empty", eventCount)
        // A comparison, so TurboFan types it boolean (the field alone got a generic ToBoolean).
        fromRun = this.nextFromRun === true
        runHead = this.runHead
        slot = fromRun ? this.runSlot[runHead] : this.heapSlot[0]
        kind = this.slotKind[slot]
      }
      if (this.stopRequested) return this.outcome("stopped", eventCount)
      const timeNs = fromRun ? this.runTimeNs[runHead] : this.heapTimeNs[0]
      if (timeNs > timeNsMax) return this.outcome("time-limit", eventCount)
      if (eventCount >= eventCountMax) return this.outcome("event-limit", eventCount)
      const a = this.slotA[slot]
      const b = this.slotB[slot]
      this.freeSlot(slot)
      if (fromRun) this.runHead = runHead + 1
      else this.rootTaken = true
      if (timeNs !== this.lastDispatchedTimeNs) {
        this.lastDispatchedTimeNs = timeNs
        this.epochDistinctTimes++
        this.dispatchTimeNs = timeNs
      }
      this.nowValueNs = timeNs
      this.fold(timeNs, kind, a, b)
      eventCount++
      this.eventCount++
      const handler = handlers[kind]
      // Three call sites (see preferDispatch): two monomorphic, one for the rest.
      if (handler === hot0) (hot0 as EventHandler).handleEvent(kind, a, b, this.dispatchTimeNs as number)
      else if (handler === hot1) (hot1 as EventHandler).handleEvent(kind, a, b, this.dispatchTimeNs as number)
      else handler.handleEvent(kind, a, b, this.dispatchTimeNs as number)
    }
  }

  /** Hex digest of every event dispatched so far. */
  fingerprint(): string {
    return (this.hashHigh >>> 0).toString(16).padStart(8, "0") + (this.hashLow >>> 0).toString(16).padStart(8, "0")
  }

  private outcome(reason: RunEndReason, eventCount: number): RunOutcome {
    return { reason, eventCount, nowNs: this.nowNs }
  }

  private settleRoot(): void {
    if (this.rootTaken) {
      this.rootTaken = false
      this.popRoot()
    }
  }

  /**
   * Makes the near heap's root the next event that will run: refills the near heap from the ring
   * or the far heap when it is empty, and pops cancelled events. False if nothing is pending.
   * Requires the root to be settled.
   */
  private settleNext(): boolean {
    for (;;) {
      const runHead = this.runHead
      if (runHead < this.runEnd) {
        const runSlot = this.runSlot[runHead]
        if (this.slotKind[runSlot] === KIND_CANCELLED) {
          this.runHead = runHead + 1
          this.dropCancelled(runSlot)
          continue
        }
        if (this.heapLength === 0) {
          this.nextFromRun = true
          return true
        }
      } else if (this.heapLength === 0) {
        if (this.ringCount === 0 && this.farLength === 0 && this.farQueueLength === 0) return false
        this.advance()
        continue
      }
      const slot = this.heapSlot[0]
      if (this.slotKind[slot] === KIND_CANCELLED) {
        this.dropCancelled(slot)
        this.popRoot()
        continue
      }
      // Both hold events: the earlier by (time, seq); on equal times the run's, whose seq is the
      // smaller (near-heap events were scheduled after the run was poured; see runSeq).
      this.nextFromRun = runHead < this.runEnd && this.runTimeNs[runHead] <= this.heapTimeNs[0]
      return true
    }
  }

  /**
   * The near heap is empty: moves bucketCurrent to the next bucket holding events and moves that
   * bucket's events into the near heap. Far events that now fall inside the ring move to it, so
   * every far event stays in a bucket >= bucketCurrent + RING_BUCKETS.
   */
  private advance(): void {
    if (this.eventCount - this.epochStartEventCount >= Math.max(EPOCH_EVENTS_MIN, this.pendingCount)) this.retune()
    const bucket = this.ringCount > 0 ? this.nextRingBucket() : Math.floor(this.farMinTimeNs() * this.bucketScale)
    this.bucketCurrent = bucket
    this.epochAdvances++
    this.runHead = 0
    this.runEnd = 0
    const ringEnd = bucket + RING_BUCKETS
    const scale = this.bucketScale
    const queueTimeNs = this.farQueueTimeNs
    const queueSlot = this.farQueueSlot
    while (this.farLength > 0 || this.farQueueLength > 0) {
      const fromQueue =
        this.farQueueLength > 0 && (this.farLength === 0 || queueTimeNs[this.farQueueHead] <= this.farTimeNs[0])
      const timeNs = fromQueue ? queueTimeNs[this.farQueueHead] : this.farTimeNs[0]
      const farBucket = Math.floor(timeNs * scale)
      if (farBucket >= ringEnd) break
      let slot: number
      if (fromQueue) {
        slot = queueSlot[this.farQueueHead]
        this.farQueueHead = this.farQueueHead + 1 === queueSlot.length ? 0 : this.farQueueHead + 1
        this.farQueueLength--
      } else {
        slot = this.farSlot[0]
        this.farPop()
      }
      // A cancelled event is freed here rather than carried on (it would only be skipped at the
      // root): request timeouts are mostly cancelled long before they are due.
      if (this.slotKind[slot] === KIND_CANCELLED) this.dropCancelled(slot)
      else if (farBucket === bucket) {
        this.runPush(slot)
        this.runSeqNeeded = true
      } else {
        const farIndex = farBucket & RING_MASK
        this.ringAppend(farIndex, slot)
        this.ringFarBits[farIndex >> 5] |= 1 << (farIndex & 31)
      }
    }
    const index = bucket & RING_MASK
    let slot = this.ringHead[index]
    if (slot !== NONE) {
      const tail = this.ringTail[index]
      this.ringHead[index] = NONE
      this.ringTail[index] = NONE
      this.ringBits[index >> 5] &= ~(1 << (index & 31))
      const farBit = 1 << (index & 31)
      if ((this.ringFarBits[index >> 5] & farBit) !== 0) {
        this.ringFarBits[index >> 5] &= ~farBit
        this.runSeqNeeded = true
      }
      // Cancelled events are carried into the run and dropped at its head (settleNext), not
      // tested here: a ring bucket rarely holds one, and the test was a slotKind load per event.
      const slotNext = this.slotNext
      const slotTimeNs = this.slotTimeNs
      const slotSeq = this.slotSeq
      const runTimeNs = this.runTimeNs
      const runSeq = this.runSeq
      const runSlot = this.runSlot
      const start = this.runEnd
      let end = start
      if (this.runSeqNeeded) {
        for (;;) {
          runTimeNs[end] = slotTimeNs[slot]
          runSeq[end] = slotSeq[slot]
          runSlot[end] = slot
          end++
          if (slot === tail) break
          slot = slotNext[slot]
        }
      } else {
        for (;;) {
          runTimeNs[end] = slotTimeNs[slot]
          runSlot[end] = slot
          end++
          if (slot === tail) break
          slot = slotNext[slot]
        }
      }
      this.runEnd = end
      this.ringCount -= end - start
    }
    if (this.runSeqNeeded) {
      this.runSeqNeeded = false
      this.sortRunBySeq()
    } else this.sortRun()
  }

  /** Appends an event to the run (called by `advance` only, the run and the near heap empty). */
  private runPush(slot: number): void {
    const end = this.runEnd++
    this.runTimeNs[end] = this.slotTimeNs[slot]
    this.runSeq[end] = this.slotSeq[slot]
    this.runSlot[end] = slot
  }

  /**
   * Sorts the run by (time, seq): a stable insertion sort by time, the run being in seq order (see
   * runSeq), as a bucket's events arrive nearly in time order too. The moves are budgeted (see
   * RUN_SORT_MOVES_PER_EVENT): a long run far out of order (a bucket wide before retuning) goes to
   * the near heap instead, where it costs O(n log n) at worst. A long run nearly in order stays a
   * run: the star's buckets of 65-127 events (its 100 clients in lockstep) need about 12 moves each,
   * where the near heap took a sift-up and a sift-down through about 6 levels per event.
   */
  private sortRun(): void {
    const end = this.runEnd
    const times = this.runTimeNs
    const slots = this.runSlot
    let movesLeft = (RUN_SORT_MAX * RUN_SORT_MAX) / 2 + RUN_SORT_MOVES_PER_EVENT * end
    for (let i = 1; i < end; i++) {
      const timeNs = times[i]
      let j = i - 1
      let before = times[j]
      if (before <= timeNs) continue
      const slot = slots[i]
      do {
        times[j + 1] = before
        slots[j + 1] = slots[j]
        j--
        if (j < 0) break
        before = times[j]
      } while (before > timeNs)
      times[j + 1] = timeNs
      slots[j + 1] = slot
      movesLeft -= i - 1 - j
      if (movesLeft < 0) {
        this.runToHeap()
        return
      }
    }
  }

  /** sortRun for a run not in seq order (it holds events moved in from the far queues). */
  private sortRunBySeq(): void {
    const end = this.runEnd
    const times = this.runTimeNs
    const seqs = this.runSeq
    const slots = this.runSlot
    let movesLeft = (RUN_SORT_MAX * RUN_SORT_MAX) / 2 + RUN_SORT_MOVES_PER_EVENT * end
    for (let i = 1; i < end; i++) {
      const timeNs = times[i]
      const seq = seqs[i]
      let j = i - 1
      let before = times[j]
      if (before < timeNs || (before === timeNs && seqs[j] < seq)) continue
      const slot = slots[i]
      do {
        times[j + 1] = before
        seqs[j + 1] = seqs[j]
        slots[j + 1] = slots[j]
        j--
        if (j < 0) break
        before = times[j]
      } while (before > timeNs || (before === timeNs && seqs[j] > seq))
      times[j + 1] = timeNs
      seqs[j + 1] = seq
      slots[j + 1] = slot
      movesLeft -= i - 1 - j
      if (movesLeft < 0) {
        this.runToHeap()
        return
      }
    }
  }

  /** A sort over its budget: the run (a permutation of the bucket's events) goes to the near heap. */
  private runToHeap(): void {
    const slots = this.runSlot
    const end = this.runEnd
    for (let k = 0; k < end; k++) this.siftUp(this.heapLength++, slots[k])
    this.runEnd = 0
  }

  /** Frees a cancelled event that is leaving the ring or the far heap (it never reaches the root). */
  private dropCancelled(slot: number): void {
    this.freeSlot(slot)
    this.cancelledCount--
  }

  /** The first non-empty ring bucket after bucketCurrent (the ring is not empty). */
  private nextRingBucket(): number {
    const current = this.bucketCurrent
    const start = (current + 1) & RING_MASK
    const bits = this.ringBits
    let word = start >> 5
    let mask = bits[word] & (-1 << (start & 31))
    for (let scanned = 0; mask === 0; scanned++) {
      if (scanned > RING_BUCKETS >> 5) throw new AssertionError("scheduler ring count out of sync")
      word = (word + 1) & ((RING_BUCKETS >> 5) - 1)
      mask = bits[word]
    }
    const index = (word << 5) + (31 - Math.clz32(mask & -mask))
    return current + 1 + ((index - start) & RING_MASK)
  }

  /** Appends to a bucket's list, which ends at its ringTail: the tail's slotNext is left stale. */
  private ringAppend(index: number, slot: number): void {
    const tail = this.ringTail[index]
    if (tail === NONE) {
      this.ringHead[index] = slot
      this.ringBits[index >> 5] |= 1 << (index & 31)
    } else {
      this.slotNext[tail] = slot
    }
    this.ringTail[index] = slot
    this.ringCount++
  }

  /**
   * Called between buckets (near heap empty) once per epoch: picks the bucket width so that a
   * drained bucket holds EVENTS_PER_BUCKET_LOW .. EVENTS_PER_BUCKET_HIGH dispatched events, as long
   * as narrower buckets would split them (several distinct times per bucket) and wider ones would
   * not leave them (mostly) in the far heap. On a change, the ring is emptied into the far heap and
   * refilled by `advance` with the new width. Which structure holds an event never changes the
   * dispatch order: the near heap orders by (time, seq), and everything outside it is later.
   */
  private retune(): void {
    const events = this.eventCount - this.epochStartEventCount
    const advances = Math.max(1, this.epochAdvances)
    const perBucket = events / advances
    const distinctPerBucket = this.epochDistinctTimes / advances
    const scheduled = this.seqNext - this.epochStartSeq
    const farShare = scheduled > 0 ? this.epochFarCount / scheduled : 0
    let width = this.bucketWidth
    if (perBucket > EVENTS_PER_BUCKET_HIGH && distinctPerBucket > 2) {
      const factor = Math.min(perBucket / EVENTS_PER_BUCKET_TARGET, distinctPerBucket / 2)
      while (width > BUCKET_WIDTH_MIN && factor >= (this.bucketWidth / width) * 2) width /= 2
    } else if (perBucket < EVENTS_PER_BUCKET_LOW || (farShare > 0.125 && perBucket < EVENTS_PER_BUCKET_TARGET)) {
      const factor = Math.max(2, EVENTS_PER_BUCKET_TARGET / Math.max(perBucket, 1))
      while (width < BUCKET_WIDTH_MAX && factor >= (width / this.bucketWidth) * 2) width *= 2
    }
    this.epochStartEventCount = this.eventCount
    this.epochStartSeq = this.seqNext
    this.epochAdvances = 0
    this.epochFarCount = 0
    this.epochDistinctTimes = 0
    if (width === this.bucketWidth) return
    // Empty the ring into the far heap; `advance` refills it under the new width.
    if (this.ringCount > 0) {
      const slotNext = this.slotNext
      for (let index = 0; index < RING_BUCKETS; index++) {
        let slot = this.ringHead[index]
        const tail = this.ringTail[index]
        while (slot !== NONE) {
          this.farPush(slot)
          slot = slot === tail ? NONE : slotNext[slot]
        }
      }
      this.ringHead.fill(NONE)
      this.ringTail.fill(NONE)
      this.ringBits.fill(0)
      this.ringFarBits.fill(0)
      this.ringCount = 0
    }
    this.bucketWidth = width
    this.bucketScale = 1 / width
  }

  private freeSlot(slot: number): void {
    const generation = this.slotGeneration[slot] + 1
    this.slotGeneration[slot] = generation
    // A slot whose generation would wrap is retired (never reused), so old handles stay stale.
    if (generation < GENERATION_LIMIT) this.slotFree[this.slotFreeLength++] = slot
  }

  private fold(timeNs: number, kind: number, a: number, b: number): void {
    // timeNs is a non-negative integer below 2^53: ToUint32 is its low word and the division by
    // 2^32 is exact, so these are the words `%` and `/` gave, without a floating-point modulo.
    const timeLow = timeNs >>> 0
    const timeHigh = Math.floor(timeNs / 4294967296)
    let low = this.hashLow
    let high = this.hashHigh
    low = Math.imul(low ^ timeLow, 16777619)
    high = Math.imul(high ^ timeHigh ^ low, 2246822519)
    low = Math.imul(low ^ kind, 16777619)
    high = Math.imul(high ^ a, 2246822519)
    low = Math.imul(low ^ b, 16777619)
    high = Math.imul(high ^ (low >>> 15), 3266489917)
    this.hashLow = low
    this.hashHigh = high
  }

  // The heap and far-queue helpers take the event's slot and read its time and seq from the slot
  // record (the heap's copies equal them): a time above 2^30 ns passed to a helper V8 does not
  // inline would be boxed into a new heap number per call.

  private siftUp(position: number, slot: number): void {
    const timeNs = this.slotTimeNs[slot]
    const seq = this.slotSeq[slot]
    const heapTimeNs = this.heapTimeNs
    const heapSlot = this.heapSlot
    const heapSeq = this.heapSeq
    while (position > 0) {
      const parent = (position - 1) >> 1
      const parentTimeNs = heapTimeNs[parent]
      if (parentTimeNs < timeNs || (parentTimeNs === timeNs && heapSeq[parent] < seq)) break
      heapTimeNs[position] = parentTimeNs
      heapSlot[position] = heapSlot[parent]
      heapSeq[position] = heapSeq[parent]
      position = parent
    }
    heapTimeNs[position] = timeNs
    heapSlot[position] = slot
    heapSeq[position] = seq
  }

  /** Places (timeNs, seq, slot) at `position` or below; the entry there is overwritten. */
  private siftDown(position: number, slot: number): void {
    const timeNs = this.slotTimeNs[slot]
    const seq = this.slotSeq[slot]
    const heapTimeNs = this.heapTimeNs
    const heapSlot = this.heapSlot
    const heapSeq = this.heapSeq
    const length = this.heapLength
    const half = length >> 1
    while (position < half) {
      let child = 2 * position + 1
      let childTimeNs = heapTimeNs[child]
      const right = child + 1
      if (right < length) {
        const rightTimeNs = heapTimeNs[right]
        if (rightTimeNs < childTimeNs || (rightTimeNs === childTimeNs && heapSeq[right] < heapSeq[child])) {
          child = right
          childTimeNs = rightTimeNs
        }
      }
      if (timeNs < childTimeNs || (timeNs === childTimeNs && seq < heapSeq[child])) break
      heapTimeNs[position] = childTimeNs
      heapSlot[position] = heapSlot[child]
      heapSeq[position] = heapSeq[child]
      position = child
    }
    heapTimeNs[position] = timeNs
    heapSlot[position] = slot
    heapSeq[position] = seq
  }

  private popRoot(): void {
    const length = --this.heapLength
    if (length === 0) return
    this.siftDown(0, this.heapSlot[length])
  }

  /** The earliest far event's time (some far event is pending). */
  private farMinTimeNs(): number {
    if (this.farQueueLength === 0) return this.farTimeNs[0]
    const queueTimeNs = this.farQueueTimeNs[this.farQueueHead]
    return this.farLength > 0 && this.farTimeNs[0] < queueTimeNs ? this.farTimeNs[0] : queueTimeNs
  }

  /** Adds a far event: to the FIFO queue when not earlier than its last event, else to the heap. */
  private farPush(slot: number): void {
    const timeNs = this.slotTimeNs[slot]
    const length = this.farQueueLength
    const queueTimeNs = this.farQueueTimeNs
    const capacity = queueTimeNs.length
    let tail = this.farQueueHead + length - 1
    if (tail >= capacity) tail -= capacity
    if (length === 0 || queueTimeNs[tail] <= timeNs) {
      // Room: far events are pending events, and pending events never exceed the slot capacity,
      // which the queue's capacity follows (grow).
      tail = tail + 1 === capacity ? 0 : tail + 1
      queueTimeNs[tail] = timeNs
      this.farQueueSlot[tail] = slot
      this.farQueueLength = length + 1
      return
    }
    // Earlier than the queue's last event. The queue's later events move to the heap (at most
    // FAR_EVICT_MAX per push) until this one can be appended: they are the odd ones out, such as
    // the star's kube-proxy resync timers 30 s ahead (10 live, 20 cancelled, at 30.0-31.3 s),
    // queued before the first 500 ms request timeout. Left there, every later timeout would go to
    // the heap behind them (a push, then a pop through log2(pending) levels of a 50,000-entry
    // array, per request). Each event moves at most once, so the heap takes at most one push per
    // far event more than before. The queue stays in time order.
    const queueSlot = this.farQueueSlot
    let kept = length
    for (let moved = 0; kept > 0 && queueTimeNs[tail] > timeNs && moved < FAR_EVICT_MAX; moved++) {
      this.farHeapPush(queueSlot[tail])
      kept--
      tail = tail === 0 ? capacity - 1 : tail - 1
    }
    this.farQueueLength = kept
    if (kept === 0 || queueTimeNs[tail] <= timeNs) {
      tail = tail + 1 === capacity ? 0 : tail + 1
      queueTimeNs[tail] = timeNs
      queueSlot[tail] = slot
      this.farQueueLength = kept + 1
      return
    }
    this.farHeapPush(slot)
  }

  private farHeapPush(slot: number): void {
    const timeNs = this.slotTimeNs[slot]
    const farTimeNs = this.farTimeNs
    const farSlot = this.farSlot
    let position = this.farLength++
    while (position > 0) {
      const parent = (position - 1) >> 1
      const parentTimeNs = farTimeNs[parent]
      if (parentTimeNs <= timeNs) break
      farTimeNs[position] = parentTimeNs
      farSlot[position] = farSlot[parent]
      position = parent
    }
    farTimeNs[position] = timeNs
    farSlot[position] = slot
  }

  private farPop(): void {
    const length = --this.farLength
    if (length === 0) return
    const farTimeNs = this.farTimeNs
    const farSlot = this.farSlot
    const timeNs = farTimeNs[length]
    const slot = farSlot[length]
    const half = length >> 1
    let position = 0
    while (position < half) {
      let child = 2 * position + 1
      let childTimeNs = farTimeNs[child]
      const right = child + 1
      if (right < length && farTimeNs[right] < childTimeNs) {
        child = right
        childTimeNs = farTimeNs[right]
      }
      if (timeNs <= childTimeNs) break
      farTimeNs[position] = childTimeNs
      farSlot[position] = farSlot[child]
      position = child
    }
    farTimeNs[position] = timeNs
    farSlot[position] = slot
  }

  private grow(): void {
    const capacity = Math.min(this.slotKind.length * 2, SLOT_LIMIT)
    assert(capacity > this.slotKind.length, `more than ${SLOT_LIMIT} events pending`)
    this.heapTimeNs = resizeFloat(this.heapTimeNs, capacity)
    this.heapSlot = resizeInt(this.heapSlot, capacity)
    this.heapSeq = resizeFloat(this.heapSeq, capacity)
    this.runTimeNs = resizeFloat(this.runTimeNs, capacity)
    this.runSeq = resizeFloat(this.runSeq, capacity)
    this.runSlot = resizeInt(this.runSlot, capacity)
    this.farTimeNs = resizeFloat(this.farTimeNs, capacity)
    this.farSlot = resizeInt(this.farSlot, capacity)
    // The queue's ring is unrolled into the new arrays from its head: two block copies (grow runs
    // a few times per run, so a loop over tens of thousands of timeouts here would run in the
    // interpreter: about 20 ms at 65,536 slots).
    const queueTimeNs = new Float64Array(capacity)
    const queueSlot = new Int32Array(capacity)
    const head = this.farQueueHead
    const length = this.farQueueLength
    const first = Math.min(length, this.farQueueTimeNs.length - head)
    queueTimeNs.set(this.farQueueTimeNs.subarray(head, head + first))
    queueTimeNs.set(this.farQueueTimeNs.subarray(0, length - first), first)
    queueSlot.set(this.farQueueSlot.subarray(head, head + first))
    queueSlot.set(this.farQueueSlot.subarray(0, length - first), first)
    this.farQueueTimeNs = queueTimeNs
    this.farQueueSlot = queueSlot
    this.farQueueHead = 0
    this.slotTimeNs = resizeFloat(this.slotTimeNs, capacity)
    this.slotSeq = resizeFloat(this.slotSeq, capacity)
    this.slotKind = resizeInt(this.slotKind, capacity)
    this.slotA = resizeInt(this.slotA, capacity)
    this.slotB = resizeInt(this.slotB, capacity)
    this.slotNext = resizeInt(this.slotNext, capacity)
    this.slotGeneration = resizeInt(this.slotGeneration, capacity)
    this.slotFree = resizeInt(this.slotFree, capacity)
  }
}

function badTime(timeNs: number, nowNs: number): never {
  throw new AssertionError(`bad event time ${timeNs} (now ${nowNs})`)
}

function badKind(kind: number): never {
  throw new AssertionError(`unregistered event kind ${kind}`)
}

function resizeFloat(array: Float64Array, capacity: number): Float64Array {
  const next = new Float64Array(capacity)
  next.set(array)
  return next
}

function resizeInt(array: Int32Array, capacity: number): Int32Array {
  const next = new Int32Array(capacity)
  next.set(array)
  return next
}
