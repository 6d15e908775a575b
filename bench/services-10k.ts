/**
 * Many-services benchmark: 10,000 ClusterIP Services (bench/gen-services.ts writes the scenario to
 * a temp dir, as scenarios/bench/services-10k.yaml), 8 nodes, each node's kube-proxy compiling and
 * restoring ~100,000 nat rules per sync.
 *
 * Measured (wall): loading the scenario; building the world (manifests applied, controllers run at
 * t=0); reaching the first kube-proxy sync on every node; reaching the state where every workload
 * has started (all endpoints programmed on every node); the traffic phase, per request; peak
 * memory (process.memoryUsage, sampled between simulation slices). benny then times the build +
 * first-sync phase, which is what grows with the number of Services.
 *
 * Consistency check, not a measurement: the mean simulated request latency per probed Service
 * position in KUBE-SERVICES and its least-squares slope. The model charges ruleCostNs (a configured
 * parameter, 50 ns by default, MODEL.md) per rule a linear walk evaluates before the match, so the
 * slope reads that configured cost back; it checks that the charged walk is wired end to end (rule
 * positions, per-packet charge, latency bookkeeping), and says nothing about real iptables' cost.
 *
 * `--mode ipvs|nftables|userspace` runs the same scenario under that kube-proxy mode (any mode
 * registered in src/cluster/proxy-backends.ts). The slope of mean latency over Service position is
 * then reported as is: a mode whose first packet does not walk a list of Services (nftables' verdict
 * maps, IPVS's hashed virtual servers) must show a slope of about 0 ns per Service.
 *
 * Usage: npx tsx bench/services-10k.ts [--services N] [--nodes N] [--positions N] [--count N]
 *        [--mode M] [--no-benny]   (the last line printed is a JSON object)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { World } from "../src/cluster/index.ts"
import type { ScenarioSpec } from "../src/cluster/index.ts"
import { loadScenario } from "../src/scenario/load.ts"
import { simulatedProxyModes, type ProxyMode } from "../src/cluster/proxy-backends.ts"
import { NS_PER_MS } from "../src/sim/time.ts"
import { timeRuns } from "./timing.ts"
import { parseServicesArgs, probedServices, serviceName, servicesScenarioYaml, workloadName } from "./gen-services.ts"

const argv = process.argv.slice(2)
const noBenny = argv.includes("--no-benny")
const modeAt = argv.indexOf("--mode")
const modeArg = modeAt >= 0 ? argv[modeAt + 1] : "iptables"
if (!(simulatedProxyModes() as string[]).includes(modeArg))
  throw new Error(`--mode ${modeArg}: not a simulated mode (${simulatedProxyModes().join(", ")})`)
const mode = modeArg as ProxyMode
const { options } = parseServicesArgs(argv.filter((a, i) => a !== "--no-benny" && i !== modeAt && i !== modeAt + 1))

const dir = mkdtempSync(join(tmpdir(), "kube-netsim-bench-"))
const file = join(dir, `services-${options.services}.yaml`)
writeFileSync(file, servicesScenarioYaml(options))

const now = (): number => Number(process.hrtime.bigint()) / 1e6
let peakRss = 0
let peakHeapUsed = 0
function sampleMemory(): void {
  const m = process.memoryUsage()
  if (m.rss > peakRss) peakRss = m.rss
  if (m.heapUsed > peakHeapUsed) peakHeapUsed = m.heapUsed
}

const loadStart = now()
const loaded = loadScenario(file)
if (!loaded.ok) throw new Error(`scenario does not load: ${loaded.issues.map((i) => i.message).join("; ")}`)
const spec: ScenarioSpec = { ...loaded.scenario.spec, kubeProxy: { ...loaded.scenario.spec.kubeProxy, mode } }
const loadMs = now() - loadStart
sampleMemory()

const SLICE_NS = 10 * NS_PER_MS

interface PhaseRun {
  readonly world: World
  readonly buildMs: number
  readonly firstSyncMs: number
  readonly firstSyncAtNs: number
}

/** Builds the world and runs it until every node's kube-proxy has synced once. */
function buildAndFirstSync(): PhaseRun {
  const start = now()
  const world = new World(spec, spec.seed)
  const buildMs = now() - start
  sampleMemory()
  const nodes = [...world.nodes.values()]
  while (!nodes.every((n) => n.proxy.syncs.length > 0)) {
    const outcome = world.scheduler.run({
      timeNsMax: world.scheduler.nowNs + SLICE_NS,
      eventCountMax: Number.MAX_SAFE_INTEGER,
    })
    sampleMemory()
    if (outcome.reason === "empty" || outcome.reason === "stopped") throw new Error("world ended before the first sync")
    if (outcome.reason === "time-limit") world.scheduler.nowNs = Math.max(world.scheduler.nowNs, outcome.nowNs)
  }
  return { world, buildMs, firstSyncMs: now() - start, firstSyncAtNs: world.scheduler.nowNs }
}

const phase = buildAndFirstSync()
const world = phase.world
const scheduler = world.scheduler

// Until every workload started (its Service programmed on every node), then traffic to the end.
const programmedStart = now()
let stopped = false
function step(): void {
  const sliceEnd = Math.min(spec.durationNs, scheduler.nowNs + SLICE_NS)
  const outcome = scheduler.run({ timeNsMax: sliceEnd, eventCountMax: Number.MAX_SAFE_INTEGER })
  sampleMemory()
  if (outcome.reason === "stopped" || outcome.reason === "empty" || sliceEnd >= spec.durationNs) stopped = true
  else scheduler.nowNs = sliceEnd
}
while (!stopped && !world.workloads.every((w) => w.started)) step()
const programmedMs = now() - programmedStart
const programmedAtNs = scheduler.nowNs
const eventsBeforeTraffic = scheduler.eventCount
const trafficStart = now()
while (!stopped) step()
const trafficMs = now() - trafficStart
const trafficEvents = scheduler.eventCount - eventsBeforeTraffic

let completed = 0
let sent = 0
const latencyByPosition: { position: number; service: string; completed: number; meanNs: number }[] = []
const probed = probedServices(options)
for (const w of world.workloads) {
  const r = world.collector.results(w.index, world.expectedEndpoints(w))
  completed += r.requests.completed
  sent += r.requests.sent
  const position = probed.find((i) => workloadName(i, options.services) === w.spec.name) ?? -1
  latencyByPosition.push({
    position,
    service: serviceName(position, options.services),
    completed: r.requests.completed,
    meanNs: r.latencyNs.mean,
  })
}
latencyByPosition.sort((x, y) => x.position - y.position)
// Least-squares slope of mean latency over position: simulated ns per KUBE-SERVICES rule walked.
// It must come out as the configured ruleCostNs (a consistency check of the charged walk).
const n = latencyByPosition.length
const mx = latencyByPosition.reduce((s, p) => s + p.position, 0) / n
const my = latencyByPosition.reduce((s, p) => s + p.meanNs, 0) / n
let sxy = 0
let sxx = 0
for (const p of latencyByPosition) {
  sxy += (p.position - mx) * (p.meanNs - my)
  sxx += (p.position - mx) * (p.position - mx)
}
const first = latencyByPosition[0]
const last = latencyByPosition[n - 1]
const firstNode = [...world.nodes.values()][0]
const natRules = firstNode.proxy.syncs[firstNode.proxy.syncs.length - 1]?.natRules ?? 0
const syncsPerNode = firstNode.proxy.syncs.length
const fingerprint = scheduler.fingerprint()
sampleMemory()

// benny: the build + first-sync phase alone (what grows with the number of Services).
let buildSeconds = phase.firstSyncMs / 1000
let benchSamples = 0
if (!noBenny) {
  const timing = await timeRuns(
    `services: ${options.services} services, ${options.nodes} nodes: build + first sync`,
    "build world + first kube-proxy sync on every node",
    () => {
      buildAndFirstSync()
    },
    { minSamples: 3, maxTime: 5, initCount: 1 },
  )
  buildSeconds = timing.secondsMean
  benchSamples = timing.samples
}
rmSync(dir, { recursive: true, force: true })

const ruleCostNs = spec.kubeProxy.ruleCostNs
console.log(
  JSON.stringify({
    benchmark: "services-10k",
    node: process.version,
    mode,
    services: options.services,
    nodes: options.nodes,
    natRulesPerNode: natRules,
    syncsPerNode,
    loadScenarioSeconds: Number((loadMs / 1000).toFixed(3)),
    buildWorldSeconds: Number((phase.buildMs / 1000).toFixed(3)),
    firstSyncAllNodesSeconds: Number((phase.firstSyncMs / 1000).toFixed(3)),
    firstSyncAtSimulatedNs: phase.firstSyncAtNs,
    buildAndFirstSyncSecondsBenny: Number(buildSeconds.toFixed(3)),
    bennySamples: benchSamples,
    untilProgrammedSeconds: Number((programmedMs / 1000).toFixed(3)),
    programmedAtSimulatedNs: programmedAtNs,
    trafficSeconds: Number((trafficMs / 1000).toFixed(3)),
    requestsSent: sent,
    requestsCompleted: completed,
    wallMicrosecondsPerRequest: Number(((trafficMs * 1000) / Math.max(1, completed)).toFixed(2)),
    trafficEvents,
    trafficEventsPerSecond: Math.round(trafficEvents / (trafficMs / 1000)),
    peakRssMB: Math.round(peakRss / 2 ** 20),
    peakHeapUsedMB: Math.round(peakHeapUsed / 2 ** 20),
    latencySlopeNsPerServicePosition: Number((sxy / sxx).toFixed(2)),
    ...(mode === "iptables"
      ? {
          walkConsistencyCheck: {
            note: "reads the configured per-rule cost back through the charged linear walk; a consistency check, not a measurement of iptables",
            configuredRuleCostNs: ruleCostNs,
            latencySlopeNsPerRule: Number((sxy / sxx).toFixed(2)),
            slopeWithin1PercentOfConfigured: Math.abs(sxy / sxx - ruleCostNs) <= 0.01 * ruleCostNs,
            latencyLastMinusFirstNs: Math.round(last.meanNs - first.meanNs),
            expectedWalkDifferenceNs: (last.position - first.position) * ruleCostNs,
          },
        }
      : {}),
    latencyFirstService: { service: first.service, position: first.position, meanNs: Math.round(first.meanNs) },
    latencyLastService: { service: last.service, position: last.position, meanNs: Math.round(last.meanNs) },
    fingerprint,
  }),
)
