/**
 * What a run knows beyond its results document: the latency histograms' buckets, which the HTML
 * report draws as CDFs (the document carries only percentiles). Kept out of the document so that
 * its bytes, fingerprints and schema stay as they are; the runtime attaches the detail to the
 * document object it returns, and renderers look it up. A document read back from JSON (or passed
 * between threads) has no detail: renderers then say so instead of drawing.
 */

/** One non-empty histogram bucket: its highest equivalent value and how many samples it holds. */
export interface LatencyBucket {
  readonly valueNs: number
  readonly count: number
}

export interface RunDetail {
  /** Request latency buckets per workload (completed requests), in increasing value order. */
  readonly latencyByWorkload: Readonly<Record<string, readonly LatencyBucket[]>>
  /** dns.mode packets: lookup latency buckets per workload (answered lookups). */
  readonly dnsLatencyByWorkload?: Readonly<Record<string, readonly LatencyBucket[]>>
}

const details = new WeakMap<object, RunDetail>()

/** Attaches `detail` to the results document `doc` (the object, not its serialization). */
export function attachRunDetail(doc: object, detail: RunDetail): void {
  details.set(doc, detail)
}

/** The detail the runtime attached to `doc`, if any. */
export function runDetail(doc: object): RunDetail | undefined {
  return details.get(doc)
}
