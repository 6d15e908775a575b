/**
 * Sweep overrides: "set this scenario field (or this field of this manifest) to this value", applied
 * to the scenario file's YAML tree before it is decoded, so that an overridden scenario goes
 * through exactly the checks and defaults of a written one (scenario/load.ts).
 *
 * Path syntax (docs/sweep.md):
 * - a scenario field: dot-separated keys, `[N]` for a list index, `["key.with.dots"]` for a key
 *   that is not a plain name: `kubeProxy.mode`, `workloads[0].arrival.poisson`,
 *   `cluster.nodes.count`;
 * - a manifest field: `manifests.KIND/NAME.FIELD...` or `manifests.KIND/NAMESPACE/NAME.FIELD...`
 *   (kind case-insensitive, e.g. `manifests.deployment/http-go.spec.replicas`), which finds the
 *   one object of that kind and name among the scenario's `manifests:` (inline or in files);
 *   write `manifests["configmap/my.config"].data.x` when the name has dots. Every key before the
 *   last must already exist in the object (Kubernetes decoders ignore unknown fields, so a typo in
 *   a manifest path would otherwise change nothing). `manifests[N].inline...` addresses an inline
 *   entry by position like any scenario field.
 *
 * Manifest files are not rewritten on disk: the loader reads them through a `ReadFile` that
 * returns the overridden text.
 */
import { dirname, join, normalize } from "node:path"
import { parseAllDocuments, stringify } from "yaml"
import { decodeScenarioText, loadScenario, type LoadResult, type ReadFile } from "../../scenario/load.ts"
import { parseYamlFile, type Path } from "../../scenario/source.ts"
import type { Issue } from "../../cluster/spec.ts"

/** One override as written in the sweep file: its path text and the value (plain YAML data). */
export interface PointOverride {
  readonly path: string
  readonly value: unknown
}

export interface ManifestAddress {
  readonly kind: string
  readonly namespace: string | undefined
  readonly name: string
}

export type OverrideTarget =
  | { readonly type: "scenario"; readonly path: Path }
  | { readonly type: "manifest"; readonly address: ManifestAddress; readonly path: Path }

/** Parses an override path; a string is the error message. */
export function parseOverridePath(text: string): OverrideTarget | string {
  const segments = parsePathSegments(text)
  if (typeof segments === "string") return segments
  if (segments.length === 0) return "empty path"
  const [first, second] = segments
  if (first === "manifests" && typeof second === "string") {
    const parts = second.split("/")
    if (parts.length < 2 || parts.length > 3 || parts.some((part) => part === ""))
      return `manifests.${second}: expected manifests.KIND/NAME or manifests.KIND/NAMESPACE/NAME (e.g. manifests.deployment/http-go.spec.replicas)`
    const rest = segments.slice(2)
    if (rest.length === 0) return `${text}: name a field of the manifest (e.g. ${text}.spec.replicas)`
    const address: ManifestAddress =
      parts.length === 2
        ? { kind: parts[0] as string, namespace: undefined, name: parts[1] as string }
        : { kind: parts[0] as string, namespace: parts[1], name: parts[2] as string }
    return { type: "manifest", address, path: rest }
  }
  if (first === "seed") return "seed: the sweep's seeds: field sets the seeds"
  return { type: "scenario", path: segments }
}

/** `a.b[0]["c.d"]` -> ["a", "b", 0, "c.d"]; a string is the error message. */
export function parsePathSegments(text: string): Path | string {
  const out: (string | number)[] = []
  let i = 0
  let expectKey = true
  while (i < text.length) {
    const char = text[i]
    if (char === "[") {
      const close = text.indexOf("]", i)
      if (text[i + 1] === '"') {
        const end = text.indexOf('"]', i + 2)
        if (end < 0) return `unterminated ["..."] at column ${i + 1} of ${text}`
        out.push(text.slice(i + 2, end))
        i = end + 2
      } else {
        if (close < 0) return `unterminated [ at column ${i + 1} of ${text}`
        const digits = text.slice(i + 1, close)
        if (!/^(0|[1-9][0-9]*)$/.test(digits)) return `[${digits}] in ${text}: expected a list index or a quoted key`
        out.push(Number(digits))
        i = close + 1
      }
      expectKey = false
      continue
    }
    if (char === ".") {
      if (expectKey) return `empty key at column ${i + 1} of ${text}`
      expectKey = true
      i++
      continue
    }
    if (!expectKey) return `expected . or [ at column ${i + 1} of ${text}`
    let end = i
    while (end < text.length && text[end] !== "." && text[end] !== "[") end++
    out.push(text.slice(i, end))
    i = end
    expectKey = false
  }
  if (expectKey && out.length > 0) return `${text} ends with "."`
  return out
}

/** Formats a manifest address as written: `deployment/http-go`. */
export function formatAddress(address: ManifestAddress): string {
  return [address.kind, ...(address.namespace === undefined ? [] : [address.namespace]), address.name].join("/")
}

export type Tree = Record<string, unknown>

/** Where a manifest object lives: an inline entry of the scenario tree, or a document of a file. */
type ManifestHome =
  | { readonly type: "inline"; readonly entry: number; readonly element: number | undefined }
  | { readonly type: "file"; readonly file: string; readonly document: number }

/** The scenario tree with overrides applied, and the overridden manifest files' text. */
export interface AppliedOverrides {
  readonly text: string
  readonly readFile: ReadFile
}

/**
 * Applies `overrides` to the scenario at `file` (text `text`); the error of the first override
 * that cannot be applied (unknown manifest, missing field) is returned as a string.
 */
export function applyOverrides(
  file: string,
  text: string,
  overrides: readonly PointOverride[],
  readFile: ReadFile,
): AppliedOverrides | { readonly error: string; readonly override: number } {
  const yaml = parseYamlFile(file, text)
  const base = yaml.documents[0]?.value
  if (yaml.issues.length > 0 || typeof base !== "object" || base === null || Array.isArray(base))
    return { text, readFile } // the loader reports what is wrong with the base scenario
  const tree = structuredClone(base) as Tree
  const files = new Map<string, unknown[]>()
  const fileDocuments = (resolved: string): unknown[] => {
    let docs = files.get(resolved)
    if (docs === undefined) {
      docs = parseAllDocuments(readFile(resolved)).flatMap((doc) =>
        Array.isArray(doc) ? [] : [doc.toJS({ maxAliasCount: 1000 }) as unknown],
      )
      files.set(resolved, docs)
    }
    return docs
  }
  const touched = new Set<string>()
  for (let index = 0; index < overrides.length; index++) {
    const override = overrides[index] as PointOverride
    const target = parseOverridePath(override.path)
    if (typeof target === "string") return { error: target, override: index }
    if (target.type === "scenario") {
      const error = setPath(tree, target.path, override.value, true)
      if (error !== undefined) return { error, override: index }
      continue
    }
    const found = findManifest(file, tree, target.address, fileDocuments)
    if (typeof found === "string") return { error: found, override: index }
    const object = found.object
    const error = setPath(object, target.path, override.value, false)
    if (error !== undefined) return { error: `${formatAddress(target.address)}: ${error}`, override: index }
    if (found.home.type === "file") touched.add(found.home.file)
  }
  const overridden = new Map<string, string>()
  for (const resolved of touched)
    overridden.set(resolved, (files.get(resolved) ?? []).map((doc) => stringify(doc, { lineWidth: 0 })).join("---\n"))
  return {
    text: stringify(tree, { lineWidth: 0 }),
    readFile: (path) => overridden.get(normalize(path)) ?? readFile(path),
  }
}

/** Loads the scenario at `file` with `overrides` applied (none: exactly loadScenario). */
export function loadWithOverrides(
  file: string,
  overrides: readonly PointOverride[],
  readFile: ReadFile,
): LoadResult | { readonly ok: false; readonly overrideError: string; readonly override: number } {
  if (overrides.length === 0) return loadScenario(file, readFile)
  let text: string
  try {
    text = readFile(file)
  } catch {
    return loadScenario(file, readFile) // reports the read error as the loader does
  }
  let applied: ReturnType<typeof applyOverrides>
  try {
    applied = applyOverrides(file, text, overrides, readFile)
  } catch (error) {
    return {
      ok: false,
      overrideError: `cannot read a manifest file: ${error instanceof Error ? error.message : String(error)}`,
      override: 0,
    }
  }
  if ("error" in applied) return { ok: false, overrideError: applied.error, override: applied.override }
  return decodeScenarioText(file, applied.text, applied.readFile)
}

/** Issues as data: a helper for callers that want them whatever the failure kind. */
export function loadIssues(result: ReturnType<typeof loadWithOverrides>): readonly Issue[] {
  if (result.ok) return []
  if ("overrideError" in result) return [{ severity: "error", path: [], message: result.overrideError }]
  return result.issues
}

/**
 * Sets `value` at `path` in `root`. Scenario fields (`create`) may name absent keys (the decoder
 * rejects unknown ones); manifest fields must exist up to the last key.
 */
function setPath(root: unknown, path: Path, value: unknown, create: boolean): string | undefined {
  let node: unknown = root
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as string | number
    const last = i === path.length - 1
    const where = formatSegments(path.slice(0, i + 1))
    if (typeof segment === "number") {
      if (!Array.isArray(node)) return `${where}: not a list`
      if (segment >= node.length) return `${where}: index out of range (the list has ${node.length} items)`
      if (last) node[segment] = structuredClone(value)
      else node = node[segment]
      continue
    }
    if (typeof node !== "object" || node === null || Array.isArray(node)) return `${where}: not a map`
    const record = node as Record<string, unknown>
    if (last) {
      record[segment] = structuredClone(value)
      return undefined
    }
    if (!(segment in record) || record[segment] === null || record[segment] === undefined) {
      if (!create) return `no field ${where}`
      if (typeof path[i + 1] === "number") return `${where}: no such list`
      record[segment] = {}
    }
    node = record[segment]
  }
  return undefined
}

function formatSegments(path: Path): string {
  let out = ""
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(segment)) out += out === "" ? segment : `.${segment}`
    else out += `[${JSON.stringify(segment)}]`
  }
  return out
}

interface FoundManifest {
  readonly object: Tree
  readonly home: ManifestHome
}

/** The one object of the scenario's manifests at `address`; a string is the error message. */
function findManifest(
  file: string,
  tree: Tree,
  address: ManifestAddress,
  fileDocuments: (resolved: string) => unknown[],
): FoundManifest | string {
  const entries = Array.isArray(tree.manifests) ? (tree.manifests as unknown[]) : []
  const matches: FoundManifest[] = []
  const consider = (object: unknown, defaultNamespace: string | undefined, home: ManifestHome): void => {
    if (typeof object !== "object" || object === null || Array.isArray(object)) return
    const record = object as Tree
    if (typeof record.kind !== "string" || record.kind.toLowerCase() !== address.kind.toLowerCase()) return
    const metadata = record.metadata
    if (typeof metadata !== "object" || metadata === null) return
    const meta = metadata as Tree
    if (meta.name !== address.name) return
    const namespace = typeof meta.namespace === "string" ? meta.namespace : (defaultNamespace ?? "default")
    if (address.namespace !== undefined && namespace !== address.namespace) return
    matches.push({ object: record, home })
  }
  entries.forEach((entry, index) => {
    if (typeof entry !== "object" || entry === null) return
    const source = entry as Tree
    const namespace = typeof source.namespace === "string" ? source.namespace : undefined
    if ("inline" in source) {
      const inline = source.inline
      if (Array.isArray(inline))
        inline.forEach((object, element) => consider(object, namespace, { type: "inline", entry: index, element }))
      else consider(inline, namespace, { type: "inline", entry: index, element: undefined })
    } else if (typeof source.path === "string") {
      const resolved = normalize(join(dirname(file), source.path))
      fileDocuments(resolved).forEach((object, document) =>
        consider(object, namespace, { type: "file", file: resolved, document }),
      )
    }
  })
  if (matches.length === 0) return `no manifest ${formatAddress(address)} in the scenario's manifests`
  if (matches.length > 1)
    return `${matches.length} manifests match ${formatAddress(address)}: add the namespace (KIND/NAMESPACE/NAME)`
  return matches[0] as FoundManifest
}
