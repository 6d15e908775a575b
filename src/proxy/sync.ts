/**
 * kube-proxy's sync loop timing: the BoundedFrequencyRunner that calls syncProxyRules.
 *
 * Upstream: kubernetes/kubernetes pkg/util/async/bounded_frequency_runner.go (used by the iptables
 * and IPVS proxiers as `NewBoundedFrequencyRunner("sync-runner", syncProxyRules, minSyncPeriod,
 * syncPeriod, burstSyncs=2)`; newer releases pass time.Hour as maxInterval and rely on the canary
 * monitor, which this model does not have, so the periodic resync every syncPeriod is kept).
 *
 * Semantics reproduced:
 * - `Run()` (here `requestSync`) only signals a 1-slot channel: requests while one is pending merge.
 * - `tryRun`: a token bucket (golang.org/x/time/rate via flowcontrol) with `burst` tokens, refilled
 *   at one token per minInterval, starting full. With a token the function runs and the timer is
 *   reset to maxInterval. Without one, the timer is reset to min(minInterval - sinceLastRun,
 *   timer remaining), so a requested sync happens at most minInterval after the request.
 * - The timer firing also goes through `tryRun` (periodic resync at maxInterval after the last run).
 * - minInterval 0: no limiter, every request runs at once.
 * - `retryAfter(interval)`: shortens the timer to `interval` if that is sooner (kube-proxy calls it
 *   with syncPeriod after a failed sync).
 * The token bucket is kept in integer nanoseconds of credit (one token = minInterval ns).
 *
 * Syncs take simulated time (proxy/sync-cost.ts). A TimedSyncTarget's sync starts when tryRun
 * accepts it and ends `durationNs` later; as upstream's tryRun calls `bfr.fn()` synchronously on the
 * Loop goroutine and only then sets `lastRun = timer.Now()` and `timer.Reset(maxInterval)`:
 * - while a sync runs, requests merge into the 1-slot run channel and are served by one tryRun when
 *   it ends (that tryRun takes a token from a bucket refilled during the sync, so after a long sync
 *   the next one may start at once; without a token it waits minInterval from the END);
 * - the periodic timer restarts from the end of the sync; a tick that fell during the sync is
 *   dropped by the Stop/Reset after fn (Go >= 1.23 timer semantics);
 * - the token of a sync is taken when it starts (TryAccept before fn).
 */
import type { EventHandler, Scheduler } from "../sim/scheduler.ts"

export interface SyncTarget {
  /** Runs one sync at `nowNs`. Returning false reports a failure (retry after syncPeriod). */
  sync(nowNs: number): boolean | void
}

/** A sync that takes simulated time: started by the runner, ended by it `durationNs` later. */
export interface TimedSyncTarget {
  /** Starts a sync at `nowNs` (reads the objects now); returns its duration, integer ns >= 0. */
  startSync(nowNs: number): number
  /** The sync started last ends at `nowNs` (its result takes effect now); false = failed. */
  endSync(nowNs: number): boolean
}

function isTimed(target: SyncTarget | TimedSyncTarget): target is TimedSyncTarget {
  return "startSync" in target
}

/** kube-proxy defaults (KubeProxyConfiguration v1alpha1 defaults; kube-proxy.md §1.6, §1.7). */
export const DEFAULT_MIN_SYNC_PERIOD_NS = 1_000_000_000
export const DEFAULT_SYNC_PERIOD_NS = 30_000_000_000
export const DEFAULT_BURST_SYNCS = 2

const EVENT_RUN = 0
const EVENT_TIMER = 1
const EVENT_END = 2

export class SyncRunner implements EventHandler {
  /** Number of times the target ran. */
  syncCount = 0
  /** Time the last run ENDED (upstream sets lastRun after fn returns); -1 before the first. */
  lastRunNs = -1

  private readonly kind: number
  private runPending = false
  private timerGeneration = 0
  private timerDeadlineNs = Number.POSITIVE_INFINITY
  private timerHandle = -1
  private creditNs: number
  private creditAtNs = 0
  private readonly creditMaxNs: number
  private started = false
  /** A sync is running (the Loop goroutine is inside fn). */
  private busy = false
  /** The running sync is a direct call (start-up), not a tryRun: it does not touch lastRun/timer. */
  private busyDirect = false
  /** A run request arrived while busy (the run channel's slot is full). */
  private runAfterBusy = false
  /**
   * Told when a requested run's event is handled (`runRequested` turns false: the next
   * `requestSync` acts again). Lets a caller skip runners whose request is still pending.
   */
  onRunRequestTaken: (() => void) | null = null

  constructor(
    private readonly scheduler: Scheduler,
    readonly name: string,
    readonly minSyncPeriodNs: number,
    readonly syncPeriodNs: number,
    readonly burst: number,
    private readonly target: SyncTarget | TimedSyncTarget,
  ) {
    if (!(Number.isSafeInteger(minSyncPeriodNs) && minSyncPeriodNs >= 0))
      throw new Error(`${name}: bad minSyncPeriodNs ${minSyncPeriodNs}`)
    if (!(Number.isSafeInteger(syncPeriodNs) && syncPeriodNs >= minSyncPeriodNs))
      throw new Error(`${name}: syncPeriodNs must be >= minSyncPeriodNs`)
    if (!(Number.isInteger(burst) && burst >= 1)) throw new Error(`${name}: bad burst ${burst}`)
    this.creditMaxNs = burst * minSyncPeriodNs
    this.creditNs = this.creditMaxNs
    this.kind = scheduler.registerKind(`proxy/sync-runner/${name}`, this)
  }

  /** `Loop()`: arms the periodic timer (no sync now; kube-proxy's first sync is a direct call). */
  start(nowNs: number): void {
    this.started = true
    this.creditAtNs = nowNs
    this.resetTimer(nowNs, this.syncPeriodNs)
  }

  /**
   * A sync outside the runner (kube-proxy's start-up call to syncProxyRules): spends no token and
   * leaves lastRun and the timer alone, but holds the runner busy (syncProxyRules holds
   * proxier.mu) until it ends.
   */
  runDirect(nowNs: number): void {
    if (!isTimed(this.target)) {
      this.target.sync(nowNs)
      return
    }
    if (this.busy) throw new Error(`${this.name}: direct sync while a sync runs`)
    this.begin(nowNs, true)
  }

  /** A sync is running now. */
  get running(): boolean {
    return this.busy
  }

  /** A run was asked for and its event not handled yet: `requestSync` does nothing until then. */
  get runRequested(): boolean {
    return this.runPending
  }

  /** `Run()`: asks for a sync as soon as the rate limit allows. */
  requestSync(nowNs: number): void {
    if (this.runPending) return
    this.runPending = true
    this.scheduler.schedule(nowNs, this.kind, EVENT_RUN, 0)
  }

  /** `RetryAfter(interval)`: make sure a run is attempted within `intervalNs`. */
  retryAfter(nowNs: number, intervalNs: number): void {
    if (nowNs + intervalNs < this.timerDeadlineNs) this.resetTimer(nowNs, intervalNs)
  }

  /** Time the timer fires next (Infinity when not started). */
  get nextTimerNs(): number {
    return this.timerDeadlineNs
  }

  handleEvent(_kind: number, a: number, b: number, nowNs: number): void {
    if (a === EVENT_RUN) {
      this.runPending = false
      this.onRunRequestTaken?.()
      if (this.busy) this.runAfterBusy = true
      else this.tryRun(nowNs)
    } else if (a === EVENT_TIMER && b === this.timerGeneration) {
      this.timerDeadlineNs = Number.POSITIVE_INFINITY
      this.timerHandle = -1
      // A tick during a sync is dropped: the end of the sync resets the timer.
      if (!this.busy) this.tryRun(nowNs)
    } else if (a === EVENT_END) {
      this.end(nowNs)
    }
  }

  private begin(nowNs: number, direct: boolean): void {
    const target = this.target as TimedSyncTarget
    const durationNs = target.startSync(nowNs)
    if (!(Number.isSafeInteger(durationNs) && durationNs >= 0))
      throw new Error(`${this.name}: bad sync duration ${durationNs}`)
    this.busy = true
    this.busyDirect = direct
    if (durationNs === 0) this.end(nowNs)
    else this.scheduler.schedule(nowNs + durationNs, this.kind, EVENT_END, 0)
  }

  private end(nowNs: number): void {
    const ok = (this.target as TimedSyncTarget).endSync(nowNs)
    this.busy = false
    if (!this.busyDirect) this.ran(nowNs, ok)
    if (this.runAfterBusy) {
      this.runAfterBusy = false
      this.tryRun(nowNs)
    }
  }

  /** After fn returned: `lastRun = Now()`, `timer.Reset(maxInterval)`, RetryAfter on failure. */
  private ran(nowNs: number, ok: boolean | void): void {
    this.syncCount++
    this.lastRunNs = nowNs
    this.resetTimer(nowNs, this.syncPeriodNs)
    if (ok === false) this.retryAfter(nowNs, this.syncPeriodNs)
  }

  private tryAccept(nowNs: number): boolean {
    if (this.minSyncPeriodNs === 0) return true
    if (nowNs > this.creditAtNs) {
      this.creditNs = Math.min(this.creditMaxNs, this.creditNs + (nowNs - this.creditAtNs))
      this.creditAtNs = nowNs
    }
    if (this.creditNs < this.minSyncPeriodNs) return false
    this.creditNs -= this.minSyncPeriodNs
    return true
  }

  private tryRun(nowNs: number): void {
    if (this.tryAccept(nowNs)) {
      const target = this.target
      if (isTimed(target)) this.begin(nowNs, false)
      else this.ran(nowNs, target.sync(nowNs))
      return
    }
    const elapsedNs = nowNs - this.lastRunNs
    const nextPossibleNs = this.minSyncPeriodNs - elapsedNs
    let nextScheduledNs = this.timerDeadlineNs - nowNs
    if (nextPossibleNs < nextScheduledNs) nextScheduledNs = nextPossibleNs
    this.resetTimer(nowNs, Math.max(0, nextScheduledNs))
  }

  private resetTimer(nowNs: number, delayNs: number): void {
    if (!this.started) return
    if (this.timerHandle >= 0) this.scheduler.cancel(this.timerHandle)
    this.timerGeneration = (this.timerGeneration + 1) | 0
    this.timerDeadlineNs = nowNs + delayNs
    this.timerHandle = this.scheduler.schedule(this.timerDeadlineNs, this.kind, EVENT_TIMER, this.timerGeneration)
  }
}
