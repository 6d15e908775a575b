import { readFileSync } from "node:fs"
import { join } from "node:path"
import { runCli } from "../../src/cli/app.ts"
import type { CliIo } from "../../src/cli/commands.ts"
import type { ScenarioSpec } from "../../src/cluster/spec.ts"
import { decodeScenarioText, loadScenario } from "../../src/scenario/load.ts"

export const ROOT = join(import.meta.dirname, "..", "..")

export function scenarioSpec(path: string): ScenarioSpec {
  const loaded = loadScenario(join(ROOT, path))
  if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join("\n"))
  return loaded.scenario.spec
}

export function specFromText(text: string, file = "inline.yaml"): ScenarioSpec {
  const loaded = decodeScenarioText(join(ROOT, "scenarios", file), text)
  if (!loaded.ok) throw new Error(loaded.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"))
  return loaded.scenario.spec
}

export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI in-process with captured output (the real runtime). */
export async function cli(args: readonly string[]): Promise<CliRun> {
  let stdout = ""
  let stderr = ""
  const io: CliIo = {
    stdout: (t) => {
      stdout += t
    },
    stderr: (t) => {
      stderr += t
    },
    stderrIsTTY: false,
    env: {},
    readFile: (p) => readFileSync(p, "utf8"),
    writeFile: () => {},
    mkdir: () => {},
    wallClockMs: () => 0,
  }
  const code = await runCli(args, io)
  return { code, stdout, stderr }
}
