/**
 * The star UDP echo scenarios shared by bench/star-udp-echo.ts and bench/compare-ns3.ts: one
 * ClusterIP Service in front of 10 echo pods, 100 client pods sending one 100-byte datagram per ms
 * for 2 simulated s (200,000 echoes), 10 nodes. Two variants differ only in the workload's
 * `connection`:
 *   keepAlive (scenarios/bench/star-udp-echo.yaml): one socket per client, 100 long-lived flows,
 *     so conntrack entries are created and the nat chains walked once per flow;
 *   new (scenarios/bench/star-udp-echo-new.yaml): a new socket (source port) per echo, so every
 *     echo creates a conntrack entry and walks the nat chains to a random endpoint.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { runScenario } from "../src/cluster/index.ts"
import type { ScenarioSpec } from "../src/cluster/index.ts"
import { simulatedProxyModes, type ProxyMode } from "../src/cluster/proxy-backends.ts"
import { decodeScenarioText, loadScenario, type LoadResult } from "../src/scenario/load.ts"

export type StarConnection = "keepAlive" | "new"
export const STAR_CONNECTIONS: readonly StarConnection[] = ["keepAlive", "new"]

export function starScenarioPath(connection: StarConnection): string {
  const name = connection === "keepAlive" ? "star-udp-echo" : "star-udp-echo-new"
  return fileURLToPath(new URL(`../scenarios/bench/${name}.yaml`, import.meta.url))
}

/**
 * The star scenario of one variant. `mode` runs it under that kube-proxy mode: the scenario text
 * gets a top-level `kubeProxy: { mode: ... }` and goes through the loader like any scenario file
 * (so a mode's own defaults and checks apply); without it, the file as it is (iptables).
 * `profile` replaces the files' cost profile (`constant`, chosen so that the figures stay
 * comparable with ns-3's fixed delays) by another, e.g. `default` with its distributions (issue
 * 12: what drawing the costs adds to an echo).
 */
export function loadStar(connection: StarConnection, mode?: ProxyMode, profile?: string): ScenarioSpec {
  const path = starScenarioPath(connection)
  let loaded: LoadResult
  if (mode === undefined && profile === undefined) loaded = loadScenario(path)
  else {
    let text = readFileSync(path, "utf8")
    if (mode !== undefined) {
      if (/^kubeProxy:/m.test(text)) throw new Error(`${path}: has its own kubeProxy section; cannot override the mode`)
      text = `${text}\nkubeProxy: { mode: ${mode} }\n`
    }
    if (profile !== undefined) {
      const line = "network: { profile: constant }"
      if (!text.includes(line)) throw new Error(`${path}: no "${line}" line; cannot override the profile`)
      if (!/^[A-Za-z0-9._/-]+$/.test(profile)) throw new Error(`--profile: not a profile name or path: ${profile}`)
      text = text.replace(line, `network: { profile: ${profile} }`)
    }
    loaded = decodeScenarioText(path, text)
  }
  if (!loaded.ok) throw new Error(`scenario does not load: ${loaded.issues.map((i) => i.message).join("; ")}`)
  const spec = loaded.scenario.spec
  const workload = spec.workloads[0]
  if (spec.workloads.length !== 1 || workload.connection !== connection)
    throw new Error(`${starScenarioPath(connection)}: expected one workload with connection ${connection}`)
  if (mode !== undefined && spec.kubeProxy.mode !== mode)
    throw new Error(`${path}: kube-proxy mode ${spec.kubeProxy.mode}, expected ${mode}`)
  return spec
}

export interface StarRun {
  readonly echoes: number
  readonly sent: number
  readonly events: number
  /** Wall seconds of the whole runScenario (world build included). */
  readonly wallSeconds: number
  /** CPU seconds (user + system, all threads of this process) of the same run. */
  readonly cpuSeconds: number
  /** Highest number of conntrack entries one node held at once (results document). */
  readonly conntrackPeakEntries: number
  readonly fingerprint: string
  readonly simulatedNs: number
}

const wallClockMs = (): number => Number(process.hrtime.bigint()) / 1e6

/** One whole run of the scenario, timed by wall clock and by this process's CPU time. */
export function runStar(spec: ScenarioSpec): StarRun {
  const cpuStart = process.cpuUsage()
  const wallStart = process.hrtime.bigint()
  const doc = runScenario(spec, { seed: spec.seed, wallClockMs })
  const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9
  const cpu = process.cpuUsage(cpuStart)
  let echoes = 0
  let sent = 0
  for (const w of Object.values(doc.workloads)) {
    echoes += w.requests.completed
    sent += w.requests.sent
  }
  return {
    echoes,
    sent,
    events: doc.wall.events,
    wallSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    conntrackPeakEntries: doc.conntrack.peakEntries,
    fingerprint: doc.fingerprint,
    simulatedNs: doc.simulatedNs,
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** `--name value` from argv, or the fallback. */
export function argValue(argv: readonly string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  const value = argv[i + 1]
  if (value === undefined || value.startsWith("--")) throw new Error(`--${name} needs a value`)
  return value
}

/** `--connection keepAlive|new|both` as a list of variants. */
export function connectionsArg(argv: readonly string[]): StarConnection[] {
  const value = argValue(argv, "connection", "both")
  if (value === "both") return [...STAR_CONNECTIONS]
  if (value === "keepAlive" || value === "new") return [value]
  throw new Error(`--connection: expected keepAlive, new or both, got ${value}`)
}

/**
 * `--mode MODE[,MODE...]|all`: kube-proxy modes to run the star under, each one the runtime
 * simulates (simulatedProxyModes(), cluster/proxy-backends.ts); default all of them.
 */
export function modesArg(argv: readonly string[]): ProxyMode[] {
  const available = simulatedProxyModes()
  const value = argValue(argv, "mode", "all")
  if (value === "all") return available
  const modes = value.split(",")
  for (const m of modes)
    if (!(available as string[]).includes(m))
      throw new Error(`--mode: ${m} is not a simulated kube-proxy mode (simulated: ${available.join(", ")})`)
  return modes as ProxyMode[]
}
