/**
 * Goal: the kernel conntrack race settings (`cluster.conntrack`, `nodes[].conntrack`) decode with
 * their documented defaults and precedence, and bad values are input errors at file:line:column.
 */
import { describe, expect, it } from "vitest"
import { decodeScenarioText } from "../../src/scenario/load.ts"
import { formatIssue } from "../../src/scenario/issues.ts"

const HEAD = "apiVersion: kube-netsim/v1\nkind: Scenario\nmetadata: { name: t }\n"

function decode(text: string) {
  return decodeScenarioText("s.yaml", text, () => {
    throw Object.assign(new Error("ENOENT"), { code: "ENOENT" })
  })
}

function issuesOf(text: string): string[] {
  const result = decode(text)
  return result.ok ? [] : result.issues.map(formatIssue)
}

describe("cluster.conntrack / nodes[].conntrack (UDP clash race)", () => {
  it("absent: no setting in the spec (the kernel defaults: clash-insert, probability 0)", () => {
    const result = decode(`${HEAD}cluster: { nodes: { count: 1 } }\n`)
    if (!result.ok) throw new Error(result.issues.map(formatIssue).join("\n"))
    expect(result.scenario.spec.cluster.conntrack).toBeUndefined()
  })

  it("decodes the fix level and the probability (in ppm); a node's own fields are kept per node", () => {
    const result = decode(
      `${HEAD}cluster:\n  conntrack: { raceFix: none, raceProbability: "25%" }\n  nodes:\n    - { name: a }\n    - { name: b, conntrack: { raceFix: "5.0" } }\n`,
    )
    if (!result.ok) throw new Error(result.issues.map(formatIssue).join("\n"))
    const spec = result.scenario.spec.cluster
    expect(spec.conntrack).toEqual({ raceFix: "none", racePpm: 250_000 })
    expect(spec.nodes.map((n) => n.conntrack)).toEqual([undefined, { raceFix: "5.0" }])
  })

  it("refuses an unknown fix level (an unquoted 4.19 is a YAML number) and a probability above 1", () => {
    const bad = issuesOf(`${HEAD}cluster:\n  conntrack: { raceFix: 4.19 }\n`)
    expect(bad).toHaveLength(1)
    expect(bad[0]).toMatch(/^s\.yaml:5:\d+: cluster\.conntrack\.raceFix: /)
    const worse = issuesOf(`${HEAD}cluster:\n  conntrack: { raceProbability: 2 }\n`)
    expect(worse).toHaveLength(1)
    expect(worse[0]).toMatch(/^s\.yaml:5:\d+: cluster\.conntrack\.raceProbability: /)
  })
})
