/**
 * The progress line of a batch of runs (`run --runs R --jobs J`, `sweep`): on stderr only when it
 * is a terminal (and --quiet is not given); nothing at all otherwise, so that piped and CI output
 * stay clean. Shown once the batch has taken a second of wall time, redrawn at most 10 times a
 * second: runs (or points) done, simulated seconds per wall second, and the ETA from that rate.
 *
 * The ETA assumes every run goes to its scenario duration; runs that stop early (all workloads
 * done) count their whole duration as done when they finish, so the estimate only improves.
 */
export interface ProgressIo {
  readonly stderr: (text: string) => void
  readonly stderrIsTTY: boolean
  readonly wallClockMs: () => number
}

export class BatchProgress {
  private readonly startMs: number
  private lastMs = 0
  private shown = false
  private readonly doneNs: Float64Array
  private readonly finished: Uint8Array
  private finishedCount = 0
  private readonly totalNs: number

  /**
   * `durationsNs[i]`: simulated duration of task i; `groupOf(i)`: the point task i belongs to
   * (sweeps), `groups` their count (0: no points, only runs).
   */
  constructor(
    private readonly io: ProgressIo,
    private readonly enabled: boolean,
    private readonly label: string,
    private readonly durationsNs: readonly number[],
    private readonly groups: number = 0,
    private readonly groupOf: (task: number) => number = () => 0,
  ) {
    this.startMs = enabled ? io.wallClockMs() : 0
    this.doneNs = new Float64Array(durationsNs.length)
    this.finished = new Uint8Array(durationsNs.length)
    let total = 0
    for (const d of durationsNs) total += d
    this.totalNs = total
  }

  progress(task: number, doneNs: number): void {
    if (!this.enabled) return
    this.doneNs[task] = Math.max(this.doneNs[task] as number, doneNs)
    this.draw(false)
  }

  done(task: number): void {
    if (!this.enabled) return
    if (this.finished[task] === 0) {
      this.finished[task] = 1
      this.finishedCount++
    }
    this.doneNs[task] = this.durationsNs[task] as number
    this.draw(this.finishedCount === this.durationsNs.length)
  }

  clear(): void {
    if (this.shown) this.io.stderr("\r\x1b[K")
    this.shown = false
  }

  /** The line's text at `nowMs` (exported for tests through `line`). */
  line(nowMs: number): string {
    let simulatedNs = 0
    for (const d of this.doneNs) simulatedNs += d
    const wallS = Math.max(1e-3, (nowMs - this.startMs) / 1000)
    const rate = simulatedNs / 1e9 / wallS
    const parts = [`${this.label}:`]
    if (this.groups > 0) {
      let pointsDone = 0
      const remaining = new Map<number, number>()
      for (let i = 0; i < this.durationsNs.length; i++) {
        const g = this.groupOf(i)
        remaining.set(g, (remaining.get(g) ?? 0) + (this.finished[i] === 0 ? 1 : 0))
      }
      for (const left of remaining.values()) if (left === 0) pointsDone++
      parts.push(`${pointsDone}/${this.groups} points,`)
    }
    parts.push(`${this.finishedCount}/${this.durationsNs.length} runs done,`)
    parts.push(`${rate.toFixed(2)} s simulated/s wall`)
    if (simulatedNs > 0 && simulatedNs < this.totalNs) {
      const etaS = (wallS * (this.totalNs - simulatedNs)) / simulatedNs
      parts.push(`, ETA ${formatEta(etaS)}`)
    }
    return parts.join(" ").replace(" ,", ",")
  }

  private draw(force: boolean): void {
    const now = this.io.wallClockMs()
    if (now - this.startMs < 1000) return
    if (!force && now - this.lastMs < 100) return
    this.lastMs = now
    this.io.stderr(`\r\x1b[K${this.line(now)}`)
    this.shown = true
  }
}

function formatEta(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, "0")}s`
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`
}
