/**
 * A worker thread of the pool (pool.ts): receives tasks on its port, loads the scenario (with the
 * task's overrides) from the file, runs it with the real runtime and posts the results document
 * back, then bumps the shared counter so that the blocked main thread wakes up.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads"
import { runScenario } from "../../cluster/index.ts"
import { ScenarioIssues, type ScenarioSpec } from "../../cluster/spec.ts"
import { readFileUtf8 } from "../../scenario/load.ts"
import { loadIssues, loadWithOverrides } from "./overrides.ts"
import type { RunTask, WorkerReply, WorkerRequest } from "./tasks.ts"

interface WorkerData {
  readonly port: MessagePort
  readonly signal: SharedArrayBuffer
}

const { port, signal } = workerData as WorkerData
const counter = new Int32Array(signal)

function post(reply: WorkerReply): void {
  port.postMessage(reply)
  Atomics.add(counter, 0, 1)
  Atomics.notify(counter, 0)
}

/** The last decoded scenario: consecutive seeds of one point decode it once. */
let cached: { key: string; spec: ScenarioSpec } | undefined

function specFor(task: RunTask): ScenarioSpec {
  const key = JSON.stringify([task.scenario, task.overrides])
  if (cached?.key === key) return cached.spec
  const result = loadWithOverrides(task.scenario, task.overrides, readFileUtf8)
  if (!result.ok) throw new ScenarioIssues([...loadIssues(result)])
  cached = { key, spec: result.scenario.spec }
  return result.scenario.spec
}

function runTask(index: number, task: RunTask): void {
  try {
    const spec: ScenarioSpec = { ...specFor(task), seed: task.seed }
    const results = runScenario(spec, {
      seed: task.seed,
      wallClockMs: () => Date.now(),
      onProgress: (doneNs, totalNs) => post({ type: "progress", index, doneNs, totalNs }),
    })
    post({ type: "done", index, results })
  } catch (error) {
    if (error instanceof ScenarioIssues) post({ type: "issues", index, issues: error.issues })
    else
      post({
        type: "error",
        index,
        message: error instanceof Error ? error.message : String(error),
        ...(error instanceof Error && error.stack !== undefined ? { stack: error.stack } : {}),
      })
  }
}

port.on("message", (request: WorkerRequest) => {
  if (request.type === "task") runTask(request.index, request.task)
})
parentPort?.on("message", () => port.close())
