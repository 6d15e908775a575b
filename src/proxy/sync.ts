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
 */
import type { EventHandler, Scheduler } from "../sim/scheduler.ts"

export interface SyncTarget {
  /** Runs one sync at `nowNs`. Returning false reports a failure (retry after syncPeriod). */
  sync(nowNs: number): boolean | void
}

/** kube-proxy defaults (KubeProxyConfiguration v1alpha1 defaults; kube-proxy.md §1.6, §1.7). */
export const DEFAULT_MIN_SYNC_PERIOD_NS = 1_000_000_000
export const DEFAULT_SYNC_PERIOD_NS = 30_000_000_000
export const DEFAULT_BURST_SYNCS = 2

const EVENT_RUN = 0
const EVENT_TIMER = 1

export class SyncRunner implements EventHandler {
  /** Number of times the target ran. */
  syncCount = 0
  /** Time of the last run (-1 before the first). */
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

  constructor(
    private readonly scheduler: Scheduler,
    readonly name: string,
    readonly minSyncPeriodNs: number,
    readonly syncPeriodNs: number,
    readonly burst: number,
    private readonly target: SyncTarget,
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
      this.tryRun(nowNs)
    } else if (a === EVENT_TIMER && b === this.timerGeneration) {
      this.timerDeadlineNs = Number.POSITIVE_INFINITY
      this.timerHandle = -1
      this.tryRun(nowNs)
    }
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
      const ok = this.target.sync(nowNs)
      this.syncCount++
      this.lastRunNs = nowNs
      this.resetTimer(nowNs, this.syncPeriodNs)
      if (ok === false) this.retryAfter(nowNs, this.syncPeriodNs)
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
