/**
 * Turns what applications report into the per-workload statistics of the results document:
 * request counts with failure reasons, a latency histogram, completions per endpoint (pod name),
 * per node, and the client addresses servers saw. Per-request work is a few array increments;
 * names are only looked up when the document is built.
 */
import type { RequestObserver, ServerIdentity } from "../apps/observer.ts"
import { FAILURE_REASON_NAMES, FailureReason } from "../apps/observer.ts"
import { distributionSummary } from "../stats/fairness.ts"
import { Histogram } from "../stats/histogram.ts"
import { ReasonCounter } from "../stats/counters.ts"
import { sortedRecord } from "../stats/document.ts"
import type { WorkloadResults } from "../stats/results.ts"
import type { TimeSeriesRecorder } from "../stats/timeseries.ts"
import type { RequestLog } from "../stats/requests.ts"
import { formatIpv4, type Ipv4 } from "../wire/ipv4.ts"

class WorkloadCounts {
  sent = 0
  completed = 0
  failed = 0
  readonly failures = new ReasonCounter(FAILURE_REASON_NAMES)
  readonly latency = new Histogram()
  /** Completions by server index. */
  readonly byServer: number[] = []
  readonly clientAddresses = new Map<Ipv4, number>()
  /** Replies that carried no server identity (ping to a node...). */
  anonymous = 0
}

export class Collector implements RequestObserver {
  readonly workloads: WorkloadCounts[]
  private readonly servers: ServerIdentity[] = []
  /** Per-interval counters (the document's `timeseries`); null when not collected. */
  timeseries: TimeSeriesRecorder | null = null
  /** Per-request records (`run --requests`); null when not written. */
  requestLog: RequestLog | null = null

  /** RequestObserver.recordsRequests: completed requests reach onRequestDone only when logged. */
  get recordsRequests(): boolean {
    return this.requestLog !== null
  }

  constructor(workloadCount: number) {
    this.workloads = Array.from({ length: workloadCount }, () => new WorkloadCounts())
  }

  onRequestSent(workload: number, nowNs: number): void {
    this.workloads[workload].sent++
    this.timeseries?.onSent(workload, nowNs)
  }

  onRequestCompleted(workload: number, latencyNs: number, server: ServerIdentity | null, nowNs: number): void {
    const w = this.workloads[workload]
    w.completed++
    w.latency.record(latencyNs)
    this.timeseries?.onCompleted(workload, latencyNs, server === null ? -1 : server.index, nowNs)
    if (server === null) {
      w.anonymous++
      return
    }
    this.servers[server.index] = server
    w.byServer[server.index] = (w.byServer[server.index] ?? 0) + 1
  }

  onRequestFailed(workload: number, reason: FailureReason, nowNs: number): void {
    const w = this.workloads[workload]
    w.failed++
    w.failures.add(reason)
    this.timeseries?.onFailed(workload, reason, nowNs)
  }

  onRequestDone(
    workload: number,
    client: number,
    startNs: number,
    dstAddr: Ipv4,
    server: ServerIdentity | null,
    reason: FailureReason | -1,
    nowNs: number,
    localAddr: Ipv4,
    localPort: number,
  ): void {
    this.requestLog?.record(workload, client, startNs, dstAddr, server, reason, nowNs, localAddr, localPort)
  }

  /**
   * A request that fails before any client exists (the target cannot be resolved for `source`, a
   * workload source's namespace, or null when the workload has none): sent, failed and recorded.
   */
  onRequestUnresolved(workload: number, source: object | null, sourceName: string, nowNs: number): void {
    this.onRequestSent(workload, nowNs)
    this.onRequestFailed(workload, FailureReason.UNRESOLVED, nowNs)
    this.requestLog?.recordUnresolved(workload, source, sourceName, FailureReason.UNRESOLVED, nowNs)
  }

  onServerRequest(workload: number, server: ServerIdentity, clientAddress: Ipv4): void {
    const w = this.workloads[workload]
    if (w === undefined) return
    this.servers[server.index] = server
    w.clientAddresses.set(clientAddress, (w.clientAddresses.get(clientAddress) ?? 0) + 1)
  }

  /** Name of server `index` (pod or host name); "" if no request of this run reached it. */
  serverName(index: number): string {
    return this.servers[index]?.name ?? ""
  }

  /**
   * The workload's results. `expectedEndpoints` are the endpoints the target should spread over
   * (equal shares, as iptables' random mode gives): they appear with 0 when they got nothing.
   */
  results(workload: number, expectedEndpoints: readonly string[]): WorkloadResults {
    const w = this.workloads[workload]
    const byEndpoint = new Map<string, number>()
    const byNode = new Map<string, number>()
    for (const name of expectedEndpoints) byEndpoint.set(name, 0)
    w.byServer.forEach((count, index) => {
      if (count === undefined || count === 0) return
      const server = this.servers[index]
      byEndpoint.set(server.name, (byEndpoint.get(server.name) ?? 0) + count)
      if (server.node !== "") byNode.set(server.node, (byNode.get(server.node) ?? 0) + count)
    })
    const counts = Object.fromEntries(byEndpoint)
    const clientAddresses: Record<string, number> = {}
    for (const [address, count] of w.clientAddresses) clientAddresses[formatIpv4(address)] = count
    return {
      requests: { sent: w.sent, completed: w.completed, failed: w.failed, failedByReason: w.failures.toRecord() },
      latencyNs: w.latency.summary(),
      latencyHistogram: w.latency.bins(),
      distribution: distributionSummary(counts),
      clientAddressesSeen: sortedRecord(clientAddresses),
      byNode: sortedRecord(Object.fromEntries(byNode)),
    }
  }
}
