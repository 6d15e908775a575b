/**
 * The CLI in-process (runCli with captured output and a stub runtime): exit codes 0/1/2/3, the
 * results document, --runs aggregation, --out files, and a fuzz test that feeds mutated scenario
 * files to `validate` and `run` and asserts the CLI never crashes (exit 0, 1 or 2, never 3).
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { parse, stringify } from "yaml"
import { runCli, type CliIo, type Runtime } from "../../src/cli/app.ts"
import { ScenarioIssues, type ScenarioSpec } from "../../src/cluster/spec.ts"
import type { ResultsDocument } from "../../src/stats/results.ts"
import { knobInt } from "../tier.ts"

const ROOT = join(import.meta.dirname, "..", "..")

interface Captured {
  io: CliIo
  out: () => string
  err: () => string
  files: Map<string, string>
}

function capture(extraFiles: Record<string, string> = {}): Captured {
  let out = ""
  let err = ""
  const files = new Map<string, string>()
  const io: CliIo = {
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    stderrIsTTY: false,
    env: {},
    readFile: (path) => {
      const extra = extraFiles[path]
      if (extra !== undefined) return extra
      return readFileSync(path, "utf8")
    },
    writeFile: (path, text) => void files.set(path, text),
    mkdir: () => undefined,
    wallClockMs: () => 0,
  }
  return { io, out: () => out, err: () => err, files }
}

/** A results document in which every workload completed `completed` requests over 3 endpoints. */
function fakeResults(spec: ScenarioSpec, seed: number, completed: number): ResultsDocument {
  const workloads: ResultsDocument["workloads"] = {}
  for (const w of spec.workloads) {
    workloads[w.name] = {
      requests: { sent: completed, completed, failed: 0, failedByReason: {} },
      latencyNs: {
        count: completed,
        min: 1000,
        mean: 2000 + seed,
        p50: 2000,
        p90: 3000,
        p99: 4000,
        p999: 5000,
        max: 6000,
      },
      distribution: { byEndpoint: { a: 1, b: 1, c: 1 }, jain: 1, maxOverMean: 1, cv: 0, chiSquareP: 1 },
    }
  }
  return {
    schemaVersion: 1,
    scenario: spec.name,
    seed,
    fingerprint: "00",
    simulatedNs: spec.durationNs,
    workloads,
    drops: {},
    conntrack: { peakEntries: 0, peakEntriesByNode: {}, entriesByState: {}, insertFailed: 0, dropsTableFull: 0 },
    dns: {},
    steps: [],
    endReason: "completed",
    wall: { seconds: 0, events: 0, eventsPerSecond: 0 },
  }
}

function stubRuntime(completed = 1000): Runtime & { seeds: number[] } {
  const seeds: number[] = []
  return {
    seeds,
    runScenario: (spec, options) => {
      seeds.push(options.seed)
      return fakeResults(spec, options.seed, completed)
    },
    validateScenario: () => [],
    renderRules: (_spec, options) =>
      `# rules of ${options.node} at ${options.atNs}${options.sorted ? " sorted" : ""}\nCOMMIT`,
  }
}

const QUICKSTART = join(ROOT, "scenarios", "quickstart.yaml")

describe("cli", () => {
  it("validate: exit 0 and a one-line summary", async () => {
    const c = capture()
    expect(await runCli(["validate", QUICKSTART], c.io, stubRuntime())).toBe(0)
    expect(c.out()).toBe(`${QUICKSTART}: ok (3 nodes, 3 objects, 1 workloads, 0 timeline steps)\n`)
  })

  it("run: exit 0 when expectations hold; --seed overrides the scenario seed; --json prints the document", async () => {
    const c = capture()
    const runtime = stubRuntime(1000)
    expect(await runCli(["run", QUICKSTART, "--seed", "7", "--json"], c.io, runtime)).toBe(0)
    expect(runtime.seeds).toEqual([7])
    const doc = JSON.parse(c.out()) as ResultsDocument
    expect(doc.seed).toBe(7)
    expect(doc.workloads.wget.requests.completed).toBe(1000)
  })

  it("run: exit 1 and the failed expectation with its position", async () => {
    const c = capture()
    expect(await runCli(["run", QUICKSTART, "--quiet"], c.io, stubRuntime(500))).toBe(1)
    expect(c.out()).toBe("")
    expect(c.err()).toBe(`${QUICKSTART}:63:41: expectation failed: wget: expected completedAtLeast: 990, got 500\n`)
  })

  it("run --runs 3: seeds seed..seed+2, aggregate with confidence intervals, files in --out", async () => {
    const c = capture()
    const runtime = stubRuntime()
    expect(await runCli(["run", QUICKSTART, "--runs", "3", "--out", "outdir", "--json"], c.io, runtime)).toBe(0)
    expect(runtime.seeds).toEqual([1, 2, 3])
    const aggregate = JSON.parse(c.out()) as {
      runs: number
      seeds: number[]
      metrics: Record<string, { mean: number; ci95: [number, number] }>
    }
    expect(aggregate.runs).toBe(3)
    expect(aggregate.metrics["/workloads/wget/latencyNs/mean"].mean).toBe(2002)
    const [low, high] = aggregate.metrics["/workloads/wget/latencyNs/mean"].ci95
    expect(low).toBeLessThan(2002)
    expect(high).toBeGreaterThan(2002)
    expect([...c.files.keys()].sort()).toEqual([
      "outdir/results-seed-1.json",
      "outdir/results-seed-2.json",
      "outdir/results-seed-3.json",
      "outdir/results.json",
    ])
  })

  it("rules: passes --node, --at and --sorted to the runtime", async () => {
    const c = capture()
    expect(
      await runCli(["rules", QUICKSTART, "--node", "node-2", "--at", "1.5s", "--sorted"], c.io, stubRuntime()),
    ).toBe(0)
    expect(c.out()).toBe("# rules of node-2 at 1500000000 sorted\nCOMMIT\n")
    const bad = capture()
    expect(await runCli(["rules", QUICKSTART, "--node", "node-9"], bad.io, stubRuntime())).toBe(2)
    expect(bad.err()).toContain('no node "node-9"')
  })

  it("exit 2 for invalid input, with every error and no stack trace", async () => {
    const c = capture({
      "bad.yaml": "apiVersion: kube-netsim/v1\nkind: Scenario\nmetadata: { name: b }\nduration: 10 sec\nseed: -1\n",
    })
    expect(await runCli(["run", "bad.yaml"], c.io, stubRuntime())).toBe(2)
    expect(c.err()).toBe(
      'bad.yaml:4:11: duration: invalid duration "10 sec": expected a number followed by a unit (ns, us, µs, ms, s, m, h), e.g. 250us, 10ms, 1.5s\n' +
        "bad.yaml:5:7: seed: must be between 0 and 4294967295\n2 errors\n",
    )
  })

  it("exit 2 for ScenarioIssues from the runtime, located in the scenario", async () => {
    const c = capture()
    const runtime: Runtime = {
      ...stubRuntime(),
      runScenario: () => {
        throw new ScenarioIssues([
          { severity: "error", path: ["workloads", 0, "to"], message: "no Service http-go-svc" },
        ])
      },
    }
    expect(await runCli(["run", QUICKSTART], c.io, runtime)).toBe(2)
    expect(c.err()).toBe(`${QUICKSTART}:59:9: workloads[0].to: no Service http-go-svc\n1 error\n`)
  })

  it("exit 3 for an internal error: a short message, the stack only with KUBE_NETSIM_DEBUG=1", async () => {
    const c = capture()
    const runtime: Runtime = {
      ...stubRuntime(),
      runScenario: () => {
        throw new Error("boom")
      },
    }
    expect(await runCli(["run", QUICKSTART], c.io, runtime)).toBe(3)
    expect(c.err()).toBe("kube-netsim: internal error: boom\n(set KUBE_NETSIM_DEBUG=1 to print the stack trace)\n")
  })

  it("exit 2 for usage errors; --help exits 0", async () => {
    const c = capture()
    expect(await runCli(["run"], c.io, stubRuntime())).toBe(2)
    expect(c.err()).toContain("Missing required argument: scenario")
    const h = capture()
    expect(await runCli(["--help"], h.io, stubRuntime())).toBe(0)
    expect(h.out()).toContain("validate")
    const u = capture()
    expect(await runCli(["frobnicate"], u.io, stubRuntime())).toBe(2)
  })
})

/** Mutations of a parsed YAML tree: delete a key, replace a value with a random value, add a key. */
type Mutation = { path: number[]; kind: "delete" | "replace" | "add"; value: unknown }

function applyMutation(root: unknown, m: Mutation): unknown {
  const tree = structuredClone(root)
  let node: unknown = tree
  for (let depth = 0; ; depth++) {
    if (typeof node !== "object" || node === null) return tree
    const keys = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node)
    if (keys.length === 0) return tree
    const key = keys[(m.path[depth] ?? 0) % keys.length]
    const container = node as Record<string | number, unknown>
    const child = container[key]
    const last = depth >= m.path.length - 1 || typeof child !== "object" || child === null
    if (last) {
      if (m.kind === "delete") {
        if (Array.isArray(node)) node.splice(Number(key), 1)
        else delete container[key]
      } else if (m.kind === "replace") container[key] = m.value
      else if (!Array.isArray(node)) container[`extra${m.path.length}`] = m.value
      return tree
    }
    node = child
  }
}

const SCENARIO_TEXTS = [
  "quickstart.yaml",
  "seed-001-http-go-scale.yaml",
  "seed-003-service-types.yaml",
  "seed-001-external-endpoints.yaml",
].map((name) => ({
  name,
  tree: parse(readFileSync(join(ROOT, "scenarios", name), "utf8")) as unknown,
}))

const randomValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(
    "10 sec",
    "-1",
    "1.5s",
    "200/s",
    "10.96.0.0/33",
    "pod/x",
    "http://",
    "udp://a:0",
    "{",
    "deployment/http-go",
    "0",
  ),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 3 }),
)
const mutation = fc.record({
  path: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
  kind: fc.constantFrom("delete" as const, "replace" as const, "add" as const),
  value: randomValue,
})

describe("cli fuzz", () => {
  it("never crashes on mutated scenarios (validate and run, stub runtime)", { timeout: 600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: SCENARIO_TEXTS.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (which, mutations, run) => {
          const base = SCENARIO_TEXTS[which]
          let tree = base.tree
          for (const m of mutations) tree = applyMutation(tree, m)
          const file = join(ROOT, "scenarios", `fuzz-${base.name}`)
          const c = capture({ [file]: stringify(tree) })
          const code = await runCli(run ? ["run", file, "--quiet"] : ["validate", file], c.io, stubRuntime())
          expect([0, 1, 2]).toContain(code)
          if (code !== 0) expect(c.err().length).toBeGreaterThan(0)
          expect(c.err()).not.toMatch(/\n\s+at /)
        },
      ),
      { numRuns: knobInt("FUZZ_CLI_RUNS", 60, 1000), seed: knobInt("FUZZ_SEED", 7) },
    )
  })

  it("never crashes on random text", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.constantFrom(
            "apiVersion: kube-netsim/v1\nkind: Scenario\n",
            "- a\n- b",
            "a: [",
            "&a [*a, *a]",
            "---\n---\n",
            "\t\tkey: v",
          ),
        ),
        async (text) => {
          const c = capture({ "random.yaml": text })
          const code = await runCli(["validate", "random.yaml"], c.io, stubRuntime())
          expect(code).toBe(2)
          expect(c.err()).toMatch(/random\.yaml/)
        },
      ),
      { numRuns: knobInt("FUZZ_TEXT_RUNS", 100, 2000), seed: knobInt("FUZZ_SEED", 7) },
    )
  })
})
