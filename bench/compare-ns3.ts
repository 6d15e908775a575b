/**
 * Side-by-side star UDP echo: kube-netsim (bench/star.ts) and its ns-3 counterpart
 * (bench/ns3/star-udp-echo.cc) measured in one invocation, in alternating order (ours first in
 * even rounds, ns-3 first in odd ones), so both see the same machine load and the ratio means
 * something on a shared machine. No target or constant is involved: the ratio is ours / ns-3 as
 * measured here, or absent when ns-3 cannot be built (bench/ns3/run.sh exits 2 when pkg-config,
 * g++ or the ns-3 modules are missing; `apt-get install ns3 libns3-dev g++ pkg-config`).
 *
 * Variants: --connection keepAlive (ns-3 --connection=reuse) and new (ns-3 --connection=new);
 * --topology nodes (default: ns-3 routers shaped like the cluster's 10 nodes) or star (one
 * 110-interface router, the first counterpart). Per round and side: echoes per wall second and per
 * CPU second of the timed part (ours: a whole runScenario, world build included; ns-3:
 * Simulator::Run(), setup excluded, under 1 % of it). CPU time counts this process's threads (the
 * GC's too) and is the less load-sensitive figure; wall time is what a user waits.
 *
 * Modes: --mode runs our star under each kube-proxy mode given (comma-separated, or `all`, the
 * default: every mode the runtime simulates, simulatedProxyModes() in cluster/proxy-backends.ts).
 * ns-3 has no kube-proxy, so it runs once per round and every mode's ratio pairs with that run.
 *
 * Usage: npx tsx bench/compare-ns3.ts [--rounds 5] [--connection keepAlive|new|both]
 *                                     [--topology nodes|star|both] [--mode all|iptables,ipvs,...]
 *                                     [--profile NAME|PATH] (ours only: the cost profile in place of
 *                                     the star files' `constant`, e.g. `default`; ns-3 unchanged)
 * Output: a JSON line per round and side, then a summary JSON line per mode and variant (the last
 * line printed is a JSON object); progress, and a table with one row per mode, on stderr.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { argValue, connectionsArg, loadStar, median, modesArg, runStar } from "./star.ts"

const argv = process.argv.slice(2)
const rounds = Number(argValue(argv, "rounds", "5"))
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a positive integer, got ${rounds}`)
const topologyArg = argValue(argv, "topology", "nodes")
if (topologyArg !== "nodes" && topologyArg !== "star" && topologyArg !== "both")
  throw new Error(`--topology: expected nodes, star or both, got ${topologyArg}`)
const topologies = topologyArg === "both" ? ["nodes", "star"] : [topologyArg]
const connections = connectionsArg(argv)
const modes = modesArg(argv)
const profileArg = argv.includes("--profile") ? argValue(argv, "profile", "") : undefined

const load = (): number[] => loadavg().map((l) => Number(l.toFixed(2)))
const log = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

// Build the ns-3 program (bench/ns3/run.sh build prints its build directory last on stdout).
const runSh = fileURLToPath(new URL("./ns3/run.sh", import.meta.url))
const buildDir = mkdtempSync(join(tmpdir(), "kube-netsim-ns3-"))
const build = spawnSync("bash", [runSh, "build"], { env: { ...process.env, BUILD_DIR: buildDir }, encoding: "utf8" })
let ns3Binary: string | null = null
let ns3Unavailable: string | null = null
if (build.status === 0) ns3Binary = join(buildDir, "star-udp-echo")
else {
  ns3Unavailable = `bench/ns3/run.sh build exited ${build.status}: ${build.stderr.trim().split("\n").pop() ?? ""}`
  log(`ns-3 not available, so no ratio is printed (${ns3Unavailable})`)
}

interface Side {
  readonly echoes: number
  readonly wallSeconds: number
  readonly cpuSeconds: number
  readonly events: number
}

interface Ns3Line {
  readonly echoes: number
  readonly sent: number
  readonly events: number
  readonly runSeconds: number
  readonly runCpuSeconds: number
  readonly routerInterfaces: number
}

function runNs3(binary: string, topology: string, connection: string): Side {
  const ns3Connection = connection === "keepAlive" ? "reuse" : "new"
  const run = spawnSync(binary, [`--topology=${topology}`, `--connection=${ns3Connection}`], { encoding: "utf8" })
  if (run.status !== 0) throw new Error(`ns-3 star exited ${run.status}: ${run.stderr}`)
  const line = JSON.parse(run.stdout.trim().split("\n").pop() ?? "") as Ns3Line
  if (line.echoes !== line.sent) throw new Error(`ns-3 star: ${line.sent - line.echoes} echoes missing`)
  return { echoes: line.echoes, wallSeconds: line.runSeconds, cpuSeconds: line.runCpuSeconds, events: line.events }
}

const rate = (s: Side, key: "wallSeconds" | "cpuSeconds"): number => s.echoes / s[key]

const summaries: Record<string, unknown>[] = []
for (const connection of connections) {
  // One spec per mode, each warmed up and checked: two untimed runs (JIT, determinism).
  const specs = modes.map((mode) => {
    const spec = loadStar(connection, mode, profileArg)
    const first = runStar(spec)
    if (runStar(spec).fingerprint !== first.fingerprint)
      throw new Error(`star (${connection}, ${mode}) is not deterministic`)
    // Every echo must come back, so that both sides do the same work. Userspace mode's proxy can
    // drop a datagram (a copy queued for a client connection whose idle timer ends it first, as
    // the Go proxy's Write to a connection closed on its deadline fails), so there one in 10,000
    // is tolerated and the count is reported.
    const missing = first.sent - first.echoes
    if (missing > (mode === "userspace" ? Math.floor(first.sent / 10_000) : 0))
      throw new Error(`star (${connection}, ${mode}): ${missing} echoes missing`)
    if (missing > 0) log(`star (${connection}, ${mode}): ${missing} of ${first.sent} echoes lost in the proxy`)
    return { mode, spec, echoes: first.echoes }
  })
  for (const topology of ns3Binary === null ? [null] : topologies) {
    const loadStart = load()
    // ours[m][round]; theirs[round]: every mode and ns-3 once per round, so each mode's ratio
    // pairs it with the ns-3 run of its own round.
    const ours: Side[][] = modes.map(() => [])
    const theirs: Side[] = []
    for (let round = 0; round < rounds; round++) {
      const runOurs = (m: number): void => {
        const { mode, spec } = specs[m]
        const r = runStar(spec)
        ours[m].push(r)
        console.log(
          JSON.stringify({
            benchmark: "compare-ns3-round",
            side: "kube-netsim",
            mode,
            connection,
            round,
            echoes: r.echoes,
            events: r.events,
            wallSeconds: Number(r.wallSeconds.toFixed(4)),
            cpuSeconds: Number(r.cpuSeconds.toFixed(4)),
            loadavg: load(),
          }),
        )
      }
      const runTheirs = (): void => {
        if (ns3Binary === null || topology === null) return
        const r = runNs3(ns3Binary, topology, connection)
        theirs.push(r)
        console.log(
          JSON.stringify({
            benchmark: "compare-ns3-round",
            side: "ns-3",
            connection,
            topology,
            round,
            echoes: r.echoes,
            events: r.events,
            wallSeconds: r.wallSeconds,
            cpuSeconds: r.cpuSeconds,
            loadavg: load(),
          }),
        )
      }
      log(
        `connection ${connection}${topology === null ? "" : `, ns-3 topology ${topology}`}, modes ${modes.join(",")}: round ${round + 1}/${rounds}`,
      )
      // Alternate the order (ours first in even rounds, ns-3 first in odd ones); within ours, the
      // modes in turn, rotated per round.
      const order = modes.map((_, m) => (m + round) % modes.length)
      if (round % 2 === 0) {
        for (const m of order) runOurs(m)
        runTheirs()
      } else {
        runTheirs()
        for (const m of order) runOurs(m)
      }
    }
    const figures = (sides: Side[]) => ({
      echoesPerWallSecondMedian: Math.round(median(sides.map((s) => rate(s, "wallSeconds")))),
      echoesPerWallSecondRange: [
        Math.round(Math.min(...sides.map((s) => rate(s, "wallSeconds")))),
        Math.round(Math.max(...sides.map((s) => rate(s, "wallSeconds")))),
      ],
      echoesPerCpuSecondMedian: Math.round(median(sides.map((s) => rate(s, "cpuSeconds")))),
      echoesPerCpuSecondRange: [
        Math.round(Math.min(...sides.map((s) => rate(s, "cpuSeconds")))),
        Math.round(Math.max(...sides.map((s) => rate(s, "cpuSeconds")))),
      ],
      events: sides[0].events,
    })
    // Paired ratios (same round, adjacent in time), then their median: robust to load drifting.
    const pairRatio = (mine: Side[], key: "wallSeconds" | "cpuSeconds"): number | null =>
      theirs.length === 0 ? null : Number(median(mine.map((o, i) => rate(o, key) / rate(theirs[i], key))).toFixed(2))
    specs.forEach(({ mode, echoes }, m) => {
      const summary = {
        benchmark: "compare-ns3-star",
        mode,
        connection,
        ns3Connection: connection === "keepAlive" ? "reuse" : "new",
        ns3Topology: topology,
        profile: profileArg ?? "constant",
        rounds,
        echoes,
        kubeNetsim: figures(ours[m]),
        ns3: theirs.length === 0 ? null : figures(theirs),
        ratioWall: pairRatio(ours[m], "wallSeconds"),
        ratioCpu: pairRatio(ours[m], "cpuSeconds"),
        ns3Unavailable,
        loadavgStart: loadStart,
        loadavgEnd: load(),
        node: process.version,
        command: `npx tsx bench/compare-ns3.ts --rounds ${rounds} --connection ${connection} --topology ${topology ?? "nodes"} --mode ${mode}${profileArg === undefined ? "" : ` --profile ${profileArg}`}`,
      }
      summaries.push(summary)
      console.log(JSON.stringify(summary))
    })
  }
}
// One row per mode and variant, for people (stderr; stdout's last line stays a JSON object).
const cell = (n: unknown): string => (typeof n === "number" ? n.toLocaleString("en-US") : "-")
log(
  "\n| mode | connection | ours echoes/wall s | ns-3 echoes/wall s | ratio (wall) | ours echoes/CPU s | ns-3 echoes/CPU s | ratio (CPU) |",
)
log("| --- | --- | --- | --- | --- | --- | --- | --- |")
for (const s of summaries) {
  const ours = s.kubeNetsim as { echoesPerWallSecondMedian: number; echoesPerCpuSecondMedian: number }
  const ns3 = s.ns3 as { echoesPerWallSecondMedian: number; echoesPerCpuSecondMedian: number } | null
  log(
    `| ${String(s.mode)} | ${String(s.connection)} | ${cell(ours.echoesPerWallSecondMedian)} | ${cell(ns3?.echoesPerWallSecondMedian)} | ${cell(s.ratioWall)} | ${cell(ours.echoesPerCpuSecondMedian)} | ${cell(ns3?.echoesPerCpuSecondMedian)} | ${cell(s.ratioCpu)} |`,
  )
}
rmSync(buildDir, { recursive: true, force: true })
