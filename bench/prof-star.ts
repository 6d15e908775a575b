/**
 * Profiling/fingerprint helper for the star (issue 8): runs each mode x connection `--runs N` times
 * and prints fingerprint and CPU seconds per run. Run with `node --cpu-prof --import tsx` to profile.
 * Usage: npx tsx bench/prof-star.ts [--mode all|MODE,...] [--connection keepAlive|new|both] [--runs N]
 *   [--profile NAME|PATH] (the cost profile in place of the star files' `constant`)
 */
import { argValue, connectionsArg, loadStar, modesArg, runStar } from "./star.ts"

const argv = process.argv.slice(2)
const runs = Number(argValue(argv, "runs", "1"))
const profile = argv.includes("--profile") ? argValue(argv, "profile", "") : undefined
for (const mode of modesArg(argv))
  for (const connection of connectionsArg(argv)) {
    const spec = loadStar(connection, mode, profile)
    const cpu: number[] = []
    let fingerprint = ""
    let echoes = 0
    for (let i = 0; i < runs; i++) {
      const r = runStar(spec)
      cpu.push(Number(r.cpuSeconds.toFixed(3)))
      fingerprint = r.fingerprint
      echoes = r.echoes
    }
    console.log(JSON.stringify({ mode, connection, echoes, fingerprint, cpu }))
  }
