/**
 * The commands' work, as plain functions from parsed options to an exit code: `run`, `validate`,
 * `rules`. `app.ts` wires them to effect/cli; tests call them through `runCli`.
 *
 * Exit codes (DESIGN.md "Commands"): 0 ok; 1 a scenario expectation failed; 2 invalid input
 * (every issue printed as `file:line:column: path: message`); 3 internal error (a short message;
 * the stack only with KUBE_NETSIM_DEBUG=1).
 */
import { dirname, join } from "node:path"
import type { RulesOptions, RunOptions } from "../cluster/index.ts"
import { TraceInputError, type TraceOptions, type TraceResult } from "../trace/engine.ts"
import { ScenarioIssues, type Issue, type ScenarioSpec } from "../cluster/spec.ts"
import { checkExpectations } from "../scenario/expect.ts"
import { formatIssue, sortIssues } from "../scenario/issues.ts"
import { loadScenario, type LoadedScenario, type ReadFile } from "../scenario/load.ts"
import { parseDurationNs } from "../scenario/units.ts"
import { aggregateRuns, renderAggregate } from "../stats/aggregate.ts"
import { stringifyResults } from "../stats/document.ts"
import { renderSummary } from "../stats/render.ts"
import { timeseriesCsv } from "../stats/timeseries.ts"
import { NO_FILTER, parsePcapFilter, PcapCapture, type PcapFilter } from "../output/pcap.ts"
import type { World } from "../cluster/world.ts"
import { COMPARE_VERSION, renderCompare, stringifyCompare, type CompareDocument } from "../stats/compare.ts"
import { simulatedProxyModes, type ProxyMode } from "../cluster/proxy-backends.ts"
import { formatTrace, traceJson } from "../trace/format.ts"
import type { ResultsDocument } from "../stats/results.ts"
import { compareReportPage } from "../report/compare-page.ts"
import { renderReportHtml } from "../report/page.ts"
import { runReportPage, scenarioInfo } from "../report/run-page.ts"
import { reportGenerator } from "../report/vendor.ts"
import { runSeedsInWorkers } from "./run-jobs.ts"

export const EXIT_OK = 0
export const EXIT_EXPECTATION_FAILED = 1
export const EXIT_INVALID_INPUT = 2
export const EXIT_INTERNAL_ERROR = 3

/** The runtime the CLI drives: cluster/index.ts in production, a stub in tests. */
export interface Runtime {
  readonly runScenario: (spec: ScenarioSpec, options: RunOptions) => ResultsDocument
  readonly validateScenario: (spec: ScenarioSpec) => Issue[]
  readonly renderRules: (spec: ScenarioSpec, options: RulesOptions) => string
  /** One packet through the data plane (`trace`); optional so that older stubs still type-check. */
  readonly traceScenario?: (spec: ScenarioSpec, options: TraceOptions) => TraceResult
}

/** Everything the CLI touches outside itself, injectable for in-process tests. */
export interface CliIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly stderrIsTTY: boolean
  readonly env: Readonly<Record<string, string | undefined>>
  readonly readFile: ReadFile
  readonly writeFile: (path: string, text: string) => void
  readonly mkdir: (path: string) => void
  /** Wall clock (ms) for the `wall` section and the progress line; model code reads no clock. */
  readonly wallClockMs: () => number
  /**
   * Opens `path` for writing in pieces (requests.jsonl, pcap files); absent (test stubs): the
   * pieces are joined and written with `writeFile` on close.
   */
  readonly openWrite?: (path: string) => FileStream
}

/** A file written in pieces. */
export interface FileStream {
  write(data: string | Uint8Array): void
  close(): void
}

/**
 * `io.openWrite`, or a buffer written with `io.writeFile` on close (test stubs without openWrite:
 * text is kept as is; binary pieces become latin1 text, which a stub's writeFile may record but a
 * UTF-8 file write would not keep byte for byte).
 */
export function openWrite(io: CliIo, path: string): FileStream {
  if (io.openWrite !== undefined) return io.openWrite(path)
  const pieces: string[] = []
  return {
    write: (data) => void pieces.push(typeof data === "string" ? data : Buffer.from(data).toString("latin1")),
    close: () => io.writeFile(path, pieces.join("")),
  }
}

export interface RunCommandOptions {
  readonly scenario: string
  readonly seed: number | undefined
  readonly runs: number
  readonly out: string | undefined
  readonly json: boolean
  readonly quiet: boolean
  /** Time-series interval (`--interval`, a duration such as 100ms); absent: 100 ms. */
  readonly interval?: string | undefined
  /** `--requests`: per-request records as requests.jsonl in --out. */
  readonly requests?: boolean
  /** `--pcap DIR`: pcapng files, one per node (output/pcap.ts). */
  readonly pcap?: string | undefined
  /** `--pcap-filter node=..,pod=..,iface=..`. */
  readonly pcapFilter?: string | undefined
  /** `--report FILE.html`: the self-contained HTML report (src/report/). */
  readonly report?: string | undefined
  /** Worker threads for the seeds (`--jobs`); absent or 1: serial, in this thread. */
  readonly jobs?: number
}

export interface RulesCommandOptions {
  readonly scenario: string
  readonly node: string
  readonly at: string | undefined
  readonly sorted: boolean
}

/** Runs `body`, turning exceptions into exit codes: ScenarioIssues -> 2, anything else -> 3. */
export function guarded(io: CliIo, loaded: () => LoadedScenario | undefined, body: () => number): number {
  try {
    return body()
  } catch (error) {
    if (error instanceof ScenarioIssues) {
      printIssues(io, error.issues, loaded())
      return EXIT_INVALID_INPUT
    }
    const message = error instanceof Error ? error.message : String(error)
    io.stderr(`kube-netsim: internal error: ${message}\n`)
    if (io.env.KUBE_NETSIM_DEBUG === "1" && error instanceof Error && error.stack !== undefined)
      io.stderr(`${error.stack}\n`)
    else io.stderr("(set KUBE_NETSIM_DEBUG=1 to print the stack trace)\n")
    return EXIT_INTERNAL_ERROR
  }
}

/** Prints issues; positionless issues from cluster/ are located through the scenario's paths. */
export function printIssues(io: CliIo, issues: readonly Issue[], loaded: LoadedScenario | undefined): void {
  const located = issues.map((issue) =>
    issue.position === undefined && loaded !== undefined ? { ...issue, position: loaded.locate(issue.path) } : issue,
  )
  for (const issue of sortIssues(located)) io.stderr(`${formatIssue(issue)}\n`)
  const errors = issues.filter((issue) => issue.severity === "error").length
  if (errors > 0) io.stderr(`${errors} error${errors === 1 ? "" : "s"}\n`)
}

function load(io: CliIo, file: string, printWarnings: boolean): LoadedScenario | number {
  const result = loadScenario(file, io.readFile)
  if (!result.ok) {
    printIssues(io, result.issues, undefined)
    return EXIT_INVALID_INPUT
  }
  if (printWarnings) printIssues(io, result.scenario.warnings, result.scenario)
  return result.scenario
}

export function validateCommand(io: CliIo, runtime: Runtime, file: string): number {
  let loaded: LoadedScenario | undefined
  return guarded(
    io,
    () => loaded,
    () => {
      const result = load(io, file, true)
      if (typeof result === "number") return result
      loaded = result
      const warnings = runtime.validateScenario(result.spec)
      printIssues(io, warnings, result)
      const spec = result.spec
      const count = result.warnings.length + warnings.length
      io.stdout(
        `${file}: ok (${spec.cluster.nodes.length} nodes, ${spec.manifests.length} objects, ${spec.workloads.length} workloads, ${spec.timeline.length} timeline steps${count > 0 ? `, ${count} warning${count === 1 ? "" : "s"}` : ""})\n`,
      )
      return EXIT_OK
    },
  )
}

export function rulesCommand(io: CliIo, runtime: Runtime, options: RulesCommandOptions): number {
  let loaded: LoadedScenario | undefined
  return guarded(
    io,
    () => loaded,
    () => {
      // Absent: the end of kube-proxy's start-up sync (the runtime knows when it ends).
      let atNs: number | undefined
      if (options.at !== undefined) {
        const parsed = parseDurationNs(options.at)
        if (typeof parsed === "string") {
          io.stderr(`kube-netsim rules: --at: ${parsed}\n`)
          return EXIT_INVALID_INPUT
        }
        atNs = parsed
      }
      const result = load(io, options.scenario, false)
      if (typeof result === "number") return result
      loaded = result
      const nodes = result.spec.cluster.nodes.map((node) => node.name)
      if (!nodes.includes(options.node)) {
        io.stderr(
          `kube-netsim rules: --node: no node "${options.node}" in ${options.scenario} (nodes: ${nodes.join(", ")})\n`,
        )
        return EXIT_INVALID_INPUT
      }
      const text = runtime.renderRules(result.spec, {
        node: options.node,
        ...(atNs === undefined ? {} : { atNs }),
        sorted: options.sorted,
      })
      io.stdout(text.endsWith("\n") || text === "" ? text : `${text}\n`)
      return EXIT_OK
    },
  )
}

export interface TraceCommandOptions {
  readonly scenario: string
  readonly from: string
  readonly to: string
  readonly at: string | undefined
  readonly seed: number | undefined
  readonly verbose: boolean
  readonly json: boolean
}

/** `trace`: exit 0 once traced, whatever the packet's fate (a DROP is a result); 2 for bad input. */
export function traceCommand(io: CliIo, runtime: Runtime, options: TraceCommandOptions): number {
  let loaded: LoadedScenario | undefined
  return guarded(
    io,
    () => loaded,
    () => {
      let atNs: number | undefined
      if (options.at !== undefined) {
        const parsed = parseDurationNs(options.at)
        if (typeof parsed === "string") {
          io.stderr(`kube-netsim trace: --at: ${parsed}\n`)
          return EXIT_INVALID_INPUT
        }
        atNs = parsed
      }
      if (
        options.seed !== undefined &&
        !(Number.isSafeInteger(options.seed) && options.seed >= 0 && options.seed <= 0xffffffff)
      ) {
        io.stderr(`kube-netsim trace: --seed: must be an integer between 0 and 4294967295, got ${options.seed}\n`)
        return EXIT_INVALID_INPUT
      }
      const trace = runtime.traceScenario
      if (trace === undefined) {
        io.stderr("kube-netsim trace: this runtime cannot trace\n")
        return EXIT_INTERNAL_ERROR
      }
      const result = load(io, options.scenario, false)
      if (typeof result === "number") return result
      loaded = result
      let traced: TraceResult
      try {
        traced = trace(result.spec, {
          from: options.from,
          to: options.to,
          verbose: options.verbose,
          ...(atNs === undefined ? {} : { atNs }),
          ...(options.seed === undefined ? {} : { seed: options.seed }),
        })
      } catch (error) {
        if (!(error instanceof TraceInputError)) throw error
        io.stderr(`kube-netsim trace: ${error.flag}: ${error.message}\n`)
        return EXIT_INVALID_INPUT
      }
      io.stdout(options.json ? traceJson(traced) : formatTrace(traced, { verbose: options.verbose }))
      return EXIT_OK
    },
  )
}

export function runCommand(io: CliIo, runtime: Runtime, options: RunCommandOptions): number {
  let loaded: LoadedScenario | undefined
  return guarded(
    io,
    () => loaded,
    () => {
      if (
        options.seed !== undefined &&
        !(Number.isSafeInteger(options.seed) && options.seed >= 0 && options.seed <= 0xffffffff)
      ) {
        io.stderr(`kube-netsim run: --seed: must be an integer between 0 and 4294967295, got ${options.seed}\n`)
        return EXIT_INVALID_INPUT
      }
      if (!(Number.isSafeInteger(options.runs) && options.runs >= 1 && options.runs <= 10_000)) {
        io.stderr(`kube-netsim run: --runs: must be an integer between 1 and 10000, got ${options.runs}\n`)
        return EXIT_INVALID_INPUT
      }
      let timeseriesIntervalNs: number | undefined
      if (options.interval !== undefined) {
        const parsed = parseDurationNs(options.interval)
        if (typeof parsed === "string" || parsed <= 0) {
          io.stderr(`kube-netsim run: --interval: ${typeof parsed === "string" ? parsed : "must be longer than 0"}\n`)
          return EXIT_INVALID_INPUT
        }
        timeseriesIntervalNs = parsed
      }
      if (options.requests === true && options.out === undefined) {
        io.stderr("kube-netsim run: --requests: needs --out DIR (requests.jsonl is written there)\n")
        return EXIT_INVALID_INPUT
      }
      let pcapFilter: PcapFilter = NO_FILTER
      if (options.pcapFilter !== undefined) {
        if (options.pcap === undefined) {
          io.stderr("kube-netsim run: --pcap-filter: needs --pcap DIR\n")
          return EXIT_INVALID_INPUT
        }
        const parsed = parsePcapFilter(options.pcapFilter)
        if (typeof parsed === "string") {
          io.stderr(`kube-netsim run: --pcap-filter: ${parsed}\n`)
          return EXIT_INVALID_INPUT
        }
        pcapFilter = parsed
      }
      const result = load(io, options.scenario, !options.quiet)
      if (typeof result === "number") return result
      loaded = result
      const firstSeed = options.seed ?? result.spec.seed
      const jobs = options.jobs ?? 1
      if (!(Number.isSafeInteger(jobs) && jobs >= 1 && jobs <= 256)) {
        io.stderr(`kube-netsim run: --jobs: must be an integer between 1 and 256, got ${jobs}\n`)
        return EXIT_INVALID_INPUT
      }
      // Worker threads return results documents only: the per-run artefacts written while a run
      // goes (pcap, requests.jsonl), a custom interval and the report's latency buckets are not
      // carried back yet, so those runs stay in this thread rather than silently lose them.
      const perRunArtefacts = [
        options.pcap !== undefined ? "--pcap" : "",
        options.requests === true ? "--requests" : "",
        options.interval !== undefined ? "--interval" : "",
        options.report !== undefined ? "--report" : "",
      ].filter((f) => f !== "")
      if (jobs > 1 && options.runs > 1 && perRunArtefacts.length > 0) {
        io.stderr(
          `kube-netsim run: --jobs: not available with ${perRunArtefacts.join(", ")} yet (run without --jobs)\n`,
        )
        return EXIT_INVALID_INPUT
      }
      if (options.out !== undefined) io.mkdir(options.out)
      const pcapDir = options.pcap
      if (pcapDir !== undefined) io.mkdir(pcapDir)
      const docs: ResultsDocument[] =
        jobs > 1 && options.runs > 1
          ? runSeedsInWorkers(io, options.scenario, firstSeed, options.runs, jobs, options.quiet)
          : []
      const progress = new ProgressLine(io, !options.quiet && io.stderrIsTTY)
      for (let run = docs.length; run < options.runs; run++) {
        const seed = (firstSeed + run) % 2 ** 32
        const spec: ScenarioSpec = { ...result.spec, seed }
        const label = options.runs > 1 ? `run ${run + 1}/${options.runs} (seed ${seed})` : `seed ${seed}`
        // docs/outputs.md: requests.jsonl (one run), requests-seed-S.jsonl (each run of --runs).
        const requests =
          options.requests === true && options.out !== undefined
            ? openWrite(io, join(options.out, options.runs > 1 ? `requests-seed-${seed}.jsonl` : "requests.jsonl"))
            : undefined
        try {
          docs.push(
            runtime.runScenario(spec, {
              seed,
              wallClockMs: io.wallClockMs,
              onProgress: (done, total) => progress.update(label, done, total),
              ...(timeseriesIntervalNs === undefined ? {} : { timeseriesIntervalNs }),
              ...(requests === undefined ? {} : { requestSink: requests }),
              ...(pcapDir === undefined
                ? {}
                : {
                    attach: (world: World) => {
                      // docs/outputs.md: DIR/NODE.pcapng (one run), DIR/seed-S/NODE.pcapng (each run of --runs).
                      const dir = options.runs > 1 ? join(pcapDir, `seed-${seed}`) : pcapDir
                      if (options.runs > 1) io.mkdir(dir)
                      const capture = new PcapCapture(world, (file) => openWrite(io, join(dir, file)), pcapFilter)
                      return { finish: () => void capture.finish() }
                    },
                  }),
            }),
          )
        } finally {
          requests?.close()
        }
      }
      progress.clear()

      const aggregate = options.runs > 1 ? aggregateRuns(docs) : undefined
      if (options.out !== undefined) {
        io.mkdir(options.out)
        if (aggregate === undefined) io.writeFile(join(options.out, "results.json"), stringifyResults(docs[0]))
        else {
          io.writeFile(join(options.out, "results.json"), `${JSON.stringify(aggregate, null, 2)}\n`)
          for (const doc of docs)
            io.writeFile(join(options.out, `results-seed-${doc.seed}.json`), stringifyResults(doc))
        }
        // docs/outputs.md: timeseries.csv (one run), timeseries-seed-S.csv (each run of --runs).
        for (const doc of docs) {
          if (doc.timeseries === undefined) continue
          const name = docs.length === 1 ? "timeseries.csv" : `timeseries-seed-${doc.seed}.csv`
          io.writeFile(join(options.out, name), timeseriesCsv(doc.timeseries))
        }
      }
      if (options.json)
        io.stdout(aggregate === undefined ? stringifyResults(docs[0]) : `${JSON.stringify(aggregate, null, 2)}\n`)
      else if (!options.quiet) io.stdout(aggregate === undefined ? renderSummary(docs[0]) : renderAggregate(aggregate))
      if (options.report !== undefined)
        writeReport(
          io,
          options.report,
          renderReportHtml(
            runReportPage({
              scenario: scenarioInfo(result.spec, scenarioText(io, options.scenario)),
              documents: docs,
              generator: reportGenerator(),
            }),
          ),
        )

      let failed = 0
      for (const doc of docs) {
        for (const failure of checkExpectations(result.expectations, doc, result.spec.kubeProxy.mode)) {
          failed++
          const where = failure.expectation.position
          const prefix = where === null ? "" : `${where.file}:${where.line}:${where.column}: `
          io.stderr(`${prefix}expectation failed${options.runs > 1 ? ` (seed ${doc.seed})` : ""}: ${failure.message}\n`)
        }
      }
      return failed > 0 ? EXIT_EXPECTATION_FAILED : EXIT_OK
    },
  )
}

export interface CompareCommandOptions {
  readonly scenario: string
  /** Comma-separated modes (`iptables,ipvs`); undefined = every simulated mode. */
  readonly modes: string | undefined
  readonly seed: number | undefined
  readonly runs: number
  readonly json: boolean
  /** `--report FILE.html`: the compare page of the HTML report (src/report/). */
  readonly report?: string | undefined
}

/** Writes the report, creating its directory if missing (as `--out` does). */
export function writeReport(io: CliIo, file: string, html: string): void {
  const dir = dirname(file)
  if (dir !== "" && dir !== ".") io.mkdir(dir)
  io.writeFile(file, html)
}

/** The scenario file's text for the report (undefined if it cannot be read again). */
function scenarioText(io: CliIo, file: string): string | undefined {
  try {
    return io.readFile(file)
  } catch {
    return undefined
  }
}

/** Every mode kube-proxy has (--proxy-mode), simulated or not. */
const ALL_PROXY_MODES: readonly ProxyMode[] = ["iptables", "ipvs", "nftables", "userspace"]

/**
 * Parses `--modes`: known names, no duplicates, each simulated (the loader's rule for
 * `kubeProxy.mode`: a mode without its proxier and kernel state would report another mode's figures).
 */
export function parseCompareModes(text: string | undefined): ProxyMode[] | string {
  const simulated = simulatedProxyModes()
  if (text === undefined) return simulated
  const names = text.split(",").map((name) => name.trim())
  const out: ProxyMode[] = []
  for (const name of names) {
    if (name === "") return `empty mode name in "${text}" (expected a comma-separated list, e.g. iptables,ipvs)`
    const mode = ALL_PROXY_MODES.find((m) => m === name)
    if (mode === undefined) return `unknown kube-proxy mode "${name}" (modes: ${ALL_PROXY_MODES.join(", ")})`
    if (out.includes(mode)) return `mode ${mode} given twice`
    if (!simulated.includes(mode))
      return `kube-proxy mode ${mode} is not simulated yet (simulated: ${simulated.join(", ")})`
    out.push(mode)
  }
  return out
}

/**
 * `compare`: the scenario under each mode (its `kubeProxy.mode` replaced, everything else as
 * written), seeds SEED..SEED+R-1 each; one table (or the compare document), then each mode's
 * expectations (those whose `modes:` include it) checked against its documents: exit 1 if one fails.
 */
export function compareCommand(io: CliIo, runtime: Runtime, options: CompareCommandOptions): number {
  let loaded: LoadedScenario | undefined
  return guarded(
    io,
    () => loaded,
    () => {
      if (
        options.seed !== undefined &&
        !(Number.isSafeInteger(options.seed) && options.seed >= 0 && options.seed <= 0xffffffff)
      ) {
        io.stderr(`kube-netsim compare: --seed: must be an integer between 0 and 4294967295, got ${options.seed}\n`)
        return EXIT_INVALID_INPUT
      }
      if (!(Number.isSafeInteger(options.runs) && options.runs >= 1 && options.runs <= 10_000)) {
        io.stderr(`kube-netsim compare: --runs: must be an integer between 1 and 10000, got ${options.runs}\n`)
        return EXIT_INVALID_INPUT
      }
      const modes = parseCompareModes(options.modes)
      if (typeof modes === "string") {
        io.stderr(`kube-netsim compare: --modes: ${modes}\n`)
        return EXIT_INVALID_INPUT
      }
      const result = load(io, options.scenario, !options.json)
      if (typeof result === "number") return result
      loaded = result
      const firstSeed = options.seed ?? result.spec.seed
      const progress = new ProgressLine(io, io.stderrIsTTY)
      const perMode = modes.map((mode) => {
        const docs: ResultsDocument[] = []
        for (let run = 0; run < options.runs; run++) {
          const seed = (firstSeed + run) % 2 ** 32
          const spec: ScenarioSpec = { ...result.spec, seed, kubeProxy: { ...result.spec.kubeProxy, mode } }
          const label = `${mode} ${options.runs > 1 ? `run ${run + 1}/${options.runs} ` : ""}(seed ${seed})`
          docs.push(
            runtime.runScenario(spec, {
              seed,
              wallClockMs: io.wallClockMs,
              onProgress: (done, total) => progress.update(label, done, total),
            }),
          )
        }
        return { mode, results: docs }
      })
      progress.clear()
      const doc: CompareDocument = {
        compareVersion: COMPARE_VERSION,
        scenario: result.spec.name,
        seed: firstSeed,
        runs: options.runs,
        modes: perMode,
      }
      io.stdout(options.json ? stringifyCompare(doc) : renderCompare(doc))
      if (options.report !== undefined)
        writeReport(
          io,
          options.report,
          renderReportHtml(
            compareReportPage({
              scenario: scenarioInfo(result.spec, scenarioText(io, options.scenario)),
              compare: doc,
              generator: reportGenerator(),
            }),
          ),
        )

      let failed = 0
      for (const { mode, results } of perMode)
        for (const run of results)
          for (const failure of checkExpectations(result.expectations, run, mode)) {
            failed++
            const where = failure.expectation.position
            const prefix = where === null ? "" : `${where.file}:${where.line}:${where.column}: `
            io.stderr(
              `${prefix}expectation failed (mode ${mode}${options.runs > 1 ? `, seed ${run.seed}` : ""}): ${failure.message}\n`,
            )
          }
      return failed > 0 ? EXIT_EXPECTATION_FAILED : EXIT_OK
    },
  )
}

/**
 * The progress line on stderr: only when stderr is a terminal and --quiet is not given, and only
 * once a run has taken more than a second of wall time; redrawn at most 10 times a second.
 */
class ProgressLine {
  private startMs: number | undefined
  private rateLabel = ""
  private rateStartMs = 0
  private rateStartNs = 0
  private lastMs = 0
  private shown = false

  constructor(
    private readonly io: CliIo,
    private readonly enabled: boolean,
  ) {}

  update(label: string, doneNs: number, totalNs: number): void {
    if (!this.enabled) return
    const now = this.io.wallClockMs()
    this.startMs ??= now
    if (label !== this.rateLabel) {
      this.rateLabel = label
      this.rateStartMs = now
      this.rateStartNs = doneNs
    }
    if (now - this.startMs < 1000 || now - this.lastMs < 100) return
    this.lastMs = now
    const percent = totalNs > 0 ? Math.min(100, Math.floor((doneNs / totalNs) * 100)) : 0
    // Simulated seconds per wall second over this run so far, and the ETA of its end from that rate.
    const wallS = (now - this.rateStartMs) / 1000
    const rate = wallS > 0 ? (doneNs - this.rateStartNs) / 1e9 / wallS : 0
    const eta = rate > 0 ? `, ETA ${Math.ceil((totalNs - doneNs) / 1e9 / rate)}s` : ""
    this.io.stderr(
      `\r\x1b[K${label}: ${(doneNs / 1e9).toFixed(2)}s of ${(totalNs / 1e9).toFixed(2)}s simulated (${percent}%)${rate > 0 ? `, ${rate.toFixed(2)} s simulated/s wall${eta}` : ""}`,
    )
    this.shown = true
  }

  clear(): void {
    if (this.shown) this.io.stderr("\r\x1b[K")
    this.shown = false
  }
}
