/**
 * Results check for changes to how userspace mode schedules its relay (issue 8, "userfuse"): such a
 * change may alter the events the scheduler runs (and so the run's fingerprint, which hashes every
 * event), but never the model's results. This script records, then compares, the results
 * documents of
 *   - `kube-netsim compare scenarios/X.yaml --modes userspace --json` for every scenarios/*.yaml,
 *   - `kube-netsim run scenarios/bench/X.yaml --json` for every star scenario with a top-level
 *     `kubeProxy: { mode: userspace }` appended (as bench/star.ts loadStar does; the documents of
 *     bench/prof-star.ts --mode userspace are these runs, both connections),
 * byte for byte after deleting only these fields of every results document:
 *   - `fingerprint`            (hash of every scheduler event)
 *   - `wall.events`            (count of scheduler events)
 *   - `wall.eventsPerSecond`   (events per wall second)
 *   - `wall.seconds`           (wall-clock time: differs between any two runs)
 * Anything else that differs (latencies, counts, drops, distribution, timeseries, conntrack peaks,
 * syncs...) is a changed result.
 *
 * Usage: npx tsx bench/userspace-results-check.ts record DIR | check DIR [--only SUBSTRING]
 *   record: writes DIR/<case>.json (the stripped documents) and DIR/fingerprints.json;
 *   check:  runs the same cases, compares with DIR, prints differences, exit 1 when any.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const cli = join(root, "bin/kube-netsim.js")

/** The fields deleted from each results document (see the header). */
const DELETED_FIELDS = ["fingerprint", "wall.events", "wall.eventsPerSecond", "wall.seconds"] as const

interface Case {
  readonly name: string
  readonly args: readonly string[]
}

function cases(tmp: string): Case[] {
  const out: Case[] = []
  const scenarios = join(root, "scenarios")
  for (const f of readdirSync(scenarios).sort())
    if (f.endsWith(".yaml"))
      out.push({
        name: `compare-${f.slice(0, -5)}`,
        args: ["compare", join(scenarios, f), "--modes", "userspace", "--json"],
      })
  const bench = join(scenarios, "bench")
  for (const f of readdirSync(bench).sort())
    if (f.endsWith(".yaml")) {
      const text = readFileSync(join(bench, f), "utf8")
      if (/^kubeProxy:/m.test(text)) throw new Error(`${f}: has its own kubeProxy section`)
      const path = join(tmp, f)
      writeFileSync(path, `${text}\nkubeProxy: { mode: userspace }\n`)
      out.push({ name: `run-bench-${f.slice(0, -5)}`, args: ["run", path, "--json"] })
    }
  return out
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** Deletes DELETED_FIELDS from one results document; returns its fingerprint. */
function strip(doc: { [key: string]: Json }): string {
  const fingerprint = String(doc.fingerprint)
  delete doc.fingerprint
  const wall = doc.wall as { [key: string]: Json } | undefined
  if (wall !== undefined) {
    delete wall.events
    delete wall.eventsPerSecond
    delete wall.seconds
  }
  return fingerprint
}

function runCase(c: Case): { text: string; fingerprints: string[] } {
  let stdout: string
  try {
    stdout = execFileSync(process.execPath, [cli, ...c.args], { encoding: "utf8", maxBuffer: 1 << 30 })
  } catch (e) {
    // `run` exits 1 when an expectation fails; its document is still on stdout.
    const err = e as { status?: number; stdout?: string }
    if (err.status !== 1 || err.stdout === undefined) throw e
    stdout = err.stdout
  }
  const doc = JSON.parse(stdout) as { [key: string]: Json }
  const fingerprints: string[] = []
  if (Array.isArray(doc.modes)) {
    for (const m of doc.modes as { results: { [key: string]: Json }[] }[])
      for (const r of m.results) fingerprints.push(strip(r))
  } else fingerprints.push(strip(doc))
  return { text: JSON.stringify(doc, null, 1) + "\n", fingerprints }
}

function main(): void {
  const [command, dir, ...rest] = process.argv.slice(2)
  if ((command !== "record" && command !== "check") || dir === undefined)
    throw new Error("usage: userspace-results-check.ts record|check DIR [--only SUBSTRING]")
  const only = rest[0] === "--only" ? rest[1] : undefined
  const tmp = mkdtempSync(join(tmpdir(), "userspace-check-"))
  const fingerprintsPath = join(dir, "fingerprints.json")
  const fingerprints: Record<string, string[]> =
    command === "check" || existsSync(fingerprintsPath) ? JSON.parse(readFileSync(fingerprintsPath, "utf8")) : {}
  if (command === "record") mkdirSync(dir, { recursive: true })
  let differences = 0
  let checked = 0
  for (const c of cases(tmp)) {
    if (only !== undefined && !c.name.includes(only)) continue
    const t0 = Date.now()
    const r = runCase(c)
    const path = join(dir, `${c.name}.json`)
    const secs = ((Date.now() - t0) / 1000).toFixed(1)
    if (command === "record") {
      writeFileSync(path, r.text)
      fingerprints[c.name] = r.fingerprints
      console.log(`recorded ${c.name} (${secs} s) fingerprints ${r.fingerprints.join(",")}`)
      continue
    }
    checked++
    const before = readFileSync(path, "utf8")
    const same = before === r.text
    const fpSame = JSON.stringify(fingerprints[c.name]) === JSON.stringify(r.fingerprints)
    if (!same) {
      differences++
      writeFileSync(join(tmp, `${c.name}.json`), r.text)
      console.log(`RESULTS DIFFER ${c.name}: diff ${path} ${join(tmp, `${c.name}.json`)}`)
    } else
      console.log(
        `same results ${c.name} (${secs} s); fingerprint ${fpSame ? "unchanged" : `${(fingerprints[c.name] ?? []).join(",")} -> ${r.fingerprints.join(",")}`}`,
      )
  }
  if (command === "record") writeFileSync(fingerprintsPath, JSON.stringify(fingerprints, null, 1) + "\n")
  else {
    console.log(`deleted fields: ${DELETED_FIELDS.join(", ")}`)
    console.log(differences === 0 ? `OK: ${checked} results documents identical` : `FAIL: ${differences} differ`)
    if (differences > 0) process.exitCode = 1
  }
}

main()
