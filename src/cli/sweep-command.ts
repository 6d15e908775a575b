/**
 * `kube-netsim sweep SWEEP.yaml [--jobs J] [--shard I/N] [--out DIR] [--json] [--quiet]` and
 * `kube-netsim merge DIR... [--out DIR] [--json] [--quiet]` (docs/sweep.md).
 *
 * Sharding: point k belongs to shard k mod N (round robin, so that a grid whose last axis varies
 * fastest spreads its costly values over every shard); `--shard auto/N` takes I from
 * JOB_COMPLETION_INDEX, which a Kubernetes Indexed Job sets in each pod (0..N-1). A shard writes its
 * points' documents and `shard-I-of-N.json`; `merge` checks that the shards are of one sweep (same
 * digest) and together hold every point once, then writes what a single-machine sweep writes.
 */
import { readdirSync } from "node:fs"
import { join } from "node:path"
import type { ScenarioSpec } from "../cluster/spec.ts"
import type { ResultsDocument } from "../stats/results.ts"
import { BatchProgress } from "./sweep/progress.ts"
import { runTasksInWorkers } from "./sweep/pool.ts"
import {
  absentMetrics,
  MetricNotNumber,
  pointDocument,
  pointFileName,
  renderCsv,
  renderSummary,
  stringifyJson,
  sweepDocument,
  SWEEP_VERSION,
  type PointDocument,
  type SweepHeader,
} from "./sweep/results.ts"
import { loadSweep, type LoadedSweep, type SweepPoint } from "./sweep/sweep-file.ts"
import type { RunTask } from "./sweep/tasks.ts"
import { renderJobManifest } from "./job-manifest.ts"
import { EXIT_INVALID_INPUT, EXIT_OK, guarded, printIssues, writeReport, type CliIo, type Runtime } from "./commands.ts"
import { renderReportHtml } from "../report/page.ts"
import { sweepReportPage } from "../report/sweep-page.ts"
import { reportGenerator } from "../report/vendor.ts"

export interface SweepCommandOptions {
  readonly sweep: string
  readonly jobs: number
  readonly shard: string | undefined
  readonly out: string | undefined
  readonly json: boolean
  readonly quiet: boolean
  /** `--report FILE.html`: the sweep's HTML page (src/report/sweep-page.ts; not with --shard). */
  readonly report?: string | undefined
  /** Print the Kubernetes objects that run this sweep as an Indexed Job instead of running it. */
  readonly jobManifest?: boolean
  readonly image?: string | undefined
  readonly parallelism?: number | undefined
  /** The program version (the default image tag). */
  readonly version?: string
}

export interface Shard {
  readonly index: number
  readonly count: number
}

/** `I/N` or `auto/N` (I from JOB_COMPLETION_INDEX); a string is the error message. */
export function parseShard(text: string, env: Readonly<Record<string, string | undefined>>): Shard | string {
  const match = /^(auto|0|[1-9][0-9]*)\/([1-9][0-9]*)$/.exec(text)
  if (match === null) return `expected I/N (0 <= I < N) or auto/N, got "${text}"`
  const count = Number(match[2])
  if (count > 100_000) return `at most 100000 shards, got ${count}`
  let index: number
  if (match[1] === "auto") {
    const fromEnv = env.JOB_COMPLETION_INDEX
    if (fromEnv === undefined || !/^(0|[1-9][0-9]*)$/.test(fromEnv))
      return `auto/${count} takes the shard from JOB_COMPLETION_INDEX (set by an Indexed Job), which is ${fromEnv === undefined ? "not set" : `"${fromEnv}"`}`
    index = Number(fromEnv)
  } else index = Number(match[1])
  if (index >= count) return `shard index ${index} is not below the shard count ${count}`
  return { index, count }
}

/** The points of `shard` (all without one): point k belongs to shard k mod N. */
export function shardPoints<T extends { readonly index: number }>(points: readonly T[], shard: Shard | undefined): T[] {
  return shard === undefined ? [...points] : points.filter((p) => p.index % shard.count === shard.index)
}

function headerOf(sweep: LoadedSweep): SweepHeader {
  return {
    name: sweep.name,
    digest: sweep.digest,
    scenario: sweep.scenario,
    seeds: sweep.seeds,
    axes: sweep.axes,
    metrics: sweep.metrics.map((m) => m.path),
    points: sweep.points.length,
  }
}

export function sweepCommand(io: CliIo, runtime: Runtime, options: SweepCommandOptions): number {
  return guarded(
    io,
    () => undefined,
    () => {
      if (!(Number.isSafeInteger(options.jobs) && options.jobs >= 1 && options.jobs <= 256)) {
        io.stderr(`kube-netsim sweep: --jobs: must be an integer between 1 and 256, got ${options.jobs}\n`)
        return EXIT_INVALID_INPUT
      }
      let shard: Shard | undefined
      if (options.jobManifest === true && options.shard !== undefined) {
        // With --job-manifest, --shard auto/N only sets the Job's completions.
        const match = /^auto\/([1-9][0-9]*)$/.exec(options.shard)
        if (match === null) {
          io.stderr(
            `kube-netsim sweep: --shard: with --job-manifest, give auto/N (N completions), got "${options.shard}"\n`,
          )
          return EXIT_INVALID_INPUT
        }
        shard = { index: 0, count: Number(match[1]) }
      } else if (options.shard !== undefined) {
        const parsed = parseShard(options.shard, io.env)
        if (typeof parsed === "string") {
          io.stderr(`kube-netsim sweep: --shard: ${parsed}\n`)
          return EXIT_INVALID_INPUT
        }
        shard = parsed
      }
      if (shard !== undefined && options.report !== undefined && options.jobManifest !== true) {
        io.stderr("kube-netsim sweep: --report: a shard holds part of the points; write the page with merge --report\n")
        return EXIT_INVALID_INPUT
      }
      const loaded = loadSweep(options.sweep, io.readFile)
      if (!loaded.ok) {
        printIssues(io, loaded.issues, undefined)
        return EXIT_INVALID_INPUT
      }
      const sweep = loaded.sweep
      if (!options.quiet && options.jobManifest !== true) printIssues(io, sweep.warnings, undefined)
      if (options.jobManifest === true) {
        const text = renderJobManifest(sweep, {
          image: options.image,
          parallelism: options.parallelism,
          shards: shard?.count,
          jobs: options.jobs,
          version: options.version ?? "latest",
        })
        if (typeof text !== "string") {
          io.stderr(`kube-netsim sweep: ${text.flag}: ${text.message}\n`)
          return EXIT_INVALID_INPUT
        }
        io.stdout(text)
        return EXIT_OK
      }
      const header = headerOf(sweep)
      const points = shardPoints(sweep.points, shard)
      const tasks: { point: SweepPoint; seed: number }[] = []
      for (const point of points) for (const seed of sweep.seeds) tasks.push({ point, seed })
      const progress = new BatchProgress(
        io,
        !options.quiet && io.stderrIsTTY,
        `sweep ${sweep.name}${shard === undefined ? "" : ` shard ${shard.index}/${shard.count}`}`,
        tasks.map((t) => t.point.loaded.spec.durationNs),
        points.length,
        (task) => Math.floor(task / sweep.seeds.length),
      )
      let docs: ResultsDocument[]
      try {
        if (options.jobs > 1 && tasks.length > 1) {
          const runTasks: RunTask[] = tasks.map((t) => ({
            scenario: sweep.scenarioPath,
            overrides: t.point.overrides,
            seed: t.seed,
          }))
          docs = runTasksInWorkers(runTasks, options.jobs, {
            onProgress: (index, doneNs) => progress.progress(index, doneNs),
            onDone: (index) => progress.done(index),
          })
        } else {
          docs = tasks.map((t, index) => {
            const spec: ScenarioSpec = { ...t.point.loaded.spec, seed: t.seed }
            const doc = runtime.runScenario(spec, {
              seed: t.seed,
              wallClockMs: io.wallClockMs,
              onProgress: (doneNs) => progress.progress(index, doneNs),
            })
            progress.done(index)
            return doc
          })
        }
      } finally {
        progress.clear()
      }

      let pointDocs: PointDocument[]
      try {
        pointDocs = points.map((point, i) =>
          pointDocument(
            header,
            point.index,
            point.overrides,
            docs.slice(i * sweep.seeds.length, (i + 1) * sweep.seeds.length),
          ),
        )
      } catch (error) {
        if (!(error instanceof MetricNotNumber)) throw error
        const metric = sweep.metrics.find((m) => m.path === error.metric)
        const where =
          metric === undefined ? "" : `${metric.position.file}:${metric.position.line}:${metric.position.column}: `
        io.stderr(`${where}metrics: ${error.message}\n1 error\n`)
        return EXIT_INVALID_INPUT
      }
      // What is written is what merge reads back: parse the texts so both build from equal data.
      const texts = pointDocs.map((doc) => stringifyJson(doc))
      const reread = texts.map((text) => JSON.parse(text) as PointDocument)
      if (!options.quiet)
        for (const metric of absentMetrics(header, reread))
          io.stderr(`kube-netsim sweep: warning: metric ${metric} is in no results document (counted 0)\n`)
      const summary = sweepDocument(header, reread)
      if (options.out !== undefined) {
        io.mkdir(options.out)
        reread.forEach((doc, i) =>
          io.writeFile(join(options.out as string, pointFileName(doc.point)), texts[i] as string),
        )
        if (shard === undefined) writeSweepFiles(io, options.out, summary)
        else
          io.writeFile(
            join(options.out, shardFileName(shard)),
            stringifyJson({
              sweepVersion: SWEEP_VERSION,
              sweep: header,
              shard: shard.index,
              shards: shard.count,
              points: reread.map((doc) => doc.point),
            }),
          )
      }
      if (options.report !== undefined && shard === undefined) writeSweepReport(io, options.report, summary)
      if (options.json) io.stdout(stringifyJson(summary))
      else if (!options.quiet) io.stdout(renderSummary(summary, shard))
      return EXIT_OK
    },
  )
}

export function shardFileName(shard: Shard): string {
  return `shard-${shard.index}-of-${shard.count}.json`
}

/** The sweep's HTML page (metrics per point with their confidence intervals). */
function writeSweepReport(io: CliIo, file: string, summary: ReturnType<typeof sweepDocument>): void {
  writeReport(io, file, renderReportHtml(sweepReportPage({ sweep: summary, generator: reportGenerator() })))
}

function writeSweepFiles(io: CliIo, out: string, summary: ReturnType<typeof sweepDocument>): void {
  io.writeFile(join(out, "sweep.json"), stringifyJson(summary))
  io.writeFile(join(out, "sweep.csv"), renderCsv(summary))
  io.writeFile(join(out, "summary.txt"), renderSummary(summary))
}

export interface MergeCommandOptions {
  readonly dirs: readonly string[]
  readonly out: string | undefined
  readonly json: boolean
  /** `--report FILE.html`: the merged sweep's HTML page. */
  readonly report?: string | undefined
  readonly quiet: boolean
}

/** `merge`: the shards' point documents -> the single-machine sweep's files (in --out, default the first DIR). */
export function mergeCommand(io: CliIo, options: MergeCommandOptions): number {
  return guarded(
    io,
    () => undefined,
    () => {
      const fail = (message: string): number => {
        io.stderr(`kube-netsim merge: ${message}\n`)
        return EXIT_INVALID_INPUT
      }
      if (options.dirs.length === 0) return fail("name at least one directory of shard outputs")
      const found = new Map<number, { dir: string; text: string; doc: PointDocument }>()
      let header: string | undefined
      let headerFrom = ""
      for (const dir of options.dirs) {
        let names: string[]
        try {
          names = readdirSync(dir).filter((name) => /^point-[0-9]+\.json$/.test(name))
        } catch (error) {
          return fail(`cannot read ${dir}: ${error instanceof Error ? error.message : String(error)}`)
        }
        for (const name of names.sort()) {
          const path = join(dir, name)
          const text = io.readFile(path)
          let doc: PointDocument
          try {
            doc = JSON.parse(text) as PointDocument
          } catch (error) {
            return fail(`${path}: not JSON: ${error instanceof Error ? error.message : String(error)}`)
          }
          if (doc.sweepVersion !== SWEEP_VERSION || typeof doc.point !== "number" || typeof doc.sweep !== "object")
            return fail(`${path}: not a sweep point document (sweepVersion ${SWEEP_VERSION})`)
          const h = JSON.stringify(doc.sweep)
          if (header === undefined) {
            header = h
            headerFrom = path
          } else if (h !== header)
            return fail(
              `${path} is of another sweep than ${headerFrom} (sweep ${doc.sweep.name} digest ${doc.sweep.digest} vs ${(JSON.parse(header) as SweepHeader).name} digest ${(JSON.parse(header) as SweepHeader).digest})`,
            )
          const previous = found.get(doc.point)
          if (previous !== undefined && previous.dir !== dir)
            return fail(`point ${doc.point} is in both ${previous.dir} and ${dir}`)
          found.set(doc.point, { dir, text, doc })
        }
      }
      if (header === undefined) return fail(`no point-NNNN.json in ${options.dirs.join(", ")}`)
      const parsedHeader = JSON.parse(header) as SweepHeader
      const missing: number[] = []
      for (let point = 0; point < parsedHeader.points; point++) if (!found.has(point)) missing.push(point)
      if (missing.length > 0) {
        const shown = missing.slice(0, 20).join(", ")
        return fail(
          `${missing.length} of ${parsedHeader.points} points missing (${shown}${missing.length > 20 ? ", ..." : ""}): merge every shard's directory`,
        )
      }
      const points = [...found.values()].sort((a, b) => a.doc.point - b.doc.point)
      const summary = sweepDocument(
        parsedHeader,
        points.map((p) => p.doc),
      )
      const out = options.out ?? (options.dirs[0] as string)
      io.mkdir(out)
      for (const p of points) if (p.dir !== out) io.writeFile(join(out, pointFileName(p.doc.point)), p.text)
      writeSweepFiles(io, out, summary)
      if (options.report !== undefined) writeSweepReport(io, options.report, summary)
      if (options.json) io.stdout(stringifyJson(summary))
      else if (!options.quiet) io.stdout(renderSummary(summary))
      return EXIT_OK
    },
  )
}
