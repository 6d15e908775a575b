/**
 * What a worker thread runs: one scenario (a file, optionally with sweep overrides applied) under
 * one seed. Tasks and their answers cross threads by structured clone, so they hold plain data only;
 * the worker loads the scenario from the file itself (a ScenarioSpec carries functions).
 */
import type { Issue } from "../../cluster/spec.ts"
import type { ResultsDocument } from "../../stats/results.ts"
import type { PointOverride } from "./overrides.ts"

export interface RunTask {
  /** Scenario file, as the user typed it (workers share the process's working directory). */
  readonly scenario: string
  /** Sweep overrides applied to the scenario before decoding (empty for `run`). */
  readonly overrides: readonly PointOverride[]
  readonly seed: number
}

export type WorkerRequest = { readonly type: "task"; readonly index: number; readonly task: RunTask }

export type WorkerReply =
  | { readonly type: "progress"; readonly index: number; readonly doneNs: number; readonly totalNs: number }
  | { readonly type: "done"; readonly index: number; readonly results: ResultsDocument }
  | { readonly type: "issues"; readonly index: number; readonly issues: readonly Issue[] }
  | { readonly type: "error"; readonly index: number; readonly message: string; readonly stack?: string }
  /** The worker could not start (pool.ts BOOTSTRAP): no task of it will complete. */
  | { readonly type: "fatal"; readonly message: string }
