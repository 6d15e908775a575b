/**
 * `sweep` and `merge` in-process on the tiny scenario (2 points x 2 seeds, ~0.1 s a run): the
 * outputs, the override path syntax, shards merged back into exactly the single-machine files, and
 * bad sweep files as input errors with file:line:column and the field path.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { runCli } from "../../src/cli/app.ts"
import { parseShard, shardPoints } from "../../src/cli/sweep-command.ts"
import { parseOverridePath, parsePathSegments } from "../../src/cli/sweep/overrides.ts"
import { captureIo, FIXTURES, withoutWall } from "./helpers.ts"

const SWEEP = join(FIXTURES, "tiny-sweep.yaml")

function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(dir).sort()) out[name] = readFileSync(join(dir, name), "utf8")
  return out
}

describe("sweep", () => {
  let single: string
  let stdout: string

  beforeAll(async () => {
    single = mkdtempSync(join(tmpdir(), "kube-netsim-sweep-"))
    const c = captureIo()
    expect(await runCli(["sweep", SWEEP, "--out", single], c.io)).toBe(0)
    expect(c.err()).toBe("") // not a terminal: no progress line
    stdout = c.out()
  })

  it("writes a document per point, sweep.json, sweep.csv and the table", () => {
    expect(Object.keys(files(single))).toEqual([
      "point-0000.json",
      "point-0001.json",
      "summary.txt",
      "sweep.csv",
      "sweep.json",
    ])
    const point = JSON.parse(readFileSync(join(single, "point-0001.json"), "utf8"))
    expect(point.overrides).toEqual({ "manifests.deployment/web.spec.replicas": 2 })
    expect(point.results.map((r: { seed: number }) => r.seed)).toEqual([1, 2])
    // The override reached the cluster: two endpoints served point 1, one served point 0.
    expect(Object.keys(point.results[0].workloads.wget.distribution.byEndpoint)).toHaveLength(2)
    const point0 = JSON.parse(readFileSync(join(single, "point-0000.json"), "utf8"))
    expect(Object.keys(point0.results[0].workloads.wget.distribution.byEndpoint)).toHaveLength(1)
    // The metric is the mean of the seeds' values, its interval Student's t with 1 degree of freedom.
    const values = point.results.map(
      (r: { workloads: { wget: { latencyNs: { p99: number } } } }) => r.workloads.wget.latencyNs.p99,
    )
    expect(point.metrics["workloads.wget.latencyNs.p99"].values).toEqual(values)
    const csv = readFileSync(join(single, "sweep.csv"), "utf8").split("\n")
    expect(csv[0]).toBe(
      "point,manifests.deployment/web.spec.replicas,workloads.wget.latencyNs.p99 mean,workloads.wget.latencyNs.p99 ci95 low,workloads.wget.latencyNs.p99 ci95 high,workloads.wget.requests.completed mean,workloads.wget.requests.completed ci95 low,workloads.wget.requests.completed ci95 high,workloads.wget.distribution.jain mean,workloads.wget.distribution.jain ci95 low,workloads.wget.distribution.jain ci95 high",
    )
    expect(csv[1]?.startsWith("0,1,")).toBe(true)
    expect(csv[2]?.startsWith("1,2,")).toBe(true)
    expect(stdout).toBe(readFileSync(join(single, "summary.txt"), "utf8"))
    expect(stdout).toContain("Student's t, 1 degree of freedom")
  })

  it("shards (I/N and auto/N from JOB_COMPLETION_INDEX) merge into the single-machine files", async () => {
    const shard0 = mkdtempSync(join(tmpdir(), "kube-netsim-shard0-"))
    const shard1 = mkdtempSync(join(tmpdir(), "kube-netsim-shard1-"))
    expect(await runCli(["sweep", SWEEP, "--shard", "0/2", "--out", shard0, "--quiet"], captureIo().io)).toBe(0)
    const auto = captureIo({ env: { JOB_COMPLETION_INDEX: "1" } })
    expect(await runCli(["sweep", SWEEP, "--shard", "auto/2", "--out", shard1, "--quiet"], auto.io)).toBe(0)
    expect(Object.keys(files(shard0))).toEqual(["point-0000.json", "shard-0-of-2.json"])
    expect(Object.keys(files(shard1))).toEqual(["point-0001.json", "shard-1-of-2.json"])
    const merged = mkdtempSync(join(tmpdir(), "kube-netsim-merged-"))
    const m = captureIo()
    expect(await runCli(["merge", shard0, shard1, "--out", merged], m.io)).toBe(0)
    const a = files(single)
    const b = files(merged)
    expect(Object.keys(b)).toEqual(Object.keys(a))
    for (const name of ["sweep.json", "sweep.csv", "summary.txt"]) expect(b[name]).toBe(a[name])
    for (const name of ["point-0000.json", "point-0001.json"])
      expect(withoutWall(b[name] as string)).toEqual(withoutWall(a[name] as string))
    expect(m.out()).toBe(a["summary.txt"])
  })

  it("merge refuses a missing point and shards of another sweep", async () => {
    const shard0 = mkdtempSync(join(tmpdir(), "kube-netsim-shard0-"))
    writeFileSync(join(shard0, "point-0000.json"), readFileSync(join(single, "point-0000.json"), "utf8"))
    const c = captureIo()
    expect(await runCli(["merge", shard0], c.io)).toBe(2)
    expect(c.err()).toContain("1 of 2 points missing (1)")
    const other = mkdtempSync(join(tmpdir(), "kube-netsim-other-"))
    const doc = JSON.parse(readFileSync(join(single, "point-0001.json"), "utf8"))
    doc.sweep.digest = "0000000000000000"
    writeFileSync(join(other, "point-0001.json"), JSON.stringify(doc))
    const d = captureIo()
    expect(await runCli(["merge", shard0, other], d.io)).toBe(2)
    expect(d.err()).toContain("is of another sweep")
  })
})

describe("sweep files", () => {
  async function errorsOf(text: string, name = "bad-sweep.yaml"): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), "kube-netsim-bad-"))
    for (const f of ["tiny.yaml", "tiny-manifests.yaml"]) writeFileSync(join(dir, f), readFileSync(join(FIXTURES, f)))
    const file = join(dir, name)
    writeFileSync(file, text)
    const c = captureIo()
    expect(await runCli(["sweep", file], c.io)).toBe(2)
    expect(c.out()).toBe("")
    return c.err().replaceAll(dir, "DIR")
  }
  const head = "apiVersion: kube-netsim/v1\nkind: Sweep\nmetadata: { name: bad }\nscenario: tiny.yaml\n"

  it("an unknown scenario field, a bad value, an unknown manifest: at the value, with the field path", async () => {
    const err = await errorsOf(
      `${head}grid:\n  kubeProxy.mood: [iptables]\n  kubeProxy.mode: [iptables, ipvsx]\n  manifests.deployment/nope.spec.replicas: [1]\nmetrics: [workloads.wget.latencyNs.p99]\n`,
    )
    expect(err).toContain(
      'DIR/bad-sweep.yaml:6:20: grid["kubeProxy.mood"][0]: kubeProxy.mood = "iptables": kubeProxy.mood: unknown field',
    )
    expect(err).toMatch(
      /DIR\/bad-sweep\.yaml:7:30: grid\["kubeProxy\.mode"\]\[1\]: kubeProxy\.mode = "ipvsx": kubeProxy\.mode: /,
    )
    expect(err).toContain(
      'DIR/bad-sweep.yaml:8:45: grid["manifests.deployment/nope.spec.replicas"][0]: manifests.deployment/nope.spec.replicas = 1: no manifest deployment/nope',
    )
    expect(err).toContain("3 errors")
  })

  it("a manifest field that does not exist, a bad manifest value", async () => {
    const err = await errorsOf(
      `${head}points:\n  - { manifests.deployment/web.spek.replicas: 2 }\n  - { manifests.deployment/web.spec.replicas: -1 }\nmetrics: [workloads.wget.latencyNs.p99]\n`,
    )
    expect(err).toContain('DIR/bad-sweep.yaml:6:47: points[0]["manifests.deployment/web.spek.replicas"]:')
    expect(err).toContain("deployment/web: no field spek")
    expect(err).toMatch(/bad-sweep\.yaml:7:47: .*spec\.replicas = -1: .*spec\.replicas/)
  })

  it("YAML errors, unknown sweep fields, bad paths and a missing base scenario", async () => {
    expect(await errorsOf(`${head}grid: [\n`)).toMatch(/^DIR\/bad-sweep\.yaml:\d+:\d+: YAML syntax error/)
    const err = await errorsOf(`${head}gird: {}\ngrid:\n  "kubeProxy..mode": [iptables]\nmetrics: ["workloads[x]"]\n`)
    expect(err).toContain("DIR/bad-sweep.yaml:5:1: gird: unknown field")
    expect(err).toContain('DIR/bad-sweep.yaml:7:3: grid["kubeProxy..mode"]: empty key')
    const missing = await errorsOf(
      head.replace("tiny.yaml", "nope.yaml") + "grid: { kubeProxy.mode: [iptables] }\nmetrics: [seed]\n",
    )
    expect(missing).toContain("DIR/bad-sweep.yaml:4:11: scenario: the base scenario DIR/nope.yaml has errors")
    expect(missing).toContain("cannot read scenario file DIR/nope.yaml: no such file")
  })
})

describe("paths and shards", () => {
  it("parses override paths", () => {
    expect(parsePathSegments('workloads[0].arrival["a.b"]')).toEqual(["workloads", 0, "arrival", "a.b"])
    expect(parseOverridePath("manifests.deployment/http-go.spec.replicas")).toEqual({
      type: "manifest",
      address: { kind: "deployment", namespace: undefined, name: "http-go" },
      path: ["spec", "replicas"],
    })
    expect(parseOverridePath('manifests["configmap/kube-system/my.cfg"].data.x')).toMatchObject({
      address: { kind: "configmap", namespace: "kube-system", name: "my.cfg" },
    })
    expect(parseOverridePath("manifests[0].inline.spec.replicas")).toEqual({
      type: "scenario",
      path: ["manifests", 0, "inline", "spec", "replicas"],
    })
    expect(parseOverridePath("seed")).toContain("seeds:")
  })

  it("assigns point k to shard k mod N; auto/N reads JOB_COMPLETION_INDEX", () => {
    const points = Array.from({ length: 7 }, (_, index) => ({ index }))
    expect(shardPoints(points, { index: 1, count: 3 }).map((p) => p.index)).toEqual([1, 4])
    expect(parseShard("2/3", {})).toEqual({ index: 2, count: 3 })
    expect(parseShard("auto/3", { JOB_COMPLETION_INDEX: "2" })).toEqual({ index: 2, count: 3 })
    expect(parseShard("auto/3", {})).toContain("JOB_COMPLETION_INDEX")
    expect(parseShard("3/3", {})).toContain("not below")
    expect(parseShard("1/0", {})).toContain("expected I/N")
  })
})
