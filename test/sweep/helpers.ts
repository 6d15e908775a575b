// Shared by the sweep tests: the CLI in-process with captured output, real files, a fixed clock.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { CliIo } from "../../src/cli/app.ts"

export const FIXTURES = join(import.meta.dirname, "fixtures")

export interface Captured {
  readonly io: CliIo
  readonly out: () => string
  readonly err: () => string
}

/** Real files (workers read them from disk too); `tty` makes stderr look like a terminal. */
export function captureIo(
  options: { tty?: boolean; env?: Record<string, string>; clockStepMs?: number } = {},
): Captured {
  let out = ""
  let err = ""
  let now = 0
  const io: CliIo = {
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    stderrIsTTY: options.tty ?? false,
    env: options.env ?? {},
    readFile: (path) => readFileSync(path, "utf8"),
    writeFile: (path, text) => writeFileSync(path, text),
    mkdir: (path) => void mkdirSync(path, { recursive: true }),
    wallClockMs: () => (now += options.clockStepMs ?? 0),
  }
  return { io, out: () => out, err: () => err }
}

/** A JSON text with every `wall` section (and aggregate `/wall/...` metric) removed. */
export function withoutWall(text: string): unknown {
  return JSON.parse(text, (key, value: unknown) => (key === "wall" || key.startsWith("/wall/") ? undefined : value))
}
