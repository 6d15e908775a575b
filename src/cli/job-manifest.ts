/**
 * `sweep SWEEP.yaml --job-manifest [--image IMG] [--parallelism P] [--shard auto/N]`: the
 * Kubernetes objects that run the sweep as an Indexed Job (docs/sweep.md "On a Kubernetes
 * cluster"), printed as one multi-document YAML for `kubectl apply -f -`:
 *
 * - a ConfigMap holding every file the sweep reads (the sweep file, its base scenario, the
 *   manifest files), mounted at /sweep with the files' relative layout kept (volume `items`), so
 *   that the sweep's relative `scenario:` and manifest paths resolve as they do here;
 * - a PersistentVolumeClaim (ReadWriteMany: every pod writes its points into it) for the results;
 * - the Job: completionMode Indexed, completions N (default one per point), parallelism P; each pod
 *   runs `kube-netsim sweep /sweep/FILE --shard auto/N --out /results/NAME`, its shard I being the
 *   JOB_COMPLETION_INDEX the Job controller sets. Once it completes, `kube-netsim merge
 *   /results/NAME` (in any pod mounting the claim) writes the single-machine sweep's files.
 */
import { dirname, relative, resolve, sep } from "node:path"
import { stringify } from "yaml"
import type { LoadedSweep } from "./sweep/sweep-file.ts"

export interface JobManifestOptions {
  readonly image: string | undefined
  readonly parallelism: number | undefined
  /** Completions (shards); undefined: one per point. */
  readonly shards: number | undefined
  /** Worker threads per pod (--jobs), also the pod's CPU request. */
  readonly jobs: number
  /** The program version, for the default image tag. */
  readonly version: string
}

export const DEFAULT_IMAGE_REPOSITORY = "kube-netsim"

/** etcd's default request limit is 1.5 MiB, the API server's documented ConfigMap limit 1 MiB. */
const CONFIGMAP_BYTES_MAX = 1_000_000

/** The manifest's objects (plain data, as kubectl reads them). */
export function jobManifestObjects(
  sweep: LoadedSweep,
  options: JobManifestOptions,
): Record<string, unknown>[] | { readonly flag: string; readonly message: string } {
  const points = sweep.points.length
  const shards = options.shards ?? points
  if (shards > points)
    return { flag: "--shard", message: `${shards} shards for ${points} points: at most one shard per point` }
  const parallelism = options.parallelism ?? Math.min(shards, 10)
  if (!(Number.isSafeInteger(parallelism) && parallelism >= 1))
    return { flag: "--parallelism", message: `must be a positive integer, got ${parallelism}` }
  const image = options.image ?? `${DEFAULT_IMAGE_REPOSITORY}:${options.version}`
  const name = `kube-netsim-${sweep.name}`.slice(0, 52).replace(/-+$/, "")
  const labels = { "app.kubernetes.io/name": "kube-netsim", "app.kubernetes.io/instance": sweep.name }

  // The files under their common folder, so that relative paths between them still hold.
  const absolute = sweep.files.map((f) => ({ path: resolve(f.path), text: f.text }))
  let root = dirname(absolute[0]?.path ?? ".")
  for (const f of absolute)
    while (!(f.path === root || f.path.startsWith(root.endsWith(sep) ? root : root + sep))) root = dirname(root)
  const items = absolute.map((f, index) => ({
    key: `file-${index}`,
    path: relative(root, f.path).split(sep).join("/"),
    text: f.text,
  }))
  let bytes = 0
  for (const item of items) bytes += Buffer.byteLength(item.text, "utf8")
  if (bytes > CONFIGMAP_BYTES_MAX)
    return {
      flag: "--job-manifest",
      message: `the sweep's files hold ${bytes} bytes, more than a ConfigMap's ${CONFIGMAP_BYTES_MAX} (Kubernetes' 1 MiB object limit, less room for metadata): bake them into the image instead`,
    }
  const sweepPath = `/sweep/${(items[0] as { path: string }).path}`
  const out = `/results/${sweep.name}`

  const configMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `${name}-files`, labels },
    data: Object.fromEntries(items.map((item) => [item.key, item.text])),
  }
  const claim = {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: `${name}-results`, labels },
    spec: { accessModes: ["ReadWriteMany"], resources: { requests: { storage: "1Gi" } } },
  }
  const job = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, labels },
    spec: {
      completionMode: "Indexed",
      completions: shards,
      parallelism,
      backoffLimit: shards,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          // The image runs as user node (uid/gid 1000): make the results volume writable for it.
          securityContext: { fsGroup: 1000 },
          containers: [
            {
              name: "kube-netsim",
              image,
              args: [
                "sweep",
                sweepPath,
                "--shard",
                `auto/${shards}`,
                "--jobs",
                String(options.jobs),
                "--out",
                out,
                "--quiet",
              ],
              resources: { requests: { cpu: String(options.jobs) } },
              volumeMounts: [
                { name: "sweep", mountPath: "/sweep", readOnly: true },
                { name: "results", mountPath: "/results" },
              ],
            },
          ],
          volumes: [
            {
              name: "sweep",
              configMap: { name: `${name}-files`, items: items.map((item) => ({ key: item.key, path: item.path })) },
            },
            { name: "results", persistentVolumeClaim: { claimName: `${name}-results` } },
          ],
        },
      },
    },
  }
  return [configMap, claim, job]
}

/** The manifest as text: a comment on how to use it, then the objects as YAML documents. */
export function renderJobManifest(
  sweep: LoadedSweep,
  options: JobManifestOptions,
): string | { readonly flag: string; readonly message: string } {
  const objects = jobManifestObjects(sweep, options)
  if (!Array.isArray(objects)) return objects
  const job = objects[2] as { metadata: { name: string }; spec: { completions: number; parallelism: number } }
  const header = [
    `# kube-netsim sweep ${sweep.name}: ${sweep.points.length} points x ${sweep.seeds.length} seeds as an Indexed Job`,
    `# (${job.spec.completions} completions, parallelism ${job.spec.parallelism}). kubectl apply -f this file;`,
    `# when the Job completes, run kube-netsim merge /results/${sweep.name} in a pod that mounts`,
    `# the claim ${job.metadata.name}-results (docs/sweep.md).`,
  ]
  return `${header.join("\n")}\n${objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n")}`
}
