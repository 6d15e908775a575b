/**
 * Printing issues for people: `file:line:column: path: message` (warnings say so after the path),
 * sorted by file and position so that a scenario's errors read top to bottom.
 */
import type { Issue } from "../cluster/spec.ts"
import type { Path } from "./source.ts"

/** `workloads[0].arrival.poisson`, `metadata.labels["app.kubernetes.io/name"]`. */
export function formatPath(path: Path): string {
  let out = ""
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(segment)) out += out === "" ? segment : `.${segment}`
    else out += `[${JSON.stringify(segment)}]`
  }
  return out
}

/** One line per issue: `file:line:column: path: message` (parts that are unknown are left out). */
export function formatIssue(issue: Issue): string {
  const parts: string[] = []
  if (issue.position !== undefined) parts.push(`${issue.position.file}:${issue.position.line}:${issue.position.column}`)
  if (issue.path.length > 0) parts.push(formatPath(issue.path))
  if (issue.severity === "warning") parts.push("warning")
  parts.push(issue.message)
  return parts.join(": ")
}

/** Issues in reading order: by file, line, column; issues without a position last; stable otherwise. */
export function sortIssues(issues: readonly Issue[]): Issue[] {
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) => {
      const pa = a.issue.position
      const pb = b.issue.position
      if (pa === undefined || pb === undefined) return pa === pb ? a.index - b.index : pa === undefined ? 1 : -1
      if (pa.file !== pb.file) return pa.file < pb.file ? -1 : 1
      return pa.line - pb.line || pa.column - pb.column || a.index - b.index
    })
    .map((entry) => entry.issue)
}

export function hasErrors(issues: readonly Issue[]): boolean {
  return issues.some((issue) => issue.severity === "error")
}
