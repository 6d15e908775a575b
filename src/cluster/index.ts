/**
 * The runtime: compiles a decoded ScenarioSpec into a world (network, controllers, kube-proxy per
 * node, applications, statistics) and runs it. The functions cli/ calls.
 */
import { sortedRecord } from "../stats/document.ts"
import { attachRunDetail, type LatencyBucket, type RunDetail } from "../stats/run-detail.ts"
import { kubeProxySyncResults } from "../stats/syncs.ts"
import {
  SCHEMA_VERSION,
  type ConntrackResults,
  type IpvsResults,
  type PodResults,
  type ResultsDocument,
  type WorkloadResults,
} from "../stats/results.ts"
import { NS_PER_MS } from "../sim/time.ts"
import { dropReasonName } from "../wire/drop-reason.ts"
import { DEFAULT_INTERVAL_NS, TimeSeriesRecorder, type TimeSeriesDocument } from "../stats/timeseries.ts"
import { FAILURE_REASON_NAMES } from "../apps/observer.ts"
import { RequestLog, type RequestNames, type TextSink } from "../stats/requests.ts"
import type { NetNs } from "../net/netns.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import { IcmpType, Protocol } from "../wire/protocol.ts"
import type { Conntrack } from "../netfilter/conntrack.ts"
import { CtStatus } from "../netfilter/constants.ts"
import { ScenarioIssues, type Issue, type ScenarioSpec } from "./spec.ts"
import { World } from "./world.ts"
import { IpvsBackend } from "./backend-ipvs.ts"
import { PodLimitExceeded } from "../k8s/controllers/context.ts"
import { formatDurationNs } from "../sim/time.ts"

// The runtime's API (what cli/, bench/ and the tests use); the scenario types live in spec.ts.
export { ScenarioIssues, type Issue, type ScenarioSpec } from "./spec.ts"
export { World } from "./world.ts"

export interface RunOptions {
  readonly seed: number
  /** Called now and then with progress (simulated ns done, of total); cli/ prints a progress line. */
  readonly onProgress?: (simulatedNs: number, totalNs: number) => void
  /** Wall-clock source for the `wall` section; injected by cli/ (model code reads no clock). */
  readonly wallClockMs?: () => number
  /** Interval of the document's `timeseries` (default 100 ms of simulated time). */
  readonly timeseriesIntervalNs?: number
  /** Where per-request records go (JSON Lines, stats/requests.ts); absent: none are built. */
  readonly requestSink?: TextSink
  /**
   * Called once the world is built, before it runs (packet capture attaches here); `finish` once
   * the run has ended. Attachments observe only: the run's results do not depend on them.
   */
  readonly attach?: (world: World) => { finish(): void }
}

/** Simulated time between progress reports (the run loop returns to the caller this often). */
const PROGRESS_SLICE_NS = 100 * NS_PER_MS

/** Simulates the scenario and returns the results document. Throws ScenarioIssues on bad input. */
export function runScenario(spec: ScenarioSpec, options: RunOptions): ResultsDocument {
  const wallStartMs = options.wallClockMs?.() ?? 0
  // An attachment (packet capture) describes every device as it appears: pods are built at once.
  const world = withLimits(() => new World(spec, options.seed, { lazyPods: options.attach === undefined }))
  const timeseries = new TimeSeriesRecorder(
    options.timeseriesIntervalNs ?? spec.output?.intervalNs ?? DEFAULT_INTERVAL_NS,
    world.workloads.length,
    [...world.nodes.keys()],
    world.network.counters.droppedByReason.length,
  )
  world.collector.timeseries = timeseries
  const requestLog = options.requestSink === undefined ? null : new RequestLog(options.requestSink, requestNames(world))
  world.collector.requestLog = requestLog
  const attached = options.attach?.(world)
  const endReason = withLimits(() => runUntil(world, spec.durationNs, options.onProgress, timeseries))
  sampleTimeseries(world, timeseries, world.scheduler.nowNs)
  if (requestLog !== null) {
    // Requests still in flight count in `requests.sent`: they get a record too, last.
    const nowNs = world.scheduler.nowNs
    for (const client of world.apps.clients)
      client.forEachInFlight((request, localAddr, localPort) =>
        requestLog.recordUnfinished(
          client.config.workload,
          client.index,
          request.startNs,
          request.dstAddr,
          localAddr,
          localPort,
          nowNs,
        ),
      )
    requestLog.flush()
  }
  attached?.finish()
  const series = timeseries.document(world.scheduler.nowNs, {
    workloads: world.workloads.map((w) => w.spec.name),
    failureReasons: FAILURE_REASON_NAMES,
    dropReason: dropReasonName,
    server: (index) => world.collector.serverName(index),
    steps: world.steps,
  })
  const wallSeconds = options.wallClockMs === undefined ? 0 : (options.wallClockMs() - wallStartMs) / 1000
  const doc = results(world, endReason, wallSeconds, series)
  attachRunDetail(doc, runDetailOf(world))
  return doc
}

/** Client, node and reason names for per-request records; client names found once per client. */
function requestNames(world: World): RequestNames {
  const clients: { name: string; node: string }[] = []
  const nodeByAddress = new Map<Ipv4, string>()
  for (const node of world.nodes.values()) nodeByAddress.set(node.net.ip, node.name)
  return {
    workload: (index) => world.workloads[index]?.spec.name ?? `workload-${index}`,
    client: (index) => {
      let known = clients[index]
      if (known === undefined) {
        known = clientName(world, world.apps.clients[index]?.ns)
        clients[index] = known
      }
      return known
    },
    source: (ns) => clientName(world, ns as NetNs),
    nodeOfAddress: (address) => nodeByAddress.get(address) ?? null,
    failureReason: (code) => FAILURE_REASON_NAMES[code] ?? `reason-${code}`,
    endpointOfFlow: (workload, client, clientNode, dstAddr, localAddr, localPort, nowNs) => {
      const to = world.workloads[workload]?.spec.to
      if (to === undefined || (to.scheme === "icmp" && localPort < 0)) return null
      const source = localAddr !== 0 ? localAddr : addressOfNs(world, world.apps.clients[client]?.ns)
      if (source === 0) return null
      const protocol = to.scheme === "udp" ? Protocol.UDP : to.scheme === "icmp" ? Protocol.ICMP : Protocol.TCP
      // The client's node holds the DNAT of a pod's or node's flow; an external client's NodePort
      // flow is translated on the node owning the address it was sent to.
      for (const name of [clientNode, nodeByAddress.get(dstAddr) ?? ""]) {
        const node = name === "" ? undefined : world.nodes.get(name)
        if (node === undefined) continue
        const address = translatedSource(node.filter.conntrack, protocol, source, localPort, dstAddr, to.port, nowNs)
        if (address !== null) return hostOfAddress(world, address)
      }
      return null
    },
  }
}

/**
 * The reply source of the flow's conntrack entry when it differs from where the flow was sent: the
 * endpoint DNAT (iptables, nftables) or IPVS (ip_vs_update_conntrack) chose. Read only: `find`,
 * not `lookup`, so writing records never expires an entry (the run stays the same).
 */
function translatedSource(
  ct: Conntrack,
  protocol: number,
  src: Ipv4,
  sport: number,
  dst: Ipv4,
  dport: number,
  nowNs: number,
): Ipv4 | null {
  const node = ct.find(src, dst, sport, protocol === Protocol.ICMP ? IcmpType.ECHO_REQUEST : dport, protocol)
  if (node < 0 || (node & 1) !== 0) return null
  const id = node >> 1
  if (ct.expiresNs[id] <= nowNs && (ct.status[id] & CtStatus.CONFIRMED) !== 0) return null
  const replySource = ct.srcOf(id * 2 + 1)
  return replySource === dst ? null : replySource
}

/** The pod (by its server identity, else by address) or external host that owns `address`. */
function hostOfAddress(world: World, address: Ipv4): { name: string; node: string } | null {
  const identity = world.apps.identityOf(address)
  if (identity !== null) return { name: identity.name, node: identity.node }
  for (const pod of world.pods.values())
    if (pod.ip === address && pod.net !== null) return { name: podName(pod.key), node: pod.node }
  for (const [name, host] of world.externals) if (host.ip === address) return { name, node: "" }
  return null
}

function clientName(world: World, ns: NetNs | undefined): { name: string; node: string } {
  if (ns === undefined) return { name: "", node: "" }
  // builtNs: a client's namespace exists; pods never built are not looked at (nor built).
  for (const pod of world.pods.values())
    if (pod.net !== null && pod.builtNs === ns) return { name: podName(pod.key), node: pod.node }
  for (const node of world.nodes.values()) if (node.net.ns === ns) return { name: node.name, node: node.name }
  for (const [name, host] of world.externals) if (host.ns === ns) return { name, node: "" }
  return { name: ns.name, node: "" }
}

/** The address a client in `ns` sends from: its pod's, node's or external host's (0 if none). */
function addressOfNs(world: World, ns: NetNs | undefined): Ipv4 {
  if (ns === undefined) return 0
  for (const pod of world.pods.values()) if (pod.ns === ns && pod.net !== null) return pod.ip
  for (const node of world.nodes.values()) if (node.net.ns === ns) return node.net.ip
  for (const host of world.externals.values()) if (host.ns === ns) return host.ip
  return 0
}

/** "namespace/name" -> name. */
function podName(key: string): string {
  return key.slice(key.indexOf("/") + 1)
}

/** Conntrack entries per node (nf_conntrack_count) and drops so far, into the interval ending at `endNs`. */
function sampleTimeseries(world: World, timeseries: TimeSeriesRecorder, endNs: number): void {
  const counts: number[] = []
  for (const node of world.nodes.values()) counts.push(node.filter.conntrack.count)
  timeseries.sampleNodes(endNs, counts)
  timeseries.sampleDrops(endNs, world.network.counters.droppedByReason)
}

/** Latency buckets per workload for renderers that draw distributions (stats/run-detail.ts). */
function runDetailOf(world: World): RunDetail {
  const latencyByWorkload: Record<string, LatencyBucket[]> = {}
  const dnsLatencyByWorkload: Record<string, LatencyBucket[]> = {}
  for (const w of world.workloads) {
    latencyByWorkload[w.spec.name] = world.collector.workloads[w.index].latency.buckets()
    if (world.dns !== null) dnsLatencyByWorkload[w.spec.name] = world.dns.lookupLatencyBuckets(w.index)
  }
  return world.dns === null ? { latencyByWorkload } : { latencyByWorkload, dnsLatencyByWorkload }
}

/** Turns a limit hit inside the model into the input error that names it. */
function withLimits<T>(body: () => T): T {
  try {
    return body()
  } catch (error) {
    if (error instanceof PodLimitExceeded) {
      const message = `${error.message} at ${formatDurationNs(error.atNs)} of simulated time; raise limits.pods or lower the replicas`
      throw new ScenarioIssues([{ severity: "error", path: ["limits", "pods"], message }])
    }
    throw error
  }
}

/**
 * Runs the world until `untilNs`, the event limit, or until every workload is done. With a
 * time-series recorder, the run also pauses at each interval boundary (after the events at the
 * boundary's time) to sample gauges; pausing dispatches nothing, so the event trace is the same.
 */
function runUntil(
  world: World,
  untilNs: number,
  onProgress?: (simulatedNs: number, totalNs: number) => void,
  timeseries?: TimeSeriesRecorder,
): string {
  const scheduler = world.scheduler
  let eventsLeft = world.spec.limits.eventCountMax
  for (;;) {
    const sliceEndNs = Math.min(untilNs, scheduler.nowNs + PROGRESS_SLICE_NS)
    while (timeseries !== undefined && timeseries.nextBoundaryNs <= sliceEndNs) {
      const boundaryNs = timeseries.nextBoundaryNs
      const outcome = scheduler.run({ timeNsMax: boundaryNs, eventCountMax: eventsLeft })
      eventsLeft -= outcome.eventCount
      if (outcome.reason === "stopped" || outcome.reason === "empty") return "completed"
      if (outcome.reason === "event-limit") return "event-limit"
      sampleTimeseries(world, timeseries, boundaryNs)
      timeseries.nextBoundaryNs = boundaryNs + timeseries.intervalNs
    }
    const outcome = scheduler.run({ timeNsMax: sliceEndNs, eventCountMax: eventsLeft })
    eventsLeft -= outcome.eventCount
    if (outcome.reason === "stopped") return "completed"
    if (outcome.reason === "event-limit") return "event-limit"
    if (outcome.reason === "empty") return "completed"
    if (sliceEndNs >= untilNs) {
      scheduler.nowNs = untilNs
      return "duration"
    }
    // The slice ended on time: continue from its end.
    scheduler.nowNs = sliceEndNs
    onProgress?.(sliceEndNs, untilNs)
  }
}

function results(
  world: World,
  endReason: string,
  wallSeconds: number,
  timeseries: TimeSeriesDocument,
): ResultsDocument {
  const spec = world.spec
  const nowNs = world.scheduler.nowNs
  const workloads: Record<string, WorkloadResults> = {}
  for (const w of world.workloads) {
    workloads[w.spec.name] = world.collector.results(w.index, world.expectedEndpoints(w))
    if (world.dns !== null) workloads[w.spec.name].dns = world.dns.workloadResults(w.index)
  }
  const drops: Record<string, number> = {}
  world.network.counters.droppedByReason.forEach((count, reason) => {
    if (count > 0) drops[dropReasonName(reason)] = count
  })
  const events = world.scheduler.eventCount
  return {
    schemaVersion: SCHEMA_VERSION,
    scenario: spec.name,
    seed: world.seed,
    fingerprint: world.scheduler.fingerprint(),
    simulatedNs: nowNs,
    workloads: sortedRecord(workloads),
    drops: sortedRecord(drops),
    conntrack: conntrackResults(world, nowNs),
    dns: world.dns?.results(world.apps.servers) ?? {},
    pods: podResults(world),
    kubeProxy: {
      syncs: kubeProxySyncResults(
        [...world.nodes.values()].map((node) => ({
          node: node.name,
          syncs: node.proxy.syncs,
          failed: node.proxy.failedSyncs.length,
        })),
      ),
    },
    ...ipvsResults(world),
    steps: world.steps.map((s) => ({ atNs: s.atNs, description: s.description })),
    timeseries,
    endReason,
    wall: { seconds: wallSeconds, events, eventsPerSecond: wallSeconds > 0 ? Math.round(events / wallSeconds) : 0 },
  }
}

/** The `ipvs` section: only in IPVS mode (absent otherwise, so other modes' documents are unchanged). */
function ipvsResults(world: World): { ipvs?: IpvsResults } {
  if (world.spec.kubeProxy.mode !== "ipvs") return {}
  const out: IpvsResults = { peakConnections: 0, peakConnectionsByNode: {}, connectionsCreated: 0, virtualServers: {} }
  for (const node of world.nodes.values()) {
    const backend = node.proxy.backend
    if (!(backend instanceof IpvsBackend)) continue
    const r = backend.results()
    out.peakConnectionsByNode[node.name] = r.peakConnections
    out.peakConnections = Math.max(out.peakConnections, r.peakConnections)
    out.connectionsCreated += r.connectionsCreated
    for (const [key, vs] of Object.entries(r.virtualServers)) {
      const sum = out.virtualServers[key] ?? {
        conns: 0,
        inPkts: 0,
        outPkts: 0,
        inBytes: 0,
        outBytes: 0,
        realServers: {},
      }
      sum.conns += vs.conns
      sum.inPkts += vs.inPkts
      sum.outPkts += vs.outPkts
      sum.inBytes += vs.inBytes
      sum.outBytes += vs.outBytes
      for (const [rs, conns] of Object.entries(vs.realServers)) sum.realServers[rs] = (sum.realServers[rs] ?? 0) + conns
      out.virtualServers[key] = sum
    }
  }
  return { ipvs: out }
}

function podResults(world: World): PodResults {
  const out: PodResults = { total: 0, running: 0, pending: 0, unschedulable: 0, terminating: 0, failed: 0 }
  for (const pod of world.controlPlane.store.list("Pod")) {
    out.total++
    const phase = pod.status?.phase ?? "Pending"
    if (phase === "Running") out.running++
    else if (phase === "Pending") out.pending++
    else if (phase === "Failed") out.failed++
    if (pod.status?.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False") === true)
      out.unschedulable++
    if (pod.metadata.deletionTimestampNs !== undefined) out.terminating++
  }
  return out
}

function conntrackResults(world: World, nowNs: number): ConntrackResults {
  const peakEntriesByNode: Record<string, number> = {}
  const entriesByState: Record<string, number> = {}
  let peakEntries = 0
  let insertFailed = 0
  let clashResolved = 0
  const insertFailedByNode: Record<string, number> = {}
  let dropsTableFull = 0
  for (const node of world.nodes.values()) {
    const stats = node.filter.conntrack.stats(nowNs)
    peakEntriesByNode[node.name] = stats.peak
    peakEntries = Math.max(peakEntries, stats.peak)
    insertFailed += stats.insertFailed
    insertFailedByNode[node.name] = stats.insertFailed
    clashResolved += stats.clashResolved
    dropsTableFull += stats.dropTableFull
    for (const [state, count] of Object.entries(stats.byState))
      entriesByState[state] = (entriesByState[state] ?? 0) + count
  }
  return {
    peakEntries,
    peakEntriesByNode: sortedRecord(peakEntriesByNode),
    entriesByState: sortedRecord(entriesByState),
    insertFailed,
    insertFailedByNode: sortedRecord(insertFailedByNode),
    clashResolved,
    dropsTableFull,
  }
}

/** Compiles the scenario without running traffic; returns warnings (errors are thrown). */
export function validateScenario(spec: ScenarioSpec): Issue[] {
  return [...withLimits(() => new World(spec, spec.seed)).warnings]
}

export interface RulesOptions {
  readonly node: string
  /** Simulated time; absent: the end of kube-proxy's start-up sync (its rules just in place). */
  readonly atNs?: number
  readonly sorted: boolean
}

/** The node's dataplane configuration at time atNs, as the real tool prints it (iptables-save). */
export function renderRules(spec: ScenarioSpec, options: RulesOptions): string {
  const world = withLimits(() => new World(spec, spec.seed))
  const node = world.nodes.get(options.node)
  if (node === undefined) {
    const known = [...world.nodes.keys()].join(", ")
    throw new ScenarioIssues([
      { severity: "error", path: ["cluster", "nodes"], message: `no node named "${options.node}" (nodes: ${known})` },
    ])
  }
  // The start-up sync begins at 0 and its rules take effect when it ends (MODEL.md "Sync cost").
  const atNs = options.atNs ?? node.proxy.runningSyncEndNs ?? 0
  withLimits(() => runUntil(world, Math.min(atNs, spec.durationNs)))
  return node.proxy.rules(options.sorted)
}
