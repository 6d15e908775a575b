/**
 * Issues the control plane reports for manifests it cannot admit (what the API server would reject
 * with 422 Invalid). cluster/spec.ts re-exports these types as `Issue`, `SourcePosition` and
 * `Locate` for every layer above.
 */
import type { KubeObject } from "./types.ts"

export interface IssuePosition {
  readonly file: string
  readonly line: number
  readonly column: number
}

export type IssueLocate = (path: readonly (string | number)[]) => IssuePosition

export interface K8sIssue {
  readonly severity: "error" | "warning"
  /** Field path from the manifest root (e.g. ["spec", "clusterIP"]). */
  readonly path: readonly (string | number)[]
  readonly message: string
  readonly position?: IssuePosition
}

/** A manifest object with an optional position resolver (cluster/spec.ts ManifestObject fits). */
export interface ManifestInput {
  readonly object: KubeObject
  readonly locate?: IssueLocate
}

export function issueAt(
  severity: "error" | "warning",
  path: readonly (string | number)[],
  message: string,
  locate: IssueLocate | undefined,
): K8sIssue {
  if (locate === undefined) return { severity, path, message }
  return { severity, path, message, position: locate(path) }
}
