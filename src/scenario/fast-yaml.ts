/**
 * A fast path for the common, plain shape of scenario files (issue 10, loader speed): block
 * mappings and sequences, one entry per line, whose values are plain or simply quoted scalars or
 * flow collections written on one line. The `yaml` package spends about 80% of a large
 * cluster-scale load building its token stream and node tree, which only `locate` needs (positions
 * for issues); this parser builds the plain JavaScript value directly.
 *
 * It is exact or it declines: anything outside its narrow subset (anchors, aliases, tags, block
 * scalars, multi-line scalars, escapes, tabs, document markers, directives, merge keys, duplicate or
 * non-string keys, plain scalars with characters other than `A-Za-z0-9_./+-`, ...) returns
 * `undefined`, and the caller parses with the `yaml` package as before, so syntax errors and their
 * positions come from the same code as always. Plain scalars are resolved by the `yaml` package's
 * own core-schema tags (the same `test` / `resolve` pair its composer uses), so `8`, `true`, `null`,
 * `0x1f` or `.5` get exactly the value they get there.
 */
import { Document, isScalar } from "yaml"

/** The options `parseYamlFile` parses with; the schema's tags and the resolve options come from them. */
export const YAML_OPTIONS = { prettyErrors: false, uniqueKeys: true, merge: true } as const

interface ScalarTag {
  readonly default?: boolean | "key"
  readonly test?: RegExp
  readonly collection?: string
  readonly resolve: (value: string, onError: (message: string) => void, options: unknown) => unknown
}

const schemaDoc = new Document(null, YAML_OPTIONS)
const defaultTags = (schemaDoc.schema.tags as unknown as ScalarTag[]).filter(
  (tag) => tag.default === true && tag.collection === undefined && tag.test !== undefined,
)
const resolveOptions = schemaDoc.options

/** Thrown inside the parser to decline the text (caught in `fastParseYaml`). */
const DECLINE = new Error("fast YAML path declined")

/** A plain scalar's resolved value, as the `yaml` composer and `toJS` give it. */
function resolvePlain(source: string): unknown {
  // findScalarTagByTest: the first default tag whose test matches; none: a string.
  for (const tag of defaultTags) {
    if (tag.test !== undefined && tag.test.test(source)) {
      let failed = false
      const res = tag.resolve(source, () => (failed = true), resolveOptions)
      if (failed) throw DECLINE
      const value = isScalar(res) ? res.value : res
      // toJS turns bigints into numbers unless told to keep them.
      return typeof value === "bigint" ? Number(value) : value
    }
  }
  return source
}

const PLAIN = /[A-Za-z0-9_./+-]+/y
const SPACES = / */y
/** Longest implicit key accepted (the `yaml` package refuses implicit keys over 1024 characters). */
const KEY_LENGTH_MAX = 1000

/** Parses `text` when it is in the subset described above; `undefined` otherwise. */
export function fastParseYaml(text: string): { readonly value: unknown } | undefined {
  // Characters the subset never needs: tabs, carriage returns, other controls, byte-order marks.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f\u007f\ufeff]/.test(text)) return undefined
  try {
    return { value: new FastParser(text).document() }
  } catch (error) {
    if (error === DECLINE) return undefined
    throw error
  }
}

class FastParser {
  private readonly lines: string[]
  /** Index of the current line. */
  private line = 0
  /** When set, the current line's content starts at this column (after a `- ` indicator). */
  private startCol = -1

  constructor(text: string) {
    this.lines = text.split("\n")
  }

  document(): unknown {
    for (const line of this.lines) {
      if (line.startsWith("---") || line.startsWith("...") || line.startsWith("%")) throw DECLINE
    }
    const indent = this.peek()
    if (indent < 0) throw DECLINE
    const value = this.block(indent, false)
    if (this.peek() >= 0) throw DECLINE
    return value
  }

  /** Indentation of the next line with content (skipping blank and comment lines); -1 at the end. */
  private peek(): number {
    while (this.line < this.lines.length) {
      const text = this.lines[this.line]
      SPACES.lastIndex = this.startCol >= 0 ? this.startCol : 0
      SPACES.test(text)
      const indent = SPACES.lastIndex
      if (indent < text.length && text.charCodeAt(indent) !== 0x23 /* # */) return indent
      if (this.startCol >= 0) throw DECLINE
      this.line++
    }
    return -1
  }

  private next(): void {
    this.line++
    this.startCol = -1
  }

  private isDash(indent: number): boolean {
    const text = this.lines[this.line]
    return text.charCodeAt(indent) === 0x2d /* - */ && (indent + 1 === text.length || text[indent + 1] === " ")
  }

  /** A block node whose first line has content at `indent`. */
  private block(indent: number, sameIndentSeq: boolean): unknown {
    return this.isDash(indent) ? this.sequence(indent, sameIndentSeq) : this.mapping(indent)
  }

  private sequence(indent: number, sameIndentSeq: boolean): unknown[] {
    const items: unknown[] = []
    for (;;) {
      const at = this.peek()
      if (at < indent) break
      if (at > indent) throw DECLINE
      if (!this.isDash(at)) {
        // A sequence at its parent key's indentation ends at the parent's next key.
        if (sameIndentSeq) break
        throw DECLINE
      }
      const text = this.lines[this.line]
      SPACES.lastIndex = at + 1
      SPACES.test(text)
      const col = SPACES.lastIndex
      if (col === at + 1 || col >= text.length || text.charCodeAt(col) === 0x23) throw DECLINE
      this.startCol = col
      if (this.isDash(col) || this.entryKey(col) !== undefined) {
        items.push(this.block(col, false))
      } else {
        items.push(this.inlineLine(col))
      }
    }
    return items
  }

  /**
   * The key of a `key: ...` entry starting at `col` of the current line, and the column after its
   * `:`; undefined when the line is not such an entry.
   */
  private entryKey(col: number): { key: string; end: number } | undefined {
    const text = this.lines[this.line]
    const c = text.charCodeAt(col)
    let key: string
    let end: number
    if (c === 0x22 /* " */ || c === 0x27 /* ' */) {
      const q = this.quoted(text, col)
      key = q.value
      end = q.end
    } else {
      const p = this.plain(text, col)
      if (p === undefined) return undefined
      end = p.end
      if (text.charCodeAt(end) !== 0x3a /* : */) return undefined
      const value = resolvePlain(p.source)
      if (typeof value !== "string") throw DECLINE
      key = value
    }
    if (text.charCodeAt(end) !== 0x3a || (end + 1 < text.length && text[end + 1] !== " ")) return undefined
    if (end - col > KEY_LENGTH_MAX || key === "__proto__") throw DECLINE
    return { key, end: end + 1 }
  }

  private mapping(indent: number): Record<string, unknown> {
    const map: Record<string, unknown> = {}
    for (;;) {
      const at = this.peek()
      if (at < indent) break
      if (at > indent) throw DECLINE
      const entry = this.entryKey(at)
      if (entry === undefined) throw DECLINE
      if (Object.prototype.hasOwnProperty.call(map, entry.key)) throw DECLINE
      const text = this.lines[this.line]
      SPACES.lastIndex = entry.end
      SPACES.test(text)
      const col = SPACES.lastIndex
      let value: unknown
      if (col >= text.length || (text.charCodeAt(col) === 0x23 && col > entry.end)) {
        // `key:` alone: the value is the block below, a sequence at this indentation, or empty.
        this.next()
        const below = this.peek()
        if (below > indent) value = this.block(below, false)
        else if (below === indent && this.isDash(below)) value = this.sequence(indent, true)
        else value = resolvePlain("")
      } else {
        if (col === entry.end) throw DECLINE
        value = this.inlineLine(col)
      }
      map[entry.key] = value
    }
    return map
  }

  /** A flow collection or scalar from `col` to the end of the current line (a comment allowed). */
  private inlineLine(col: number): unknown {
    const text = this.lines[this.line]
    const { value, end } = this.flowValue(text, col, false)
    SPACES.lastIndex = end
    SPACES.test(text)
    const rest = SPACES.lastIndex
    if (rest < text.length && !(text.charCodeAt(rest) === 0x23 && rest > end)) throw DECLINE
    this.next()
    return value
  }

  private flowValue(text: string, col: number, inFlow: boolean): { value: unknown; end: number } {
    const c = text.charCodeAt(col)
    if (c === 0x7b /* { */) return this.flowMap(text, col)
    if (c === 0x5b /* [ */) return this.flowSeq(text, col)
    if (c === 0x22 || c === 0x27) return this.quoted(text, col)
    const p = this.plain(text, col)
    if (p === undefined) throw DECLINE
    const after = text.charCodeAt(p.end)
    // A plain scalar ends at the end of the line, a space, or (in a flow collection) `,` `]` `}`.
    if (
      !(p.end === text.length || after === 0x20) &&
      !(inFlow && (after === 0x2c || after === 0x5d || after === 0x7d))
    ) {
      throw DECLINE
    }
    return { value: resolvePlain(p.source), end: p.end }
  }

  private plain(text: string, col: number): { source: string; end: number } | undefined {
    const c = text.charCodeAt(col)
    // `-` starts a plain scalar only when a letter, digit or `.` follows (`- ` and `--` declined).
    if (c === 0x2d && !/[A-Za-z0-9.]/.test(text[col + 1] ?? "")) return undefined
    PLAIN.lastIndex = col
    if (!PLAIN.test(text)) return undefined
    return { source: text.slice(col, PLAIN.lastIndex), end: PLAIN.lastIndex }
  }

  private quoted(text: string, col: number): { value: string; end: number } {
    const quote = text[col]
    const close = text.indexOf(quote, col + 1)
    if (close < 0) throw DECLINE
    const value = text.slice(col + 1, close)
    // Escapes (`\` in double quotes, `''` in single quotes) are left to the `yaml` package.
    if (quote === '"' ? value.includes("\\") : text[close + 1] === "'") throw DECLINE
    return { value, end: close + 1 }
  }

  private skipSpaces(text: string, col: number): number {
    SPACES.lastIndex = col
    SPACES.test(text)
    return SPACES.lastIndex
  }

  private flowMap(text: string, col: number): { value: Record<string, unknown>; end: number } {
    const map: Record<string, unknown> = {}
    let at = this.skipSpaces(text, col + 1)
    if (text.charCodeAt(at) === 0x7d) return { value: map, end: at + 1 }
    for (;;) {
      let key: string
      const c = text.charCodeAt(at)
      if (c === 0x22 || c === 0x27) {
        const q = this.quoted(text, at)
        key = q.value
        at = q.end
        if (text.charCodeAt(at) !== 0x3a) throw DECLINE
      } else {
        const p = this.plain(text, at)
        if (p === undefined) throw DECLINE
        const value = resolvePlain(p.source)
        if (typeof value !== "string") throw DECLINE
        key = value
        at = p.end
        if (text.charCodeAt(at) !== 0x3a || text.charCodeAt(at + 1) !== 0x20) throw DECLINE
      }
      if (key === "__proto__" || Object.prototype.hasOwnProperty.call(map, key)) throw DECLINE
      at = this.skipSpaces(text, at + 1)
      const v = this.flowValue(text, at, true)
      map[key] = v.value
      at = this.skipSpaces(text, v.end)
      const d = text.charCodeAt(at)
      if (d === 0x7d) return { value: map, end: at + 1 }
      if (d !== 0x2c) throw DECLINE
      at = this.skipSpaces(text, at + 1)
      // A trailing comma is left to the `yaml` package.
      if (text.charCodeAt(at) === 0x7d) throw DECLINE
    }
  }

  private flowSeq(text: string, col: number): { value: unknown[]; end: number } {
    const items: unknown[] = []
    let at = this.skipSpaces(text, col + 1)
    if (text.charCodeAt(at) === 0x5d) return { value: items, end: at + 1 }
    for (;;) {
      const v = this.flowValue(text, at, true)
      at = this.skipSpaces(text, v.end)
      // `[a: b]` (a single-pair map) is left to the `yaml` package.
      const d = text.charCodeAt(at)
      items.push(v.value)
      if (d === 0x5d) return { value: items, end: at + 1 }
      if (d !== 0x2c) throw DECLINE
      at = this.skipSpaces(text, at + 1)
      if (text.charCodeAt(at) === 0x5d) throw DECLINE
    }
  }
}
