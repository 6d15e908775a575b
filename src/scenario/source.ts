/**
 * YAML text with positions: parses (multi-document) YAML with the `yaml` package, keeps each
 * document's node tree and a LineCounter, and answers "where in the file is field path P?" so that
 * every issue can be printed as `file:line:column: path: message`.
 *
 * Details: `locate(path)` returns the position of the value at `path`; when the path does not exist
 * (a missing key) it falls back to the deepest existing ancestor. `locateKey(path)` returns the
 * position of the key itself, used for "unknown field" issues.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Node as YamlNode } from "yaml"
import type { Issue, SourcePosition } from "../cluster/spec.ts"
import { fastParseYaml, YAML_OPTIONS } from "./fast-yaml.ts"

export type Path = readonly (string | number)[]

export interface YamlDocument {
  /** The plain JavaScript value of the document (null for an empty document). */
  readonly value: unknown
  /** Position of the value at `path` (or of its deepest existing ancestor). */
  readonly locate: (path: Path) => SourcePosition
  /** Position of the key at the end of `path` (or of the value when it is a sequence index). */
  readonly locateKey: (path: Path) => SourcePosition
}

export interface YamlFile {
  readonly file: string
  readonly documents: readonly YamlDocument[]
  /** Syntax errors (their positions set); when non-empty, `documents` may be incomplete. */
  readonly issues: readonly Issue[]
  /**
   * Drops the node trees (`locate` parses the text again when next called: same positions). A
   * loaded scenario keeps its documents' `locate` for issues reported later, and the trees cost
   * about 30 times the text (150 MB for the 4.9 MB of the cluster-scale bench's large point),
   * held through the whole run.
   */
  readonly release: () => void
}

/**
 * Parses `text` (the content of `file`) into its documents; never throws. Text in the plain subset
 * `fastParseYaml` accepts (one document, no syntax errors by construction) gets its value from that
 * parser, and the `yaml` package parses it only when a position is first asked for: the same
 * positions, paid for only when an issue is reported.
 */
export function parseYamlFile(file: string, text: string): YamlFile {
  const fast = fastParseYaml(text)
  if (fast === undefined) return parseYamlFileFully(file, text)
  let full: YamlFile | null = null
  const document = (): YamlDocument | undefined => {
    full ??= parseYamlFileFully(file, text)
    return full.documents[0]
  }
  const start: SourcePosition = { file, line: 1, column: 1 }
  return {
    file,
    documents: [
      {
        value: fast.value,
        locate: (path) => document()?.locate(path) ?? start,
        locateKey: (path) => document()?.locateKey(path) ?? start,
      },
    ],
    issues: [],
    release: () => {
      full = null
    },
  }
}

/** `parseYamlFile` with the `yaml` package: documents, values, syntax errors and positions. */
function parseYamlFileFully(file: string, text: string): YamlFile {
  const lineCounter = new LineCounter()
  const position = (offset: number): SourcePosition => {
    const p = lineCounter.linePos(offset)
    return { file, line: p.line, column: p.col }
  }
  const options = YAML_OPTIONS
  const parsed = parseAllDocuments(text, { lineCounter, ...options })
  const docs = Array.isArray(parsed) ? parsed : []
  /**
   * The documents' node trees, for `locate`: the first parse's until `release`, then parsed again
   * from `text` on the first `locate` (the same text and options give the same trees: the same
   * positions).
   */
  let roots: (YamlNode | null)[] | null = docs.map((d) => d.contents as YamlNode | null)
  const rootOf = (index: number): YamlNode | null => {
    if (roots === null) {
      const again = parseAllDocuments(text, options)
      roots = (Array.isArray(again) ? again : []).map((d) => d.contents as YamlNode | null)
    }
    return roots[index] ?? null
  }
  const issues: Issue[] = []
  const documents: YamlDocument[] = []
  for (const [index, doc] of docs.entries()) {
    for (const error of doc.errors) {
      issues.push({
        severity: "error",
        path: [],
        message: `YAML syntax error: ${firstLine(error.message)}`,
        position: position(error.pos[0]),
      })
    }
    if (doc.errors.length > 0) continue
    let value: unknown
    try {
      value = doc.toJS({ maxAliasCount: 1000 })
    } catch (error) {
      issues.push({
        severity: "error",
        path: [],
        message: `YAML error: ${error instanceof Error ? error.message : String(error)}`,
        position: position(doc.range[0]),
      })
      continue
    }
    const docStart = doc.range[0]
    const nodeStart = (node: unknown, fallback: number): number => {
      if (node !== null && typeof node === "object" && "range" in node) {
        const range = (node as YamlNode).range
        if (range !== undefined && range !== null) return range[0]
      }
      return fallback
    }
    const walk = (path: Path, wantKey: boolean): number => {
      const root = rootOf(index)
      let node: unknown = root
      let offset = nodeStart(root, docStart)
      for (let i = 0; i < path.length; i++) {
        const segment = path[i]
        const last = i === path.length - 1
        if (isMap(node)) {
          const pair = node.items.find(
            (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
          )
          if (pair === undefined) return offset
          const keyOffset = nodeStart(pair.key, offset)
          if (last && wantKey) return keyOffset
          node = pair.value
          offset = nodeStart(pair.value, keyOffset)
        } else if (isSeq(node) && typeof segment === "number") {
          const item = node.items[segment]
          if (item === undefined) return offset
          node = item
          offset = nodeStart(item, offset)
        } else {
          return offset
        }
      }
      return offset
    }
    documents.push({
      value,
      locate: (path) => position(walk(path, false)),
      locateKey: (path) => position(walk(path, true)),
    })
  }
  return {
    file,
    documents,
    issues,
    release: () => {
      roots = null
    },
  }
}

function firstLine(message: string): string {
  const line = message.split("\n")[0]
  return line.replace(/ at line \d+, column \d+:?$/, "")
}

/** A Locate rooted below `prefix` of a document (for objects nested inside a larger file). */
export function subLocate(doc: YamlDocument, prefix: Path): (path: Path) => SourcePosition {
  return (path) => doc.locate([...prefix, ...path])
}
