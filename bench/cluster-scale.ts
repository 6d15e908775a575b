/**
 * Cluster-scale benchmark (issue 10): how wall time and memory grow with nodes, Services and pods.
 *
 * Generates its scenario (not committed): NODES nodes; SERVICES ClusterIP Services, Service i
 * selecting its own Deployment `app-i` of UDP echo pods with a replica count drawn from a fixed
 * pattern around PODS / SERVICES (0.5x, 1x, 1x, 1.5x: realistic spread, deterministic); a client
 * Deployment of CLIENTS pods (`deployment/client`: every replica sends) whose workload sends
 * COUNT requests, each to Service (k * stride) for the k-th workload, so requests cross the cluster.
 *
 * Reports (wall, this process): loading the scenario; building the world (manifests applied,
 * controllers run at t=0); until every node's kube-proxy finished its first sync; until the first
 * request completed; the traffic phase per completed request (median of its windows, from the first
 * completed request until every request is answered); peak RSS (sampled between simulation
 * slices); CPU time (user + system) to the first request and per request, which a shared machine
 * does not inflate as it does wall time; and counts that show the shape of the cost (shared
 * fragments compiled, shared parsed rules, per-node rules held). What happened to the requests:
 * completed (per workload, with their latency), failed by reason, still in flight at the horizon,
 * packet drops by reason, and when the workloads started against when the last node's first sync
 * ended. Nothing is timed against a threshold here: the figures are printed.
 *
 * Points: `--point small|medium|large` = (nodes, Services, pods) (100, 1k, 3k), (1k, 10k, 30k),
 * (5k, 10k, 150k); or `--nodes N --services N --pods N`. `--clients N` (default 200), `--workloads N`
 * (default 4), `--count N` requests per client pod and workload (default 50: 40,000 requests, a traffic phase long enough
 * for a stable per-request figure), `--duration 30s` (userspace mode: its start-up sync's modelled
 * length plus a minute by default, `userspaceHorizon`), `--mode nftables|ipvs|userspace|...`
 * (kube-proxy mode; default iptables), `--cni bridge|aws-vpc` (default bridge), `--bare-pods N` (extra
 * pods no Service selects: the nodes-and-pods cost without kube-proxy's nodes x endpoints rules),
 * `--udp-timeout 250ms` (userspace mode's --udp-timeout, `kubeProxy.userspace.udpIdleTimeout`),
 * `--profile-traffic FILE` (a V8 CPU profile of the traffic phase only), `--eager-pods 1` (build every pod's network at once instead of on first use: same results),
 * `--eager-userspace 1` (userspace mode: every node's proxier opens its ports and shuffles at once instead of when a packet or reader needs them: same results).
 * Run big points with a generous heap: `node --max-old-space-size=8192 --import tsx bench/cluster-scale.ts --point medium`.
 * The last line printed is a JSON object.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { Session } from "node:inspector"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { World } from "../src/cluster/index.ts"
import type { ScenarioSpec } from "../src/cluster/index.ts"
import { loadScenario } from "../src/scenario/load.ts"
import { NS_PER_MS } from "../src/sim/time.ts"
import { TableId } from "../src/netfilter/constants.ts"
import type { Table } from "../src/netfilter/table.ts"
import { IpvsBackend, ipvsTableSharing } from "../src/cluster/backend-ipvs.ts"
import { NftablesBackend } from "../src/cluster/backend-nftables.ts"
import { UserspaceBackend } from "../src/cluster/backend-userspace.ts"
import { EndpointsFeed } from "../src/proxy/userspace/proxier.ts"
import { DEFAULT_IPTABLES_SYNC_COST } from "../src/proxy/sync-cost.ts"
import { dropReasonName } from "../src/wire/drop-reason.ts"
import { Histogram } from "../src/stats/histogram.ts"

export interface ClusterScaleOptions {
  readonly nodes: number
  readonly services: number
  readonly pods: number
  readonly clients: number
  readonly workloads: number
  readonly count: number
  readonly duration: string
  /**
   * Extra pods no Service selects (Deployments of BARE_REPLICAS UDP echo pods, `bare-i`): the cost
   * of nodes and pods apart from kube-proxy's rules, which grow with nodes x endpoints. Default 0.
   */
  readonly barePods?: number
  /** kube-proxy mode (`kubeProxy.mode`); absent: the scenario default (iptables). */
  readonly mode?: string
  /** `cluster.cni`; absent: the scenario default (bridge). */
  readonly cni?: "bridge" | "aws-vpc"
  /** userspace mode's `kubeProxy.userspace.udpIdleTimeout` (kube-proxy's --udp-timeout); absent: 250ms. */
  readonly udpTimeout?: string
}

const BARE_REPLICAS = 30
/** Windows the traffic phase is cut into for the per-request figures (their median is reported). */
const WINDOWS = 7

export const POINTS: Readonly<Record<string, Pick<ClusterScaleOptions, "nodes" | "services" | "pods">>> = {
  small: { nodes: 100, services: 1000, pods: 3000 },
  medium: { nodes: 1000, services: 10_000, pods: 30_000 },
  large: { nodes: 5000, services: 10_000, pods: 150_000 },
}

const PORT = 5000
const REPLICA_PATTERN = [0.5, 1, 1, 1.5]

export function replicasOf(index: number, options: Pick<ClusterScaleOptions, "services" | "pods">): number {
  const mean = options.pods / options.services
  return Math.max(1, Math.round(mean * REPLICA_PATTERN[index % REPLICA_PATTERN.length]))
}

export function clusterScaleYaml(o: ClusterScaleOptions): string {
  const width = String(o.services - 1).length
  const name = (i: number): string => `svc-${String(i).padStart(width, "0")}`
  const lines: string[] = []
  lines.push(`# Generated by bench/cluster-scale.ts: ${o.nodes} nodes, ${o.services} Services, ~${o.pods} pods.`)
  lines.push("apiVersion: kube-netsim/v1", "kind: Scenario", `metadata: { name: cluster-scale }`, "seed: 1")
  lines.push(`duration: ${o.duration}`, "cluster:", `  nodes: { count: ${o.nodes} }`)
  // The default pod CIDR (10.244.0.0/16) holds 256 node /24s; bigger clusters get a /10 (16,384),
  // as large clusters configure --cluster-cidr. Small clusters keep the default (same scenario).
  let total = o.clients + (o.barePods ?? 0)
  for (let i = 0; i < o.services; i++) total += replicasOf(i, o)
  if (o.cni === "aws-vpc") {
    // Pods take VPC subnet addresses as nodes do: the default /16 holds 65,531 (AWS reserves 5);
    // bigger clusters get a /12.
    lines.push("  cni: aws-vpc")
    if (o.nodes + total > 65_000) lines.push("  nodeCIDR: 10.0.0.0/12")
  } else if (o.nodes > 256) lines.push("  podCIDR: 100.64.0.0/10")
  // The controller-manager's client limit (20 qps by default) would take minutes of simulated time
  // to create 150,000 pods; large clusters raise it, and this measures the simulator, not the limit.
  lines.push("  controllerManager: { kubeApiQps: 1000000, kubeApiBurst: 1000000 }")
  // kube-proxy at scale is measured, not DNS: names resolve from the runtime's table.
  // limits.pods (default 150,000) guards against runaway replicas; the large point has 150,000
  // Service pods plus the clients (and any bare pods): room for all of them.
  if (total > 100_000) lines.push(`limits: { pods: ${total + 1000} }`)
  if (o.mode !== undefined)
    lines.push(
      o.udpTimeout === undefined
        ? `kubeProxy: { mode: ${o.mode} }`
        : `kubeProxy: { mode: ${o.mode}, userspace: { udpIdleTimeout: ${o.udpTimeout} } }`,
    )
  lines.push("dns: { mode: static }", "manifests:", "  - inline:")
  for (let i = 0; i < o.services; i++) {
    const app = `app-${i}`
    lines.push(
      `      - { apiVersion: apps/v1, kind: Deployment, metadata: { name: ${app} }, spec: { replicas: ${replicasOf(i, o)}, selector: { matchLabels: { app: ${app} } }, template: { metadata: { labels: { app: ${app} } }, spec: { containers: [{ name: echo, image: kube-netsim/udp-echo, ports: [{ containerPort: ${PORT}, protocol: UDP }] }] } } } }`,
      `      - { apiVersion: v1, kind: Service, metadata: { name: ${name(i)} }, spec: { selector: { app: ${app} }, ports: [{ port: ${PORT}, targetPort: ${PORT}, protocol: UDP }] } }`,
    )
  }
  const bare = o.barePods ?? 0
  for (let i = 0; i * BARE_REPLICAS < bare; i++) {
    const app = `bare-${i}`
    const replicas = Math.min(BARE_REPLICAS, bare - i * BARE_REPLICAS)
    lines.push(
      `      - { apiVersion: apps/v1, kind: Deployment, metadata: { name: ${app} }, spec: { replicas: ${replicas}, selector: { matchLabels: { app: ${app} } }, template: { metadata: { labels: { app: ${app} } }, spec: { containers: [{ name: echo, image: kube-netsim/udp-echo, ports: [{ containerPort: ${PORT}, protocol: UDP }] }] } } } }`,
    )
  }
  lines.push(
    `      - { apiVersion: apps/v1, kind: Deployment, metadata: { name: client }, spec: { replicas: ${o.clients}, selector: { matchLabels: { app: client } }, template: { metadata: { labels: { app: client } }, spec: { containers: [{ name: client, image: busybox, command: [sleep, "3600"] }] } } } }`,
  )
  lines.push("workloads:")
  const stride = Math.max(1, Math.floor(o.services / o.workloads))
  for (let k = 0; k < o.workloads; k++) {
    lines.push(
      `  - { name: w${k}, from: deployment/client, to: "udp://${name((k * stride) % o.services)}:${PORT}", arrival: { every: 10ms }, count: ${o.count}, connection: new, requestBytes: 100, timeout: 500ms }`,
    )
  }
  return lines.join("\n") + "\n"
}

/**
 * userspace mode's default horizon: its start-up sync (one direct syncProxyRules over every
 * Service, as OnServiceSynced/OnEndpointsSynced run it) charges one `iptables` run per command
 * (backend-userspace.ts): per ClusterIP service port 2 rules, each EnsureRule'd (-C, -A) and
 * re-checked by ensurePortals (-C), plus iptablesInit's 10, each reading the final nat table
 * (2 rules per port + 4 jumps) at the default iptables cost. At 1,000 Services that is 6,010 runs
 * of about 38 ms: 228 s of simulated time before any node serves a Service, so the 30 s default of
 * the other modes ended before the first sync. The horizon is that time plus a minute (pods
 * ready, the traffic phase), in whole seconds.
 */
export function userspaceHorizon(services: number): string {
  const commands = 6 * services + 10
  const natRules = 2 * services + 4
  const c = DEFAULT_IPTABLES_SYNC_COST
  const firstSyncNs = commands * (c.fixedNs + c.perTableRuleNs * natRules)
  return `${Math.ceil(firstSyncNs / 1e9) + 60}s`
}

function cniOf(text: string): "bridge" | "aws-vpc" {
  if (text !== "bridge" && text !== "aws-vpc") throw new Error(`--cni: bridge or aws-vpc, not ${text}`)
  return text
}

function parseArgs(args: readonly string[]): ClusterScaleOptions {
  const values: Record<string, string> = {}
  for (let i = 0; i < args.length; i += 2) {
    if (!args[i].startsWith("--") || args[i + 1] === undefined) throw new Error(`bad argument ${args[i]}`)
    values[args[i].slice(2)] = args[i + 1]
  }
  const point = POINTS[values.point ?? "small"]
  if (point === undefined) throw new Error(`--point: one of ${Object.keys(POINTS).join(", ")}`)
  const num = (key: string, fallback: number): number => (values[key] === undefined ? fallback : Number(values[key]))
  return {
    nodes: num("nodes", point.nodes),
    services: num("services", point.services),
    pods: num("pods", point.pods),
    clients: num("clients", 200),
    workloads: num("workloads", 4),
    count: num("count", 50),
    duration:
      values.duration ?? (values.mode === "userspace" ? userspaceHorizon(num("services", point.services)) : "30s"),
    barePods: num("bare-pods", 0),
    ...(values.mode !== undefined ? { mode: values.mode } : {}),
    ...(values.cni !== undefined ? { cni: cniOf(values.cni) } : {}),
    ...(values["udp-timeout"] !== undefined ? { udpTimeout: values["udp-timeout"] } : {}),
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = parseArgs(process.argv.slice(2))
  const dir = mkdtempSync(join(tmpdir(), "kube-netsim-scale-"))
  const file = join(dir, "cluster-scale.yaml")
  writeFileSync(file, clusterScaleYaml(options))
  const now = (): number => Number(process.hrtime.bigint()) / 1e6
  // CPU time of this process (user + system, ms): on a shared machine wall time mostly measures
  // the other work; CPU time does not (it includes GC threads, so it can exceed wall time).
  const cpu = (): number => {
    const u = process.cpuUsage()
    return (u.user + u.system) / 1000
  }
  let peakRss = 0
  // process.memoryUsage.rss(): the resident set size only (memoryUsage() also walks the V8 heap's
  // spaces, about a millisecond per sample at 3 GB, once per 10 ms slice of simulated time).
  const sampleMemory = (): void => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
  }
  const t0 = now()
  const loaded = loadScenario(file)
  rmSync(dir, { recursive: true, force: true })
  if (!loaded.ok) throw new Error(`scenario does not load: ${loaded.issues.map((i) => i.message).join("; ")}`)
  const spec: ScenarioSpec = loaded.scenario.spec
  const loadMs = now() - t0
  sampleMemory()
  const buildStart = now()
  // --eager-pods 1: every pod network built when the pod gets its address (same results; the
  // memory and time lazy pods save).
  const world = new World(spec, spec.seed, {
    lazyPods: process.argv.indexOf("--eager-pods") < 0,
    // --eager-userspace 1: every userspace node does its proxier's work at once (same results).
    deferIdleUserspace: process.argv.indexOf("--eager-userspace") < 0,
  })
  const buildMs = now() - buildStart
  sampleMemory()
  const scheduler = world.scheduler
  const SLICE_NS = 10 * NS_PER_MS
  // userspace mode's start-up sync runs minutes to hours of simulated time with few events: the
  // phases before every node synced and after the traffic step in 1 s slices (results do not
  // depend on the slicing; 10 ms slices over hours were the harness's own cost).
  const COARSE_SLICE_NS = 1000 * NS_PER_MS
  let sliceNs = spec.kubeProxy.mode === "userspace" ? COARSE_SLICE_NS : SLICE_NS
  let ended = false
  const step = (): void => {
    const sliceEnd = Math.min(spec.durationNs, scheduler.nowNs + sliceNs)
    const outcome = scheduler.run({ timeNsMax: sliceEnd, eventCountMax: Number.MAX_SAFE_INTEGER })
    sampleMemory()
    if (outcome.reason === "stopped" || outcome.reason === "empty" || sliceEnd >= spec.durationNs) ended = true
    else scheduler.nowNs = sliceEnd
  }
  const nodes = [...world.nodes.values()]
  // Read the collector's counters directly: its results() summary walks every server index seen
  // (up to the pod count), which made the harness's own per-slice check grow with the cluster.
  const counts = world.collector.workloads
  const completedSoFar = (): number => {
    let completed = 0
    for (const w of counts) completed += w.completed
    return completed
  }
  const doneSoFar = (): number => {
    let done = 0
    for (const w of counts) done += w.completed + w.failed
    return done
  }
  // Coarse slices only while no node's running sync ends within one: the 10 ms slices resume
  // before the first syncs end, so the traffic after them is measured as in the other modes.
  // While every node runs a sync, none ends before the earliest end: no scan of the nodes per
  // slice until then (at 5,000 nodes over 16,939 simulated seconds the scans were the harness's
  // own cost, some 170 million node visits).
  let noSyncEndsBeforeNs = -1
  const syncEndsWithinCoarseSlice = (): boolean => {
    const horizonNs = scheduler.nowNs + COARSE_SLICE_NS
    if (horizonNs < noSyncEndsBeforeNs) return false
    let earliestNs = Infinity
    for (const n of nodes) {
      const endNs = n.proxy.runningSyncEndNs
      if (endNs === null || endNs <= horizonNs) return true
      if (endNs < earliestNs) earliestNs = endNs
    }
    noSyncEndsBeforeNs = earliestNs
    return false
  }
  // A node that synced once stays synced: the first node not yet synced only moves forward.
  let firstUnsynced = 0
  const everyNodeSynced = (): boolean => {
    while (firstUnsynced < nodes.length && nodes[firstUnsynced].proxy.syncs.length > 0) firstUnsynced++
    return firstUnsynced === nodes.length
  }
  while (!ended && !everyNodeSynced()) {
    if (sliceNs !== SLICE_NS && syncEndsWithinCoarseSlice()) sliceNs = SLICE_NS
    step()
  }
  const firstSyncMs = now() - buildStart
  const firstSyncCpuMs = cpu()
  const firstSyncAtNs = scheduler.nowNs
  sliceNs = SLICE_NS
  while (!ended && completedSoFar() === 0) step()
  const firstRequestMs = now() - buildStart
  const firstRequestCpuMs = cpu()
  const firstRequestAtNs = scheduler.nowNs
  // The traffic phase: from the first completed request until every request the workloads will
  // send is answered or failed (not the quiet tail to the scenario's end, whose periodic work per
  // node is not per request). A checkpoint per slice; the phase is cut into WINDOWS windows of
  // about equal completed requests and the per-request cost is the median window's (one slow
  // window on a shared machine moves the median little).
  const expected = options.clients * options.workloads * options.count
  // --profile-traffic FILE: a V8 CPU profile of the traffic phase only (.cpuprofile, for DevTools).
  const profileIndex = process.argv.indexOf("--profile-traffic")
  const profileFile = profileIndex < 0 ? null : process.argv[profileIndex + 1]
  const session = profileFile === null ? null : new Session()
  const post = (method: string): Promise<unknown> =>
    new Promise((resolve, reject) =>
      session?.post(method, (error, result) => (error === null ? resolve(result) : reject(error))),
    )
  if (session !== null) {
    session.connect()
    await post("Profiler.enable")
    await post("Profiler.start")
  }
  const checkpoints: { wallMs: number; cpuMs: number; completed: number }[] = [
    { wallMs: now(), cpuMs: cpu(), completed: completedSoFar() },
  ]
  while (!ended && doneSoFar() < expected) {
    step()
    checkpoints.push({ wallMs: now(), cpuMs: cpu(), completed: completedSoFar() })
  }
  const first = checkpoints[0]
  const last = checkpoints[checkpoints.length - 1]
  const trafficMs = last.wallMs - first.wallMs
  const trafficCpuMs = last.cpuMs - first.cpuMs
  const trafficCompleted = last.completed - first.completed
  const perRequestWindows = (pick: (c: (typeof checkpoints)[number]) => number): number[] => {
    const out: number[] = []
    let from = 0
    for (let k = 1; k <= WINDOWS; k++) {
      const target = first.completed + (trafficCompleted * k) / WINDOWS
      let to = from + 1
      while (to < checkpoints.length - 1 && checkpoints[to].completed < target) to++
      if (to >= checkpoints.length) break
      const requests = checkpoints[to].completed - checkpoints[from].completed
      if (requests > 0) out.push(((pick(checkpoints[to]) - pick(checkpoints[from])) * 1000) / requests)
      from = to
    }
    return out
  }
  const median = (values: readonly number[]): number => {
    if (values.length === 0) return 0
    const sorted = [...values].sort((a, b) => a - b)
    const mid = sorted.length >> 1
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  }
  if (session !== null && profileFile !== null) {
    const result = (await post("Profiler.stop")) as { profile: unknown }
    writeFileSync(profileFile, JSON.stringify(result.profile))
    session.disconnect()
  }
  const wallWindows = perRequestWindows((c) => c.wallMs)
  const cpuWindows = perRequestWindows((c) => c.cpuMs)
  const tailStart = now()
  if (spec.kubeProxy.mode === "userspace") sliceNs = COARSE_SLICE_NS
  while (!ended) step()
  const tailMs = now() - tailStart
  const completed = completedSoFar()
  let sent = 0
  for (const w of world.workloads) sent += world.collector.results(w.index, []).requests.sent
  // What happened to the requests that did not complete: failures by the client's reason (the
  // results document's failedByReason, summed over the workloads), those still in flight at the
  // horizon, and packet drops by reason (the document's drops).
  let failed = 0
  const failedByReason: Record<string, number> = {}
  for (const w of counts) {
    failed += w.failed
    for (const [reason, n] of Object.entries(w.failures.toRecord()))
      failedByReason[reason] = (failedByReason[reason] ?? 0) + n
  }
  // Latency of the completed requests over all workloads (userspace mode: none can complete later
  // than --udp-timeout after its proxy wrote it to the endpoint, MODEL.md).
  const latency = new Histogram()
  for (const w of counts) latency.merge(w.latency)
  const latencySummary = latency.summary()
  const ms = (ns: number): number => Number((ns / 1e6).toFixed(3))
  const drops: Record<string, number> = {}
  world.network.counters.droppedByReason.forEach((n, reason) => {
    if (n > 0) drops[dropReasonName(reason)] = n
  })
  // When the workloads started against when the last node's first sync ended: a request sent
  // before that found some node's kube-proxy not yet serving (in userspace mode: no proxy port
  // bound, no portal rule).
  let everyNodeSyncedAtNs = 0
  for (const n of nodes) everyNodeSyncedAtNs = Math.max(everyNodeSyncedAtNs, n.proxy.syncs[0]?.endNs ?? Infinity)
  let workloadsStartedAtNs = Infinity
  for (const step of world.steps)
    if (step.description.startsWith("workload ") && step.description.endsWith(" starts"))
      workloadsStartedAtNs = Math.min(workloadsStartedAtNs, step.atNs)
  const shared = world.sharedProxy.iptables
  let rulesHeld = 0
  let counterChains = 0
  const distinctRules = new Set<object>()
  // Tables and chains are shared between nodes: each distinct one is walked once (a walk per node
  // took minutes at 5,000 nodes, after the measurement but before the figures).
  const distinctTables = new Set<Table>()
  for (const n of nodes) {
    for (const t of [TableId.RAW, TableId.MANGLE, TableId.NAT, TableId.FILTER]) {
      const table = n.filter.table(t)
      rulesHeld += table.ruleCount
      distinctTables.add(table)
    }
    counterChains += n.filter.counters.chains
  }
  const distinctChains = new Set<object>()
  for (const table of distinctTables)
    for (const c of table.chains) {
      if (distinctChains.has(c)) continue
      distinctChains.add(c)
      for (const r of c.rules) distinctRules.add(r)
    }
  const pods = world.controlPlane.store.count("Pod")
  // IPVS mode: nodes whose kernel tables are shared, distinct kernel service objects over all nodes.
  let ipvsNodesSharingTables = 0
  // Per-node traffic state (sparse): nodes holding any, and their service and dest records.
  let ipvsNodesWithTrafficState = 0
  let ipvsServiceRecords = 0
  let ipvsDestRecords = 0
  const ipvsServiceObjects = new Set<object>()
  const ipvsTables = new Set<object>()
  for (const n of nodes) {
    const backend = n.proxy.backend
    if (!(backend instanceof IpvsBackend)) continue
    if (backend.ipvs.tablesShared) ipvsNodesSharingTables++
    if (backend.ipvs.servicesWithState > 0) ipvsNodesWithTrafficState++
    ipvsServiceRecords += backend.ipvs.servicesWithState
    ipvsDestRecords += backend.ipvs.counts.size
    if (ipvsTables.has(backend.ipvs.services)) continue
    ipvsTables.add(backend.ipvs.services)
    for (const svc of backend.ipvs.services) ipvsServiceObjects.add(svc)
  }
  console.log(
    JSON.stringify({
      benchmark: "cluster-scale",
      node: process.version,
      nodes: options.nodes,
      services: options.services,
      pods,
      clients: options.clients,
      mode: spec.kubeProxy.mode,
      loadScenarioSeconds: Number((loadMs / 1000).toFixed(3)),
      buildWorldSeconds: Number((buildMs / 1000).toFixed(3)),
      firstSyncAllNodesSeconds: Number((firstSyncMs / 1000).toFixed(3)),
      firstSyncAtSimulatedNs: firstSyncAtNs,
      firstSyncAllNodesCpuSeconds: Number((firstSyncCpuMs / 1000).toFixed(3)),
      totalCpuSeconds: Number((cpu() / 1000).toFixed(3)),
      firstCompletedRequestSeconds: Number((firstRequestMs / 1000).toFixed(3)),
      firstCompletedRequestAtSimulatedNs: firstRequestAtNs,
      requestsSent: sent,
      requestsCompleted: completed,
      requestsFailed: failed,
      requestsFailedByReason: failedByReason,
      requestsUnfinished: sent - completed - failed,
      requestsCompletedByWorkload: counts.map((w) => w.completed),
      completedLatencyMs: { p50: ms(latencySummary.p50), p99: ms(latencySummary.p99), max: ms(latencySummary.max) },
      drops,
      everyNodeSyncedAtSimulatedNs: Number.isFinite(everyNodeSyncedAtNs) ? everyNodeSyncedAtNs : null,
      workloadsStartedAtSimulatedNs: Number.isFinite(workloadsStartedAtNs) ? workloadsStartedAtNs : null,
      trafficSeconds: Number((trafficMs / 1000).toFixed(3)),
      trafficRequests: trafficCompleted,
      // Median over the traffic phase's windows (each window's wall or CPU time per request), and
      // the windows themselves.
      wallMicrosecondsPerRequest: Number(median(wallWindows).toFixed(2)),
      wallMicrosecondsPerRequestWindows: wallWindows.map((v) => Number(v.toFixed(1))),
      wallMicrosecondsPerRequestWholePhase: Number(((trafficMs * 1000) / Math.max(1, trafficCompleted)).toFixed(2)),
      tailSeconds: Number((tailMs / 1000).toFixed(3)),
      // CPU time of the process from its start (loading included) to the first completed request,
      // and per request in the traffic phase.
      firstCompletedRequestCpuSeconds: Number((firstRequestCpuMs / 1000).toFixed(3)),
      cpuMicrosecondsPerRequest: Number(median(cpuWindows).toFixed(2)),
      cpuMicrosecondsPerRequestWindows: cpuWindows.map((v) => Number(v.toFixed(1))),
      cpuMicrosecondsPerRequestWholePhase: Number(((trafficCpuMs * 1000) / Math.max(1, trafficCompleted)).toFixed(2)),
      peakRssMB: Math.round(peakRss / 2 ** 20),
      syncsPerNodeMean: Number((nodes.reduce((s, n) => s + n.proxy.syncs.length, 0) / nodes.length).toFixed(2)),
      sharedSnapshots: shared.servicePorts.snapshotsBuilt,
      sharedServiceBuilds: shared.servicePorts.serviceBuilds,
      sharedFragmentsCompiled: shared.fragments.compiled,
      ruleLinesParsed: world.ruleCache.parsed,
      ruleLinesShared: world.ruleCache.hits,
      rulesHeldPerNode: Math.round(rulesHeld / nodes.length),
      podNetworksBuilt: world.clusterNet.podsBuilt,
      podNetworksBuiltLate: world.clusterNet.lazyPodsBuilt,
      // Rule objects over all nodes (shared rules once), restored blocks shared, per-node counters.
      distinctRuleObjects: distinctRules.size,
      restoreInputsAssembled: shared.fragments.inputsAssembled,
      restoreInputsShared: shared.fragments.inputsShared,
      restoreBlocksShared: world.ruleCache.blocksShared,
      restoreBlocksRestored: world.ruleCache.blocksRestored,
      counterChainsPerNode: Number((counterChains / nodes.length).toFixed(2)),
      ipvsTablesBuilt: ipvsTableSharing.built,
      ipvsTablesReused: ipvsTableSharing.reused,
      ipvsNodesSharingTables,
      ipvsNodesWithTrafficState,
      ipvsServiceRecords,
      ipvsDestRecords,
      ipvsDistinctServiceObjects: ipvsServiceObjects.size,
      ...(spec.kubeProxy.mode === "nftables" ? { nftables: nftablesSharing(world) } : {}),
      ...(spec.kubeProxy.mode === "userspace" ? { userspace: userspaceShape(world) } : {}),
      fingerprint: scheduler.fingerprint(),
      loadAverage1m: loadavg()[0],
    }),
  )
}

/**
 * nftables mode's sharing (MODEL.md "Cluster scale: nftables tables shared between nodes"):
 * distinct committed kernel tables and proxier table states over the nodes, transactions applied
 * once per distinct transition and taken by the other nodes, compiles shared.
 */
function nftablesSharing(world: World): Record<string, number> {
  const kernelTables = new Set<object>()
  const proxierStates = new Set<object>()
  for (const n of world.nodes.values()) {
    const backend = n.proxy.backend
    if (!(backend instanceof NftablesBackend)) continue
    if (backend.nft.ruleset.table !== null) kernelTables.add(backend.nft.ruleset.table)
    proxierStates.add(backend.proxier.table.sharedState)
  }
  const pool = world.sharedProxy.nftables
  const sync = world.sharedProxy.nftablesSync
  return {
    distinctKernelTables: kernelTables.size,
    distinctProxierStates: proxierStates.size,
    kernelTransitionsApplied: pool.transitionsApplied,
    kernelTransitionsShared: pool.transitionsShared,
    proxierTransitionsApplied: sync.transitions.applied,
    proxierTransitionsShared: sync.transitions.shared,
    transactionsCompiled: sync.compiledCount,
    transactionsShared: sync.sharedCount,
    ownCompiles: sync.ownCount,
  }
}

/**
 * userspace mode's shape: the start-up sync's simulated length, the per-node proxier state
 * (service ports, each with a proxy socket and its portal rules), restores written (a sync that
 * changes nothing writes none) and the Endpoints feed (each write read once per node, each
 * Endpoints object's ports map built once).
 */
function userspaceShape(world: World): Record<string, number> {
  let nodes = 0
  let servicePorts = 0
  let restores = 0
  let endpointsRead = 0
  let firstSyncNs = 0
  // The proxy sockets' counters (made at a port's first packet): UDP clients given an endpoint,
  // datagrams refused for want of one, messages relayed both ways.
  let socketsMade = 0
  let deferred = 0
  let clientsAccepted = 0
  let clientsRejected = 0
  let messagesCopied = 0
  for (const n of world.nodes.values()) {
    const backend = n.proxy.backend
    if (!(backend instanceof UserspaceBackend)) continue
    nodes++
    restores += backend.restoresWritten
    endpointsRead += backend.proxier.endpointsRead
    firstSyncNs += n.proxy.syncs[0]?.durationNs ?? 0
    // Counted without replaying a deferred node (it made no socket: no packet reached it).
    servicePorts += backend.proxier.servicePortCount
    socketsMade += backend.proxier.socketsMade
    if (backend.proxier.deferred) {
      deferred++
      continue
    }
    for (const info of backend.proxier.serviceMap.values()) {
      const stats = info.socket?.stats
      if (stats === undefined) continue
      clientsAccepted += stats.accepted
      clientsRejected += stats.rejected
      messagesCopied += stats.messagesCopied
    }
  }
  const feed = EndpointsFeed.of(world.controlPlane.store)
  const journal = world.sharedProxy.userspaceJournal(world.network)
  return {
    firstSyncSimulatedSecondsMean: Number((firstSyncNs / Math.max(1, nodes) / 1e9).toFixed(3)),
    servicePortsPerNode: Number((servicePorts / Math.max(1, nodes)).toFixed(1)),
    restoresWritten: restores,
    endpointsWrites: feed.keys.length,
    endpointsReadPerNode: Number((endpointsRead / Math.max(1, nodes)).toFixed(1)),
    portsMapsBuilt: feed.built,
    proxySocketsMade: socketsMade,
    proxyClientsAccepted: clientsAccepted,
    proxyClientsRejected: clientsRejected,
    proxyMessagesCopied: messagesCopied,
    // Nodes whose proxier still defers its work at the end (no packet or bind reached their host
    // namespace), and the journal they follow (proxy/userspace/deferral.ts).
    nodesDeferred: deferred,
    journalStepsMade: journal?.stepsMade ?? 0,
    journalStepsTaken: journal?.stepsTaken ?? 0,
    nodesReplayed: journal?.nodesReplayed ?? 0,
    stepsReplayed: journal?.stepsReplayed ?? 0,
  }
}
