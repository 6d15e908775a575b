/**
 * The results document (DESIGN.md "Results document", schemaVersion 1). A public contract: extend
 * only by adding fields. Everything outside `wall` is a pure function of (scenario, seed, version).
 */
export const SCHEMA_VERSION = 1

export interface LatencySummary {
  count: number
  min: number
  mean: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

/**
 * Latency distribution in log-spaced bins (Histogram.bins): counts[i] values in
 * [edgesNs[i], edgesNs[i+1]); edgesNs has one more entry than counts (the last is the maximum).
 */
export interface LatencyHistogram {
  edgesNs: number[]
  counts: number[]
}

export interface DistributionSummary {
  /** Completed requests per endpoint, by pod name (or host name), sorted by key. */
  byEndpoint: Record<string, number>
  jain: number
  maxOverMean: number
  cv: number
  /** Chi-square goodness-of-fit p-value against the shares the proxy mode should give. */
  chiSquareP: number
}

export interface WorkloadResults {
  requests: { sent: number; completed: number; failed: number; failedByReason: Record<string, number> }
  latencyNs: LatencySummary
  /** Latency in log-spaced bins for the summary's terminal histogram (issue 11); absent in older documents. */
  latencyHistogram?: LatencyHistogram
  distribution: DistributionSummary
  /** Source address each server saw for this workload's requests, by address (issue 4). */
  clientAddressesSeen?: Record<string, number>
  /** Completed requests per node the serving endpoint ran on. */
  byNode?: Record<string, number>
  /** dns.mode packets: this workload's lookups and queries (no `servers`: servers are shared). */
  dns?: DnsClientResults
}

/** One lookup = one getaddrinfo call; queries = datagrams or TCP messages stub resolvers sent. */
export interface DnsClientResults {
  lookups: { started: number; answered: number; failed: number; failedByReason: Record<string, number> }
  queries: { sent: number; timedOut: number; byQtype: Record<string, number>; byRcode: Record<string, number> }
  /** Lookup latency, start of getaddrinfo to its answer (answered lookups). */
  latencyNs: LatencySummary
}

/** One DNS server pod (CoreDNS) by pod name. */
export interface DnsServerResults {
  received: number
  answered: number
  cacheHits: number
  cacheMisses: number
  forwarded: number
  refused: number
  dropped: number
}

/** `dns`: empty in dns.mode static (no DNS packet); every key present in dns.mode packets. */
export interface DnsResults {
  lookups?: DnsClientResults["lookups"]
  queries?: DnsClientResults["queries"]
  latencyNs?: LatencySummary
  servers?: Record<string, DnsServerResults>
}

export interface ConntrackResults {
  /** Highest number of entries any node held at once, and per node. */
  peakEntries: number
  peakEntriesByNode: Record<string, number>
  entriesByState: Record<string, number>
  /** Packets dropped at confirm (the kernel's insert_failed; before clash-insert also resolved clashes). */
  insertFailed: number
  /** insertFailed per node (the UDP clash race of netfilter/conntrack.ts shows here). */
  insertFailedByNode?: Record<string, number>
  /** UDP clashes resolved at confirm (merged or clash-inserted; the kernel's clash_resolve). */
  clashResolved?: number
  dropsTableFull: number
}

export interface StepResult {
  atNs: number
  description: string
}

export interface WallResults {
  seconds: number
  events: number
  eventsPerSecond: number
}

/** Pod objects at the end of the run, by state (kubectl's STATUS column, summed). */
export interface PodResults {
  total: number
  /** Phase Running. */
  running: number
  /** Phase Pending: unschedulable, waiting to bind, or bound and starting (ContainerCreating). */
  pending: number
  /** Pending with PodScheduled=False (reason Unschedulable), e.g. every node at maxPods. */
  unschedulable: number
  /** Being deleted (deletionTimestamp set), whatever their phase. */
  terminating: number
  /** Phase Failed (e.g. rejected by the kubelet: OutOfpods). */
  failed: number
}

/** kube-proxy syncs of one node, or of every node together. */
export interface KubeProxySyncStats {
  /** Syncs whose rules took effect. */
  count: number
  full: number
  partial: number
  /** Syncs whose restore failed (nothing applied; not in `durationNs`). */
  failed: number
  /** Simulated duration of each successful sync, start to rules in effect. */
  durationNs: LatencySummary
  /** Each Service/EndpointSlice write, from the store write to the end of the sync programming it. */
  lagNs: LatencySummary
  maxLagNs: number
  /** Largest rule count of the tables a sync replaced (the iptables cost model's input). */
  tableRulesMax: number
}

/** Successful syncs whose replaced tables held [key, 2 x key) rules (key a power of two, or 0). */
export interface SyncsByTableRules {
  syncs: number
  meanDurationNs: number
  maxDurationNs: number
}

export interface KubeProxySyncResults extends KubeProxySyncStats {
  byNode: Record<string, KubeProxySyncStats>
  byTableRules: Record<string, SyncsByTableRules>
}

export interface KubeProxyResults {
  syncs: KubeProxySyncResults
}

/** One IPVS virtual server's counters (`ipvsadm -Ln --stats`), summed over the nodes that have it. */
export interface IpvsVirtualServerResults {
  conns: number
  inPkts: number
  outPkts: number
  inBytes: number
  outBytes: number
  /** Connections scheduled to each real server, by "IP:port". */
  realServers: Record<string, number>
}

/** kube-proxy's IPVS mode: the kernel IPVS connection tables and virtual servers of every node. */
export interface IpvsResults {
  /** Most IPVS connections (persistence templates included) one node held at once, and per node. */
  peakConnections: number
  peakConnectionsByNode: Record<string, number>
  /** Connections (and templates) IPVS created on all nodes. */
  connectionsCreated: number
  /** Virtual servers that scheduled at least one connection, by VirtualServer.String() ("IP:port/TCP"). */
  virtualServers: Record<string, IpvsVirtualServerResults>
}

export interface ResultsDocument {
  schemaVersion: typeof SCHEMA_VERSION
  scenario: string
  seed: number
  fingerprint: string
  simulatedNs: number
  workloads: Record<string, WorkloadResults>
  drops: Record<string, number>
  conntrack: ConntrackResults
  dns: DnsResults
  /** Added with the capacity model; absent in documents of older versions. */
  pods?: PodResults
  /** Added with the sync cost model (issue 8); absent in documents of older versions. */
  kubeProxy?: KubeProxyResults
  /** Added with IPVS mode (issue 8): present only when kubeProxy.mode is ipvs. */
  ipvs?: IpvsResults
  steps: StepResult[]
  /** Per-interval counters (issue 11; stats/timeseries.ts); absent in documents of older versions. */
  timeseries?: TimeSeriesDocument
  /** How the run ended: "completed" (all workloads finished), "duration", "event-limit". */
  endReason: string
  wall: WallResults
}

/** The `timeseries` section (issue 11; recorded by stats/timeseries.ts, described in docs/outputs.md). */
export interface WorkloadTimeSeries {
  requests: number[]
  completed: number[]
  failed: number[]
  failedByReason: Record<string, number[]>
  /** Completions per endpoint (pod name, or host name for external servers). */
  byEndpoint: Record<string, number[]>
  /**
   * Percentiles of the interval's completions (HdrHistogram values, as `latencyNs`); 0 for an
   * interval without a completion (`completed[i]` is 0), as the document's empty latency summary.
   */
  latencyP50Ns: number[]
  latencyP99Ns: number[]
}

export interface TimeSeriesEvent {
  atNs: number
  step: string
}

export interface TimeSeriesDocument {
  intervalNs: number
  /**
   * Start of each interval. Interval i holds the times in (startNs[i], startNs[i] + intervalNs]
   * (the first also time 0); the last one ends at the run's end (it may be shorter).
   */
  startNs: number[]
  workloads: Record<string, WorkloadTimeSeries>
  /** Conntrack entries per node at each interval's end (nf_conntrack_count: allocated entries). */
  conntrack: Record<string, number[]>
  /** Packets dropped per interval, by drop reason. */
  drops: Record<string, number[]>
  events: TimeSeriesEvent[]
}
