/**
 * `npm run test:durations -- REPORT.json`: writes test/durations.json, each test file's share of a
 * quick-tier run (seconds, from a vitest JSON report: `npx vitest run --reporter=json
 * --outputFile.json=REPORT.json`). vitest.config.ts's sequencer starts the longest files first
 * from it where vitest has no timings of its own (a fresh clone, CI), so that two workers finish
 * together instead of one running a long file alone at the end. Only the order depends on it: a
 * stale file costs balance, never a test.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"

const ROOT = join(import.meta.dirname, "..")
export const DURATIONS = join(ROOT, "test", "durations.json")

interface JsonReport {
  readonly testResults: readonly { readonly name: string; readonly startTime: number; readonly endTime: number }[]
}

/** Seconds per file (path relative to the repository root), longest first. */
export function durationsOf(report: JsonReport): Record<string, number> {
  const rows = report.testResults
    .map((f) => [relative(ROOT, f.name), Math.round((f.endTime - f.startTime) / 100) / 10] as const)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  return Object.fromEntries(rows)
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const path = process.argv[2]
  if (path === undefined) {
    process.stderr.write("usage: npm run test:durations -- REPORT.json\n")
    process.exit(2)
  }
  const durations = durationsOf(JSON.parse(readFileSync(path, "utf8")) as JsonReport)
  writeFileSync(DURATIONS, `${JSON.stringify(durations, null, 1)}\n`)
  process.stdout.write(`${DURATIONS}: ${Object.keys(durations).length} files\n`)
}
