/**
 * In-process A/B of the star across source trees (checkouts of this repository): every tree's
 * bench/star.ts is imported into one process (separate module instances, so separate code and JIT
 * feedback), and each round runs the cut-down star once per tree in a rotated order, so load drifts
 * hit every tree alike. Prints per tree the median, min and max CPU seconds and the median of its
 * paired ratios to the first tree (the first round is a warm-up and not counted).
 * Usage: node --import tsx bench/ab-star.ts MODE keepAlive|new ROUNDS MS DIR_A DIR_B [DIR_C ...]
 * e.g. `git archive BASE | tar -x -C /tmp/base` (plus a node_modules symlink) for the "before" tree.
 */
import type { StarRun } from "./star.ts"
import type { ScenarioSpec } from "../src/cluster/index.ts"

interface StarModule {
  loadStar(connection: string, mode: string): ScenarioSpec
  runStar(spec: ScenarioSpec): StarRun
}

const [mode, connection, roundsText, msText, ...dirs] = process.argv.slice(2)
const rounds = Number(roundsText)
const ms = Number(msText)
if (dirs.length < 2 || !(rounds >= 2) || !(ms > 0))
  throw new Error("usage: ab-star.ts MODE CONNECTION ROUNDS MS DIR_A DIR_B [DIR ...]")
const mods: StarModule[] = []
for (const d of dirs) mods.push((await import(`${d}/bench/star.ts`)) as StarModule)
const specs = mods.map((m) => {
  const s = m.loadStar(connection, mode)
  return { ...s, workloads: [{ ...s.workloads[0], durationNs: ms * 1e6 }], expect: [] }
})
const cpu: number[][] = dirs.map(() => [])
const fingerprints = new Set<string>()
for (let r = 0; r < rounds; r++)
  for (let j = 0; j < dirs.length; j++) {
    const i = (j + r) % dirs.length
    const res = mods[i].runStar(specs[i])
    fingerprints.add(res.fingerprint)
    if (r > 0) cpu[i].push(res.cpuSeconds)
  }
const median = (x: number[]): number => {
  const s = [...x].sort((p, q) => p - q)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const out: Record<string, unknown> = { mode, connection, ms, rounds: rounds - 1, fingerprints: [...fingerprints] }
dirs.forEach((d, i) => {
  out[d] = {
    median: +median(cpu[i]).toFixed(3),
    min: +Math.min(...cpu[i]).toFixed(3),
    max: +Math.max(...cpu[i]).toFixed(3),
    medianRatio: +median(cpu[i].map((v, k) => v / cpu[0][k])).toFixed(3),
  }
})
console.log(JSON.stringify(out))
