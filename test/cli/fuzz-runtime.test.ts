/**
 * The scenario fuzz against the real runtime: mutated shipped scenarios go through `validate`
 * (which builds the whole world: controllers, IPAM, kube-proxy's first sync) and `run` (with a
 * small event budget so every case stays short). Whatever the input, the CLI exits 0, 1 or 2 with
 * a message and never an internal error or a stack trace.
 */
import fc from "fast-check"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { parse, stringify } from "yaml"
import { runCli } from "../../src/cli/app.ts"
import type { CliIo } from "../../src/cli/commands.ts"
import { knobInt } from "../tier.ts"

const ROOT = join(import.meta.dirname, "..", "..")
const BASES = [
  "quickstart.yaml",
  "seed-001-http-go-scale.yaml",
  "seed-003-service-types.yaml",
  "etp-local-vs-cluster.yaml",
  "seed-000-cluster-test-01.yaml",
].map((name) => ({
  name,
  tree: parse(readFileSync(join(ROOT, "scenarios", name), "utf8")) as unknown,
}))

type Mutation = { path: number[]; kind: "delete" | "replace"; value: unknown }

function mutate(root: unknown, m: Mutation): unknown {
  const tree = structuredClone(root)
  let node: unknown = tree
  for (let depth = 0; typeof node === "object" && node !== null; depth++) {
    const container = node as Record<string | number, unknown>
    const keys = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node)
    if (keys.length === 0) break
    const key = keys[(m.path[depth] ?? 0) % keys.length]
    const child = container[key]
    if (depth >= m.path.length - 1 || typeof child !== "object" || child === null) {
      if (m.kind === "replace") container[key] = m.value
      else if (Array.isArray(node)) node.splice(Number(key), 1)
      else delete container[key]
      break
    }
    node = child
  }
  return tree
}

const value = fc.oneof(
  fc.integer({ min: -5, max: 70000 }),
  fc.constantFrom(
    "0",
    "1ms",
    "30s",
    "10.96.0.1",
    "10.0.0.0/8",
    "192.168.0.0/30",
    "LoadBalancer",
    "Local",
    "ClientIP",
    "UDP",
    "pod/nope",
    "deployment/http-go",
    "http://nope/",
    "udp://10.96.0.10:53",
    "icmp://10.0.0.1",
    "aws-vpc",
    "bridge",
    "None",
    "",
  ),
  fc.boolean(),
  fc.constant(null),
)

async function cli(args: readonly string[], file: string, text: string): Promise<{ code: number; err: string }> {
  let err = ""
  const io: CliIo = {
    stdout: () => {},
    stderr: (t) => {
      err += t
    },
    stderrIsTTY: false,
    env: {},
    readFile: (p) => (p === file ? text : readFileSync(p, "utf8")),
    writeFile: () => {},
    mkdir: () => {},
    wallClockMs: () => 0,
  }
  const code = await runCli([...args, file], io)
  return { code, err }
}

describe("fuzz against the real runtime", () => {
  it("mutated scenarios: exit 0, 1 or 2 with a message, never an internal error", { timeout: 600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: BASES.length - 1 }),
        fc.array(
          fc.record({
            path: fc.array(fc.nat(), { minLength: 1, maxLength: 7 }),
            kind: fc.constantFrom("delete" as const, "replace" as const),
            value,
          }),
          { minLength: 1, maxLength: 3 },
        ),
        fc.boolean(),
        async (which, mutations, run) => {
          let tree = BASES[which].tree
          for (const m of mutations) tree = mutate(tree, m)
          // Keep every run short whatever the mutation did to durations and counts.
          if (typeof tree === "object" && tree !== null && !Array.isArray(tree))
            (tree as Record<string, unknown>).limits = { events: 200000 }
          const file = join(ROOT, "scenarios", `fuzz-${BASES[which].name}`)
          const { code, err } = await cli(run ? ["run", "--quiet"] : ["validate"], file, stringify(tree))
          expect(err).not.toMatch(/internal error/)
          expect([0, 1, 2]).toContain(code)
          if (code === 2) expect(err.length).toBeGreaterThan(0)
          expect(err).not.toMatch(/\n\s+at /)
        },
      ),
      { numRuns: knobInt("FUZZ_RUNTIME_RUNS", 20, 300), seed: knobInt("FUZZ_SEED", 7) },
    )
  })
})
