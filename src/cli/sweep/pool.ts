/**
 * Running scenario tasks in worker threads (`run --jobs`, `sweep --jobs`), synchronously: the main
 * thread hands each idle worker the next task, then blocks in Atomics.wait on a shared counter that
 * workers bump after every message, and drains their ports with receiveMessageOnPort. Keeping the
 * call synchronous lets the commands stay plain functions (commands.ts) whatever J is.
 *
 * Determinism: every task is a pure function of (scenario file, overrides, seed), run by the same
 * code as a serial run; results are placed by task index, never by completion order, so the
 * documents, fingerprints and aggregates equal a serial run's byte for byte (only `wall` differs).
 *
 * Workers start from BOOTSTRAP (below), which registers tsx's loader (as bin/kube-netsim.js does)
 * and then loads worker.ts: the TypeScript sources run unbuilt in every thread.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads"
import { ScenarioIssues } from "../../cluster/spec.ts"
import type { ResultsDocument } from "../../stats/results.ts"
import type { RunTask, WorkerReply, WorkerRequest } from "./tasks.ts"

export interface PoolProgress {
  /** Called on every progress report of a running task and when a task completes. */
  readonly onProgress?: (index: number, doneNs: number, totalNs: number) => void
  readonly onDone?: (index: number, results: ResultsDocument) => void
}

/** An error a worker raised (not an input error): the message and the worker's stack. */
export class WorkerError extends Error {
  constructor(
    message: string,
    readonly workerStack: string | undefined,
  ) {
    super(message)
  }
}

/**
 * The worker's first code, inline (a file that fails to load would only raise an 'error' event,
 * which the blocked main thread never sees): registers tsx's loader as bin/kube-netsim.js does, so
 * the worker runs the TypeScript sources unbuilt, then imports worker.ts. Any failure to start, or
 * an exception that escapes a task, is posted as a `fatal` reply and wakes the main thread.
 */
const BOOTSTRAP = `
const { workerData } = require("node:worker_threads")
const fail = (error) => {
  workerData.port.postMessage({ type: "fatal", message: "worker thread failed: " + (error instanceof Error ? error.message : String(error)) })
  const counter = new Int32Array(workerData.signal)
  Atomics.add(counter, 0, 1)
  Atomics.notify(counter, 0)
}
process.on("uncaughtException", fail)
import(workerData.tsxApi)
  .then((api) => { api.register(); return import(workerData.entry) })
  .catch(fail)
`

/**
 * tsx's ESM API (the `import` condition of tsx's `./esm/api` export), resolved from this package:
 * require.resolve would give its CommonJS build, which cannot be imported from an ESM context.
 */
function tsxApiUrl(): string {
  const packageJson = createRequire(import.meta.url).resolve("tsx/package.json")
  const manifest = JSON.parse(readFileSync(packageJson, "utf8")) as {
    exports: Record<string, { import?: { default?: string } | string }>
  }
  const entry = manifest.exports["./esm/api"]?.import
  const file = typeof entry === "string" ? entry : (entry?.default ?? "./dist/esm/api/index.mjs")
  return pathToFileURL(join(dirname(packageJson), file)).href
}

/** How long the main thread sleeps between checks when no message arrives (a worker that died). */
const WAIT_SLICE_MS = 1000

/** Runs `tasks` on `jobs` worker threads; results in task order. Throws what the first failing task threw. */
export function runTasksInWorkers(
  tasks: readonly RunTask[],
  jobs: number,
  progress: PoolProgress = {},
): ResultsDocument[] {
  const count = Math.max(1, Math.min(jobs, tasks.length))
  const signal = new SharedArrayBuffer(4)
  const counter = new Int32Array(signal)
  const workers: { worker: Worker; port: MessagePort; busy: boolean }[] = []
  const results: (ResultsDocument | undefined)[] = new Array(tasks.length).fill(undefined)
  let next = 0
  let done = 0
  let failure: { index: number; error: Error } | undefined
  try {
    for (let i = 0; i < count; i++) {
      const { port1, port2 } = new MessageChannel()
      const worker = new Worker(BOOTSTRAP, {
        eval: true,
        workerData: { port: port2, signal, tsxApi: tsxApiUrl(), entry: new URL("./worker.ts", import.meta.url).href },
        transferList: [port2],
      })
      worker.unref()
      workers.push({ worker, port: port1, busy: false })
    }
    const dispatch = (): void => {
      for (const entry of workers) {
        if (entry.busy || next >= tasks.length || failure !== undefined) continue
        const request: WorkerRequest = { type: "task", index: next, task: tasks[next] as RunTask }
        entry.port.postMessage(request)
        entry.busy = true
        next++
      }
    }
    dispatch()
    let outstanding = tasks.length
    while (outstanding > 0) {
      const seen = Atomics.load(counter, 0)
      let received = false
      for (const entry of workers) {
        for (;;) {
          const message = receiveMessageOnPort(entry.port)
          if (message === undefined) break
          received = true
          const reply = message.message as WorkerReply
          if (reply.type === "fatal") throw new WorkerError(reply.message, undefined)
          if (reply.type === "progress") {
            progress.onProgress?.(reply.index, reply.doneNs, reply.totalNs)
            continue
          }
          entry.busy = false
          outstanding--
          if (reply.type === "done") {
            results[reply.index] = reply.results
            done++
            progress.onDone?.(reply.index, reply.results)
            continue
          }
          const error =
            reply.type === "issues"
              ? new ScenarioIssues([...reply.issues])
              : new WorkerError(reply.message, reply.stack)
          if (failure === undefined || reply.index < failure.index) failure = { index: reply.index, error }
        }
      }
      if (failure !== undefined) {
        // Stop handing out tasks; wait only for those already running.
        outstanding = workers.filter((entry) => entry.busy).length
        if (outstanding === 0) break
      }
      dispatch()
      if (!received && outstanding > 0) Atomics.wait(counter, 0, seen, WAIT_SLICE_MS)
    }
  } finally {
    for (const entry of workers) {
      entry.port.close()
      void entry.worker.terminate()
    }
  }
  if (failure !== undefined) throw failure.error
  if (done !== tasks.length) throw new Error(`worker pool finished ${done} of ${tasks.length} tasks`)
  return results as ResultsDocument[]
}
