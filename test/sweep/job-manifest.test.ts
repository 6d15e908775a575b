/**
 * `sweep --job-manifest`: the printed objects validate against the Kubernetes API's OpenAPI schema
 * (kubernetes-models, generated from the upstream OpenAPI spec; its validate() runs ajv on it), and
 * the Job runs one shard per completion index with the sweep's files at their relative paths.
 */
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { Job } from "kubernetes-models/batch/v1/Job"
import { ConfigMap } from "kubernetes-models/v1/ConfigMap"
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim"
import { runCli } from "../../src/cli/app.ts"
import { captureIo, FIXTURES } from "./helpers.ts"

const SWEEP = join(FIXTURES, "tiny-sweep.yaml")

async function manifest(args: string[]): Promise<Record<string, any>[]> {
  const c = captureIo()
  expect(await runCli(["sweep", SWEEP, "--job-manifest", ...args], c.io)).toBe(0)
  expect(c.err()).toBe("")
  return parseAllDocuments(c.out()).map((doc) => doc.toJS() as Record<string, any>)
}

describe("sweep --job-manifest", () => {
  it("prints a ConfigMap, a claim and an Indexed Job valid against the Kubernetes schema", async () => {
    const objects = await manifest(["--image", "registry.example/kube-netsim:1", "--parallelism", "2", "--jobs", "2"])
    expect(objects.map((o) => o.kind)).toEqual(["ConfigMap", "PersistentVolumeClaim", "Job"])
    const [configMap, claim, job] = objects as [Record<string, any>, Record<string, any>, Record<string, any>]
    new ConfigMap(configMap as never).validate()
    new PersistentVolumeClaim(claim as never).validate()
    new Job(job as never).validate()

    expect(job.spec.completionMode).toBe("Indexed")
    expect(job.spec.completions).toBe(2) // one per point
    expect(job.spec.parallelism).toBe(2)
    const container = job.spec.template.spec.containers[0]
    expect(container.image).toBe("registry.example/kube-netsim:1")
    expect(container.args).toEqual([
      "sweep",
      "/sweep/tiny-sweep.yaml",
      "--shard",
      "auto/2",
      "--jobs",
      "2",
      "--out",
      "/results/tiny-replicas",
      "--quiet",
    ])
    // Every file the sweep reads, at its path relative to the sweep file.
    const items = job.spec.template.spec.volumes[0].configMap.items as { key: string; path: string }[]
    expect(items.map((i) => i.path)).toEqual(["tiny-sweep.yaml", "tiny.yaml", "tiny-manifests.yaml"])
    for (const item of items) expect(typeof configMap.data[item.key]).toBe("string")
    expect(job.spec.template.spec.volumes[1].persistentVolumeClaim.claimName).toBe(claim.metadata.name)
  })

  it("--shard auto/N sets the completions; the validator rejects a broken Job", async () => {
    const objects = await manifest(["--shard", "auto/1"])
    const job = objects[2] as Record<string, any>
    expect(job.spec.completions).toBe(1)
    expect(job.spec.template.spec.containers[0].args).toContain("auto/1")
    // The schema check is live: a wrong type is caught.
    const broken = structuredClone(job)
    broken.spec.completions = "two"
    expect(() => new Job(broken as never).validate()).toThrow()
    const c = captureIo()
    expect(await runCli(["sweep", SWEEP, "--job-manifest", "--shard", "auto/5"], c.io)).toBe(2)
    expect(c.err()).toContain("5 shards for 2 points")
  })
})
