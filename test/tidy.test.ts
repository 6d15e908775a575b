/**
 * Checks on the source itself (TigerBeetle's tidy): banned APIs in model code and the one-way
 * import order between layers (DESIGN.md, "Layers").
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { describe, expect, it } from "vitest"

const SRC = join(import.meta.dirname, "..", "src")

/** Lower index = lower layer. A layer may import only itself and layers below it. */
const LAYERS = [
  "sim",
  "wire",
  "net",
  "netfilter",
  "k8s",
  "proxy",
  "dns",
  "apps",
  "lb",
  "stats",
  "cluster",
  "output",
  "trace",
  "scenario",
  // check/: properties over generated scenarios (fast-check); their file schema is scenario/property-schema.ts.
  "check",
  "report",
  "calibrate",
  "cli",
  // The package's library entry (package.json "exports"): above everything it re-exports.
  "lib.ts",
]
/**
 * stats/ and the trace's event format (events.ts, format.ts) see only sim/ and wire/ types; the trace
 * engine (trace/engine.ts) builds a world and so sits above cluster/. Keyed by path prefix.
 */
const RESTRICTED: Record<string, readonly string[]> = {
  "stats/": ["sim", "wire", "stats"],
  "trace/events.ts": ["sim", "wire", "trace"],
  "trace/format.ts": ["sim", "wire", "trace"],
}

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path))
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) out.push(path)
  }
  return out
}

const files = sourceFiles(SRC).map((path) => ({ path: relative(SRC, path), text: readFileSync(path, "utf8") }))

describe("tidy", () => {
  it("has no wall clock or unseeded randomness in model code", () => {
    const offenders = files
      .filter((f) => !f.path.startsWith("cli/"))
      .filter((f) => /Math\.random|Date\.now|performance\.now|new Date\(|crypto\.getRandomValues/.test(f.text))
      .map((f) => f.path)
    expect(offenders).toEqual([])
  })

  it("imports effect only in scenario/ and cli/", () => {
    const offenders = files
      .filter((f) => !f.path.startsWith("scenario/") && !f.path.startsWith("cli/"))
      .filter((f) => /from ["']effect|from ["']@effect\//.test(f.text))
      .map((f) => f.path)
    expect(offenders).toEqual([])
  })

  it("imports layers in one direction only", () => {
    const offenders: string[] = []
    for (const f of files) {
      const layer = f.path.split("/")[0]
      const own = LAYERS.indexOf(layer)
      if (own < 0) {
        offenders.push(`${f.path}: folder ${layer} is not a known layer`)
        continue
      }
      for (const m of f.text.matchAll(/from\s+["'](\.\.?\/[^"']+)["']/g)) {
        const target = join(f.path, "..", m[1]).split("/")[0]
        if (target === layer) continue
        const allowed = Object.entries(RESTRICTED).find(([prefix]) => f.path.startsWith(prefix))?.[1]
        const ok =
          allowed !== undefined ? allowed.includes(target) : LAYERS.indexOf(target) >= 0 && LAYERS.indexOf(target) < own
        if (!ok) offenders.push(`${f.path} imports ${m[1]}`)
      }
    }
    expect(offenders).toEqual([])
  })

  it("has no import cycles between files, type-only imports included", () => {
    // Every `import ... from`, `import type ... from` and `export ... from` of a relative path.
    const graph = new Map<string, string[]>()
    for (const f of files) {
      const targets: string[] = []
      for (const m of f.text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["'](\.\.?\/[^"']+)["']/g))
        targets.push(join(dirname(f.path), m[1]))
      graph.set(f.path, targets)
    }
    // Depth-first search; a back edge to a file still on the stack closes a cycle.
    const state = new Map<string, 1 | 2>()
    const stack: string[] = []
    const cycles: string[] = []
    const visit = (file: string): void => {
      state.set(file, 1)
      stack.push(file)
      for (const next of graph.get(file) ?? []) {
        if (!graph.has(next)) continue
        const s = state.get(next)
        if (s === 1) cycles.push([...stack.slice(stack.indexOf(next)), next].join(" -> "))
        else if (s === undefined) visit(next)
      }
      stack.pop()
      state.set(file, 2)
    }
    for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file)
    expect(cycles).toEqual([])
  })

  it("has no barrels: files import the file that defines a name; cluster/index.ts is the runtime's API and names its exports", () => {
    // A barrel of `export *` made every internal a layer's API and hid where names come from.
    const offenders = files
      .filter((f) => (f.path.endsWith("/index.ts") && f.path !== "cluster/index.ts") || /^export \* from/m.test(f.text))
      .map((f) => f.path)
    expect(offenders).toEqual([])
  })

  it("has no for...in loops or FIXME markers", () => {
    const offenders = files
      .filter((f) => /\bfor\s*\(\s*(const|let|var)\s+\w+\s+in\s/.test(f.text) || /FIXME/.test(f.text))
      .map((f) => f.path)
    expect(offenders).toEqual([])
  })
})
