/**
 * `run --runs R --jobs J`: the R seeds on J worker threads (src/cli/sweep/pool.ts), with the batch
 * progress line on a terminal. The documents are the serial loop's, byte for byte, outside `wall`.
 */
import { loadScenario } from "../scenario/load.ts"
import { BatchProgress, type ProgressIo } from "./sweep/progress.ts"
import { runTasksInWorkers } from "./sweep/pool.ts"
import type { RunTask } from "./sweep/tasks.ts"
import type { ResultsDocument } from "../stats/results.ts"
import type { ReadFile } from "../scenario/load.ts"

export function runSeedsInWorkers(
  io: ProgressIo & { readonly readFile: ReadFile },
  scenario: string,
  firstSeed: number,
  runs: number,
  jobs: number,
  quiet: boolean,
): ResultsDocument[] {
  const tasks: RunTask[] = []
  for (let run = 0; run < runs; run++) tasks.push({ scenario, overrides: [], seed: (firstSeed + run) % 2 ** 32 })
  const loaded = loadScenario(scenario, io.readFile)
  const durationNs = loaded.ok ? loaded.scenario.spec.durationNs : 0
  const progress = new BatchProgress(
    io,
    !quiet && io.stderrIsTTY,
    `${runs} runs on ${Math.min(jobs, runs)} threads`,
    tasks.map(() => durationNs),
  )
  try {
    return runTasksInWorkers(tasks, jobs, {
      onProgress: (index, doneNs) => progress.progress(index, doneNs),
      onDone: (index) => progress.done(index),
    })
  } finally {
    progress.clear()
  }
}
