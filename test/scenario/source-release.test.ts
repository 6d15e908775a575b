/**
 * parseYamlFile's `release` (issue 10, loader memory): a loaded scenario keeps `locate` for issues
 * reported later, but not the YAML node trees (about 30 times the text); after `release`, `locate`
 * parses the text again and must give exactly the positions it gave before.
 */
import { describe, expect, it } from "vitest"
import { parseYamlFile, type Path } from "../../src/scenario/source.ts"

const TEXT = [
  "# a comment",
  "apiVersion: kube-netsim/v1",
  "kind: Scenario",
  "manifests:",
  "  - inline:",
  "      - { apiVersion: v1, kind: Service, metadata: { name: a }, spec: { ports: [{ port: 80 }] } }",
  "      - apiVersion: v1",
  "        kind: Service",
  "        metadata:",
  "          name: b",
  "---",
  "second: { x: [1, 2, 3] }",
  "",
].join("\n")

const PATHS: readonly Path[] = [
  [],
  ["kind"],
  ["manifests", 0, "inline", 0, "spec", "ports", 0, "port"],
  ["manifests", 0, "inline", 1, "metadata", "name"],
  ["manifests", 0, "inline", 1, "metadata", "missing"],
  ["manifests", 5],
  ["second", "x", 2],
]

describe("parseYamlFile release", () => {
  it("gives the same positions after the node trees are dropped", () => {
    const yaml = parseYamlFile("s.yaml", TEXT)
    expect(yaml.issues).toEqual([])
    const before = yaml.documents.map((d) => PATHS.map((p) => [d.locate(p), d.locateKey(p)]))
    // Positions are real ones (not all the document start).
    expect(before[0][3][0]).toEqual({ file: "s.yaml", line: 10, column: 17 })
    yaml.release()
    const after = yaml.documents.map((d) => PATHS.map((p) => [d.locate(p), d.locateKey(p)]))
    expect(after).toEqual(before)
  })
})
