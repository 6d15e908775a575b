/**
 * Parser for the `nft -f` transaction text kube-proxy's nftables proxier writes through knftables
 * (one `add|create|flush|delete <object> ip <table> ...` command per line), and for the rule
 * statements it uses (the era-A expression list of ../shared/reference/proxy-modes.md §1.3, §1.6).
 *
 * Syntax follows nft(8) as nftables 1.0.6 accepts it; where nft normalises on output (`mark` is
 * `meta mark`, `or` is `|`), the parser accepts both spellings and the printer (print.ts) writes
 * nft's. Every error carries file:line:column of the offending token.
 *
 * The result is a list of commands (the transaction); ruleset.ts applies it atomically.
 */
import { parseIpv4 } from "../../wire/ipv4.ts"

export class NftParseError extends Error {
  override readonly name = "NftParseError"
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${column}: ${detail}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Tokens

export interface Token {
  /** Text; for quoted strings the unescaped content. */
  readonly text: string
  readonly quoted: boolean
  readonly line: number
  readonly column: number
  /** Offsets of the token's first character and one past its last in the source text. */
  readonly start: number
  readonly end: number
}

/**
 * Splits text into tokens: quoted strings, `{ } ; ,` as single tokens, everything else up to
 * whitespace or a separator. A `#` outside a string starts a comment to the end of the line (nft's
 * scanner). Newlines are kept as tokens (they end a command outside braces).
 */
export function tokenize(text: string, file: string): Token[] {
  const out: Token[] = []
  const lexer = new Lexer(text, file, true)
  while (lexer.next()) out.push(lexer.token())
  return out
}

const CH_NEWLINE = 10
const CH_SPACE = 32
const CH_TAB = 9
const CH_CR = 13
const CH_HASH = 35
const CH_QUOTE = 34
const CH_BACKSLASH = 92

function isSeparator(c: number): boolean {
  return c === 123 /* { */ || c === 125 /* } */ || c === 59 /* ; */ || c === 44 /* , */
}

/**
 * The scanner behind `tokenize`, one token at a time (parseTransaction reads a command's tokens
 * and parses it before scanning the next: a 10,000-Service transaction is millions of tokens,
 * which held at once were the largest allocation of applying it). `next()` advances to the next
 * token and returns false at the end; the token's fields are the lexer's until `token()` builds
 * it. With `values` false, quoted strings' contents are not built (a scan for errors only).
 */
class Lexer {
  private i = 0
  private line = 1
  private lineStart = 0
  /** The current token: its kind (newline, quoted, word or separator), position and text. */
  newline = false
  quoted = false
  tokLine = 0
  column = 0
  start = 0
  end = 0
  value = ""

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly values: boolean,
  ) {}

  next(): boolean {
    const text = this.text
    const n = text.length
    let i = this.i
    while (i < n) {
      const c = text.charCodeAt(i)
      if (c === CH_NEWLINE) {
        this.newline = true
        this.quoted = false
        this.tokLine = this.line
        this.column = i - this.lineStart + 1
        this.start = i
        this.end = i + 1
        this.value = "\n"
        i++
        this.line++
        this.lineStart = i
        this.i = i
        return true
      }
      if (c === CH_SPACE || c === CH_TAB || c === CH_CR) {
        i++
        continue
      }
      if (c === CH_HASH) {
        while (i < n && text.charCodeAt(i) !== CH_NEWLINE) i++
        continue
      }
      const column = i - this.lineStart + 1
      this.newline = false
      this.tokLine = this.line
      this.column = column
      if (c === CH_QUOTE) {
        let value = ""
        i++
        for (;;) {
          if (i >= n || text.charCodeAt(i) === CH_NEWLINE)
            throw new NftParseError(this.file, this.line, column, "unterminated string")
          const d = text.charCodeAt(i)
          if (d === CH_QUOTE) break
          if (d === CH_BACKSLASH && i + 1 < n) {
            if (this.values) {
              const e = text[i + 1]
              value += e === "n" ? "\n" : e === "t" ? "\t" : e
            }
            i += 2
            continue
          }
          if (this.values) value += text[i]
          i++
        }
        i++
        this.quoted = true
        this.value = value
        this.start = column - 1 + this.lineStart
        this.end = i
        this.i = i
        return true
      }
      this.quoted = false
      if (isSeparator(c)) {
        this.value = text[i]
        this.start = i
        this.end = i + 1
        this.i = i + 1
        return true
      }
      const start = i
      while (i < n) {
        const d = text.charCodeAt(i)
        if (d === CH_SPACE || d === CH_TAB || d === CH_CR || d === CH_NEWLINE || d === CH_QUOTE || isSeparator(d)) break
        i++
      }
      this.value = this.values ? text.slice(start, i) : ""
      this.start = start
      this.end = i
      this.i = i
      return true
    }
    this.i = i
    return false
  }

  token(): Token {
    return {
      text: this.value,
      quoted: this.quoted,
      line: this.tokLine,
      column: this.column,
      start: this.start,
      end: this.end,
    }
  }
}

// ---------------------------------------------------------------------------------------------
// AST

/** Packet fields a rule can load (the kernel's payload/meta/ct/fib/numgen expressions). */
export const Field = {
  IP_SADDR: 0,
  IP_DADDR: 1,
  META_L4PROTO: 2,
  TH_SPORT: 3,
  TH_DPORT: 4,
  META_MARK: 5,
  CT_STATE: 6,
  FIB_SADDR_TYPE: 7,
  FIB_DADDR_TYPE: 8,
  /** `tcp dport` / `udp dport` / `sctp dport`: th dport with an implicit `meta l4proto` check. */
  L4_SPORT: 9,
  L4_DPORT: 10,
} as const
export type Field = (typeof Field)[keyof typeof Field]

/** Set element data types (nft's datatype names). */
export const DataType = { IPV4_ADDR: 0, INET_PROTO: 1, INET_SERVICE: 2, MARK: 3, CT_STATE: 4, FIB_ADDRTYPE: 5 } as const
export type DataType = (typeof DataType)[keyof typeof DataType]
export const DATA_TYPE_NAMES = ["ipv4_addr", "inet_proto", "inet_service", "mark", "ct_state", "fib_addrtype"]
/** Width in bits of each data type's key as the kernel stores it. */
export const DATA_TYPE_BITS = [32, 8, 16, 32, 32, 32]

export interface Selector {
  readonly field: Field
  /** For L4_SPORT/L4_DPORT: the protocol number the implicit dependency checks. */
  readonly protocol: number
}

export const VerdictKind = { ACCEPT: 0, DROP: 1, CONTINUE: 2, RETURN: 3, JUMP: 4, GOTO: 5 } as const
export type VerdictKind = (typeof VerdictKind)[keyof typeof VerdictKind]
export const VERDICT_NAMES = ["accept", "drop", "continue", "return", "jump", "goto"]

export interface Verdict {
  readonly kind: VerdictKind
  /** Target chain for jump/goto, "" otherwise. */
  readonly chain: string
}

/** One element of a set/map literal or `add element`: a key (one integer per concatenated field). */
export interface ElementAst {
  readonly key: readonly number[]
  /** Prefix length of an interval element (single-field keys only); 32 for a plain address. */
  readonly prefixLength: number
  readonly comment: string
  readonly verdict: Verdict | null
  /** Per-element `timeout Ns` in seconds, -1 when absent. */
  readonly timeoutS: number
  readonly token: Token
}

export type Statement =
  | {
      readonly kind: "match"
      readonly selectors: readonly Selector[]
      readonly negate: boolean
      /** `mark and M == V`: mask applied to the loaded value before comparing; -1 when absent. */
      readonly andMask: number
      /** Value (or network address) compared; with prefixLength < width a prefix match. */
      readonly value: number
      readonly prefixLength: number
    }
  | {
      readonly kind: "lookup"
      readonly selectors: readonly Selector[]
      readonly negate: boolean
      /** Named set (`@name`) or "" for an anonymous set in `elements`. */
      readonly set: string
      readonly elements: readonly ElementAst[]
    }
  | {
      readonly kind: "vmap"
      readonly selectors: readonly Selector[]
      /** `numgen random mod N [offset O]` key instead of selectors when modulus > 0. */
      readonly numgenModulus: number
      readonly numgenOffset: number
      readonly map: string
      readonly elements: readonly ElementAst[]
    }
  | { readonly kind: "verdict"; readonly verdict: Verdict }
  | { readonly kind: "reject" }
  | {
      readonly kind: "masquerade"
      readonly fullyRandom: boolean
      readonly random: boolean
      readonly persistent: boolean
    }
  | { readonly kind: "dnat"; readonly address: number; readonly port: number }
  /** `meta mark set meta mark or|xor|and V` or `meta mark set V` (op "set"). */
  | { readonly kind: "mark"; readonly op: "set" | "or" | "xor" | "and"; readonly value: number }
  | {
      readonly kind: "update"
      readonly set: string
      readonly selectors: readonly Selector[]
      readonly timeoutS: number
    }
  | { readonly kind: "counter" }

export interface RuleAst {
  readonly statements: readonly Statement[]
  /** The rule as written (tokens joined by single spaces, as knftables writes them), without the comment. */
  readonly text: string
  readonly comment: string
  readonly token: Token
}

export interface ChainSpec {
  readonly type: "filter" | "nat" | "route"
  readonly hook: string
  readonly priority: number
  readonly policy: "accept" | "drop"
}

export type Command =
  | {
      readonly op: "add" | "create" | "flush" | "delete"
      readonly object: "table"
      readonly comment: string
      readonly token: Token
    }
  | {
      readonly op: "add" | "create" | "flush" | "delete"
      readonly object: "chain"
      readonly name: string
      readonly spec: ChainSpec | null
      readonly comment: string
      readonly token: Token
    }
  | {
      readonly op: "add" | "create" | "flush" | "delete"
      readonly object: "set" | "map"
      readonly name: string
      readonly keyTypes: readonly DataType[]
      readonly flags: readonly string[]
      readonly timeoutS: number
      readonly size: number
      readonly comment: string
      /** Elements given in the declaration (`elements = { ... }`). */
      readonly elements: readonly ElementAst[]
      readonly declared: boolean
      readonly token: Token
    }
  | {
      readonly op: "add" | "create" | "delete"
      readonly object: "element"
      readonly name: string
      readonly elements: readonly ElementAst[]
      readonly token: Token
    }
  | {
      readonly op: "add" | "insert"
      readonly object: "rule"
      readonly chain: string
      readonly rule: RuleAst
      readonly token: Token
    }

export interface Transaction {
  readonly file: string
  readonly family: string
  readonly table: string
  readonly commands: readonly Command[]
}

// ---------------------------------------------------------------------------------------------
// Standard priorities (nft's rule.c std_prios, IPv4/IPv6/inet families)

export const STANDARD_PRIORITIES: readonly (readonly [string, number])[] = [
  ["raw", -300],
  ["mangle", -150],
  ["dstnat", -100],
  ["filter", 0],
  ["security", 50],
  ["srcnat", 100],
]

export const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = { icmp: 1, tcp: 6, udp: 17, sctp: 132 }

const CT_STATE_BITS: Readonly<Record<string, number>> = {
  // nf_conntrack's NF_CT_STATE_BIT(ctinfo) = 1 << (ctinfo + 1); invalid = 1, untracked = 1 << 6
  // (nft's ct.c ct_state_tbl). Values as `nft --debug=netlink` shows for `ct state new`: 0x8.
  invalid: 1,
  established: 2,
  related: 4,
  new: 8,
  untracked: 64,
}

const FIB_TYPES: Readonly<Record<string, number>> = {
  // RTN_* (include/uapi/linux/rtnetlink.h): `fib saddr type local` is cmp eq 0x2.
  unspec: 0,
  unicast: 1,
  local: 2,
  broadcast: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
}
export const FIB_TYPE_NAMES = Object.keys(FIB_TYPES)
export const CT_STATE_NAMES = Object.entries(CT_STATE_BITS)

// ---------------------------------------------------------------------------------------------
// Parser

class Cursor {
  pos = 0
  constructor(
    readonly tokens: readonly Token[],
    readonly file: string,
    readonly end: number,
    readonly source: string,
  ) {}

  atEnd(): boolean {
    return this.pos >= this.end
  }
  peek(offset = 0): Token | undefined {
    return this.pos + offset < this.end ? this.tokens[this.pos + offset] : undefined
  }
  is(text: string, offset = 0): boolean {
    const t = this.peek(offset)
    return t !== undefined && !t.quoted && t.text === text
  }
  last(): Token {
    return this.tokens[Math.min(this.pos, this.end) - 1] ?? this.tokens[0]
  }
  next(what: string): Token {
    const t = this.peek()
    if (t === undefined) {
      const l = this.last()
      throw new NftParseError(this.file, l.line, l.column + l.text.length, `expected ${what}, got end of command`)
    }
    this.pos++
    return t
  }
  expect(text: string): Token {
    const t = this.next(`"${text}"`)
    if (t.quoted || t.text !== text) this.fail(t, `expected "${text}", got "${t.text}"`)
    return t
  }
  accept(text: string): boolean {
    if (this.is(text)) {
      this.pos++
      return true
    }
    return false
  }
  fail(t: Token, detail: string): never {
    throw new NftParseError(this.file, t.line, t.column, detail)
  }
}

/**
 * Parses a whole `nft -f` file. All commands must name the same family and table (kube-proxy's
 * transaction touches only its own table); the first command fixes them.
 */
/** The most tokens parseTransaction held at once (one command's; tests pin that it is not the text's). */
export const nftParseStats = { tokensHeldMax: 0 }

export function parseTransaction(text: string, file = "<nft>"): Transaction {
  // The whole text is scanned first for the one error the scanner reports (an unterminated
  // string), so that it is reported before any command's, as when every token was read first.
  const check = new Lexer(text, file, false)
  while (check.next());
  const lexer = new Lexer(text, file, true)
  const commands: Command[] = []
  let family = ""
  let table = ""
  let more = true
  while (more) {
    // A command runs to the first newline or `;` outside braces (newlines inside are dropped).
    const body: Token[] = []
    let depth = 0
    more = false
    while (lexer.next()) {
      if (lexer.quoted) {
        body.push(lexer.token())
        continue
      }
      if (lexer.newline) {
        if (depth === 0) {
          more = true
          break
        }
        continue
      }
      const t = lexer.token()
      if (t.text === "{") depth++
      else if (t.text === "}") depth--
      else if (depth === 0 && t.text === ";") {
        more = true
        break
      }
      body.push(t)
    }
    if (body.length === 0) continue
    if (body.length > nftParseStats.tokensHeldMax) nftParseStats.tokensHeldMax = body.length
    const c = new Cursor(body, file, body.length, text)
    const command = parseCommand(c)
    if (!c.atEnd()) c.fail(c.peek()!, `unexpected "${c.peek()!.text}"`)
    const named = commandTable(command)
    if (family === "") {
      family = named.family
      table = named.table
    } else if (named.family !== family || named.table !== table) {
      c.fail(command.token, `command for table ${named.family} ${named.table} in a transaction for ${family} ${table}`)
    }
    commands.push(command)
  }
  return { file, family, table, commands }
}

const tableOf = new WeakMap<Command, { family: string; table: string }>()
function commandTable(c: Command): { family: string; table: string } {
  return tableOf.get(c)!
}

function parseCommand(c: Cursor): Command {
  const verb = c.next("command")
  const op = verb.text
  if (op !== "add" && op !== "create" && op !== "flush" && op !== "delete" && op !== "insert")
    c.fail(verb, `unknown command "${op}" (expected add, create, insert, flush or delete)`)
  const objectToken = c.next("object type")
  const object = objectToken.text
  const familyToken = c.next("family")
  if (familyToken.text !== "ip") c.fail(familyToken, `unsupported family "${familyToken.text}" (only ip)`)
  const tableName = c.next("table name").text
  let command: Command
  if (op === "insert" && object !== "rule") c.fail(verb, `insert applies to rules only`)
  switch (object) {
    case "table": {
      let comment = ""
      if (c.accept("{")) {
        while (!c.accept("}")) {
          if (c.accept(";")) continue
          const key = c.next("table attribute")
          if (key.text === "comment") comment = parseString(c)
          else c.fail(key, `unknown table attribute "${key.text}"`)
        }
      }
      command = { op: op as "add", object: "table", comment, token: verb }
      break
    }
    case "chain":
      command = parseChain(c, op as "add", verb)
      break
    case "set":
    case "map":
      command = parseSet(c, op as "add", object, verb)
      break
    case "element": {
      if (op === "flush" || op === "insert") c.fail(verb, `${op} element is not a command`)
      const name = c.next("set name").text
      c.expect("{")
      const elements = parseElements(c, true)
      command = { op: op as "add", object: "element", name, elements, token: verb }
      break
    }
    case "rule": {
      if (op !== "add" && op !== "insert") c.fail(verb, `${op} rule is not supported (kube-proxy flushes chains)`)
      const chain = c.next("chain name").text
      const rule = parseRule(c, verb)
      command = { op, object: "rule", chain, rule, token: verb }
      break
    }
    default:
      c.fail(objectToken, `unknown object "${object}" (expected table, chain, set, map, element or rule)`)
  }
  tableOf.set(command, { family: familyToken.text, table: tableName })
  return command
}

function parseString(c: Cursor): string {
  const t = c.next("string")
  if (!t.quoted) c.fail(t, `expected a quoted string, got "${t.text}"`)
  return t.text
}

function parseInteger(c: Cursor, what: string): number {
  const t = c.next(what)
  const v = integerValue(t.text)
  if (v === undefined) c.fail(t, `expected ${what}, got "${t.text}"`)
  return v
}

function integerValue(text: string): number | undefined {
  if (/^-?\d+$/.test(text)) return Number(text)
  if (/^0x[0-9a-fA-F]{1,8}$/.test(text)) return Number(text) >>> 0
  return undefined
}

/** `10800s`, `3h`, `1d2h3m4s` as nft's time type; returns seconds. */
function parseTime(c: Cursor): number {
  const t = c.next("time")
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t.text)
  if (m === null || t.text === "") c.fail(t, `expected a time like 10800s, got "${t.text}"`)
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0)
}

function parseChain(c: Cursor, op: "add" | "create" | "flush" | "delete", verb: Token): Command {
  const name = c.next("chain name").text
  let spec: ChainSpec | null = null
  let comment = ""
  if (c.accept("{")) {
    let type: string | null = null
    let hook = ""
    let priority = 0
    let policy: "accept" | "drop" = "accept"
    while (!c.accept("}")) {
      if (c.accept(";")) continue
      const key = c.next("chain attribute")
      if (key.text === "type") {
        const typeToken = c.next("chain type")
        type = typeToken.text
        if (type !== "filter" && type !== "nat" && type !== "route") c.fail(typeToken, `unknown chain type "${type}"`)
        c.expect("hook")
        const hookToken = c.next("hook")
        hook = hookToken.text
        if (!["prerouting", "input", "forward", "output", "postrouting"].includes(hook))
          c.fail(hookToken, `unknown hook "${hook}"`)
        c.expect("priority")
        priority = parsePriority(c)
      } else if (key.text === "policy") {
        const p = c.next("policy")
        if (p.text !== "accept" && p.text !== "drop") c.fail(p, `policy must be accept or drop, got "${p.text}"`)
        policy = p.text
      } else if (key.text === "comment") comment = parseString(c)
      else c.fail(key, `unknown chain attribute "${key.text}"`)
    }
    if (type !== null) spec = { type: type as ChainSpec["type"], hook, priority, policy }
  }
  return { op, object: "chain", name, spec, comment, token: verb }
}

/** `-110`, `dstnat`, `dstnat - 10`, `filter + 5` (knftables writes numbers; nft lists names). */
function parsePriority(c: Cursor): number {
  const t = c.next("priority")
  const n = integerValue(t.text)
  if (n !== undefined) return n
  const std = STANDARD_PRIORITIES.find(([name]) => name === t.text)
  if (std === undefined) c.fail(t, `unknown priority "${t.text}"`)
  let value = std[1]
  if (c.is("+") || c.is("-")) {
    const sign = c.next("sign").text === "+" ? 1 : -1
    value += sign * parseInteger(c, "priority offset")
  } else {
    // `dstnat-10` written without spaces (knftables' input form).
    const m = /^([a-z]+)([+-]\d+)$/.exec(t.text)
    if (m !== null) value = STANDARD_PRIORITIES.find(([name]) => name === m[1])![1] + Number(m[2])
  }
  return value
}

const DATA_TYPES: Readonly<Record<string, DataType>> = {
  ipv4_addr: DataType.IPV4_ADDR,
  inet_proto: DataType.INET_PROTO,
  inet_service: DataType.INET_SERVICE,
  mark: DataType.MARK,
}

function parseSet(c: Cursor, op: "add" | "create" | "flush" | "delete", object: "set" | "map", verb: Token): Command {
  const name = c.next(`${object} name`).text
  const keyTypes: DataType[] = []
  const flags: string[] = []
  let timeoutS = -1
  let size = -1
  let comment = ""
  let elements: ElementAst[] = []
  let declared = false
  if (c.accept("{")) {
    declared = true
    while (!c.accept("}")) {
      if (c.accept(";")) continue
      const key = c.next(`${object} attribute`)
      switch (key.text) {
        case "type":
          for (;;) {
            const t = c.next("data type")
            const dt = DATA_TYPES[t.text]
            if (dt === undefined) c.fail(t, `unsupported data type "${t.text}"`)
            keyTypes.push(dt)
            if (!c.accept(".")) break
          }
          if (object === "map") {
            c.expect(":")
            const v = c.next("map value type")
            if (v.text !== "verdict") c.fail(v, `only verdict maps are supported, got "${v.text}"`)
          }
          break
        case "flags":
          for (;;) {
            const f = c.next("flag")
            if (!["constant", "interval", "timeout", "dynamic"].includes(f.text))
              c.fail(f, `unknown set flag "${f.text}"`)
            flags.push(f.text)
            if (!c.accept(",")) break
          }
          break
        case "timeout":
          timeoutS = parseTime(c)
          break
        case "size":
          size = parseInteger(c, "size")
          break
        case "comment":
          comment = parseString(c)
          break
        case "elements":
          c.expect("=")
          c.expect("{")
          elements = parseElements(c, object === "map")
          break
        default:
          c.fail(key, `unknown ${object} attribute "${key.text}"`)
      }
    }
    if ((op === "add" || op === "create") && keyTypes.length === 0) c.fail(verb, `${object} ${name} needs a type`)
  }
  return { op, object, name, keyTypes, flags, timeoutS, size, comment, elements, declared, token: verb }
}

/** Elements after `{` up to and including `}`. Keys are parsed untyped here; ruleset.ts checks them. */
function parseElements(c: Cursor, allowVerdict: boolean): ElementAst[] {
  const out: ElementAst[] = []
  while (!c.accept("}")) {
    if (out.length > 0) c.expect(",")
    if (c.accept("}")) break
    const token = c.peek() ?? c.last()
    const key: number[] = []
    let prefixLength = 32
    for (;;) {
      const t = c.next("element key")
      const v = parseKeyValue(t.text)
      if (v === undefined) c.fail(t, `cannot parse element key "${t.text}"`)
      key.push(v.value)
      prefixLength = v.prefixLength
      if (!c.accept(".")) break
    }
    let comment = ""
    let timeoutS = -1
    for (;;) {
      if (c.accept("comment")) comment = parseString(c)
      else if (c.accept("timeout")) timeoutS = parseTime(c)
      else break
    }
    let verdict: Verdict | null = null
    if (c.accept(":")) {
      if (!allowVerdict) c.fail(c.last(), `element value in a set`)
      verdict = parseVerdict(c)
    }
    out.push({ key, prefixLength, comment, verdict, timeoutS, token })
  }
  return out
}

/** An address, address/prefix, protocol name, port, or integer. Types are checked against the set. */
function parseKeyValue(text: string): { value: number; prefixLength: number } | undefined {
  const slash = text.indexOf("/")
  const addr = parseIpv4(slash < 0 ? text : text.slice(0, slash))
  if (addr !== undefined) {
    if (slash < 0) return { value: addr, prefixLength: 32 }
    const p = text.slice(slash + 1)
    if (!/^\d{1,2}$/.test(p) || Number(p) > 32) return undefined
    return { value: addr, prefixLength: Number(p) }
  }
  const proto = PROTOCOL_NUMBERS[text]
  if (proto !== undefined) return { value: proto, prefixLength: 32 }
  const n = integerValue(text)
  if (n !== undefined && n >= 0) return { value: n, prefixLength: 32 }
  return undefined
}

function parseVerdict(c: Cursor): Verdict {
  const t = c.next("verdict")
  const kind = VERDICT_NAMES.indexOf(t.text)
  if (kind < 0) c.fail(t, `expected a verdict, got "${t.text}"`)
  if (kind === VerdictKind.JUMP || kind === VerdictKind.GOTO)
    return { kind: kind as VerdictKind, chain: c.next("chain name").text }
  return { kind: kind as VerdictKind, chain: "" }
}

// ---------------------------------------------------------------------------------------------
// Rules

function parseRule(c: Cursor, verb: Token): RuleAst {
  const statements: Statement[] = []
  const words: string[] = []
  let comment = ""
  while (!c.atEnd()) {
    if (c.accept("comment")) {
      comment = parseString(c)
      continue
    }
    const from = c.pos
    statements.push(parseStatement(c))
    words.push(c.source.slice(c.tokens[from].start, c.tokens[c.pos - 1].end))
  }
  if (statements.length === 0) c.fail(verb, "empty rule")
  return { statements, text: words.join(" "), comment, token: verb }
}

function parseStatement(c: Cursor): Statement {
  const t = c.peek()!
  switch (t.text) {
    case "accept":
    case "drop":
    case "continue":
    case "return":
    case "jump":
    case "goto":
      return { kind: "verdict", verdict: parseVerdict(c) }
    case "reject":
      c.pos++
      return { kind: "reject" }
    case "counter":
      c.pos++
      return { kind: "counter" }
    case "masquerade": {
      c.pos++
      let fullyRandom = false
      let random = false
      let persistent = false
      for (;;) {
        if (c.accept("fully-random")) fullyRandom = true
        else if (c.accept("random")) random = true
        else if (c.accept("persistent")) persistent = true
        else if (c.accept(",")) continue
        else break
      }
      return { kind: "masquerade", fullyRandom, random, persistent }
    }
    case "dnat": {
      c.pos++
      c.accept("ip")
      c.expect("to")
      const target = c.next("address[:port]")
      const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(target.text)
      const address = m === null ? undefined : parseIpv4(m[1])
      if (m === null || address === undefined) c.fail(target, `expected address[:port], got "${target.text}"`)
      const port = m[2] === undefined ? 0 : Number(m[2])
      if (port > 65535) c.fail(target, `port out of range: ${port}`)
      return { kind: "dnat", address, port }
    }
    case "update":
    case "add": {
      c.pos++
      const setToken = c.next("@set")
      if (!setToken.text.startsWith("@")) c.fail(setToken, `expected @set, got "${setToken.text}"`)
      c.expect("{")
      const selectors = parseSelectors(c)
      let timeoutS = -1
      if (c.accept("timeout")) timeoutS = parseTime(c)
      c.expect("}")
      return { kind: "update", set: setToken.text.slice(1), selectors, timeoutS }
    }
    case "mark":
    case "meta":
      if (c.is("set", t.text === "meta" ? 2 : 1)) return parseMarkSet(c)
      break
    case "numgen":
      return parseNumgen(c)
  }
  return parseMatch(c)
}

/** `[meta] mark set [meta] mark or|xor|and|'|'|'^'|'&' V` or `[meta] mark set V`. */
function parseMarkSet(c: Cursor): Statement {
  if (c.accept("meta")) {
    const k = c.next("meta key")
    if (k.text !== "mark") c.fail(k, `only meta mark can be set, got "${k.text}"`)
  } else c.expect("mark")
  c.expect("set")
  if (c.is("mark") || (c.is("meta") && c.is("mark", 1))) {
    if (c.accept("meta")) c.pos++
    else c.pos++
    const opToken = c.next("operator")
    const op = { or: "or", "|": "or", xor: "xor", "^": "xor", and: "and", "&": "and" }[opToken.text]
    if (op === undefined) c.fail(opToken, `expected or, xor or and, got "${opToken.text}"`)
    return { kind: "mark", op: op as "or", value: parseInteger(c, "mark value") >>> 0 }
  }
  return { kind: "mark", op: "set", value: parseInteger(c, "mark value") >>> 0 }
}

function parseNumgen(c: Cursor): Statement {
  c.expect("numgen")
  const mode = c.next("numgen mode")
  if (mode.text !== "random") c.fail(mode, `only numgen random is supported, got "${mode.text}"`)
  c.expect("mod")
  const modTok = c.peek()
  const modulus = parseInteger(c, "modulus")
  if (modulus < 1 || modulus > 0xffffffff) c.fail(modTok!, `numgen modulus must be in 1..2^32-1`)
  let offset = 0
  if (c.accept("offset")) offset = parseInteger(c, "offset")
  c.expect("vmap")
  return { kind: "vmap", selectors: [], numgenModulus: modulus, numgenOffset: offset, ...parseMapTarget(c) }
}

function parseMapTarget(c: Cursor): { map: string; elements: ElementAst[] } {
  if (c.accept("{")) return { map: "", elements: parseElements(c, true) }
  const t = c.next("@map or { elements }")
  if (!t.text.startsWith("@")) c.fail(t, `expected @map or {, got "${t.text}"`)
  return { map: t.text.slice(1), elements: [] }
}

const L4 = new Set(["tcp", "udp", "sctp"])

function parseSelector(c: Cursor): Selector {
  const t = c.next("expression")
  const field = (name: string): string => c.next(`${name} field`).text
  switch (t.text) {
    case "ip": {
      const f = field("ip")
      if (f === "saddr") return { field: Field.IP_SADDR, protocol: 0 }
      if (f === "daddr") return { field: Field.IP_DADDR, protocol: 0 }
      return c.fail(c.last(), `unsupported ip field "${f}"`)
    }
    case "meta": {
      const f = field("meta")
      if (f === "l4proto") return { field: Field.META_L4PROTO, protocol: 0 }
      if (f === "mark") return { field: Field.META_MARK, protocol: 0 }
      return c.fail(c.last(), `unsupported meta key "${f}"`)
    }
    case "mark":
      return { field: Field.META_MARK, protocol: 0 }
    case "th": {
      const f = field("th")
      if (f === "sport") return { field: Field.TH_SPORT, protocol: 0 }
      if (f === "dport") return { field: Field.TH_DPORT, protocol: 0 }
      return c.fail(c.last(), `unsupported th field "${f}"`)
    }
    case "ct": {
      const f = field("ct")
      if (f === "state") return { field: Field.CT_STATE, protocol: 0 }
      return c.fail(c.last(), `unsupported ct key "${f}"`)
    }
    case "fib": {
      const f = field("fib")
      c.expect("type")
      if (f === "saddr") return { field: Field.FIB_SADDR_TYPE, protocol: 0 }
      if (f === "daddr") return { field: Field.FIB_DADDR_TYPE, protocol: 0 }
      return c.fail(c.last(), `unsupported fib flag "${f}"`)
    }
    default:
      if (L4.has(t.text)) {
        const f = field(t.text)
        const protocol = PROTOCOL_NUMBERS[t.text]
        if (f === "sport") return { field: Field.L4_SPORT, protocol }
        if (f === "dport") return { field: Field.L4_DPORT, protocol }
        return c.fail(c.last(), `unsupported ${t.text} field "${f}"`)
      }
      return c.fail(t, `unknown expression "${t.text}"`)
  }
}

function parseSelectors(c: Cursor): Selector[] {
  const out = [parseSelector(c)]
  while (c.accept(".")) out.push(parseSelector(c))
  return out
}

/** Data type of a selector's value. */
export function fieldType(field: Field): DataType {
  switch (field) {
    case Field.IP_SADDR:
    case Field.IP_DADDR:
      return DataType.IPV4_ADDR
    case Field.META_L4PROTO:
      return DataType.INET_PROTO
    case Field.META_MARK:
      return DataType.MARK
    case Field.CT_STATE:
      return DataType.CT_STATE
    case Field.FIB_SADDR_TYPE:
    case Field.FIB_DADDR_TYPE:
      return DataType.FIB_ADDRTYPE
    default:
      return DataType.INET_SERVICE
  }
}

function parseMatch(c: Cursor): Statement {
  const selectors = parseSelectors(c)
  let andMask = -1
  if (c.accept("and") || c.accept("&")) {
    if (selectors.length !== 1 || selectors[0].field !== Field.META_MARK)
      c.fail(c.last(), `"and" is supported on mark only`)
    andMask = parseInteger(c, "mask") >>> 0
  }
  if (c.accept("vmap")) {
    if (andMask >= 0) c.fail(c.last(), `vmap after and`)
    return { kind: "vmap", selectors, numgenModulus: 0, numgenOffset: 0, ...parseMapTarget(c) }
  }
  let negate = false
  if (c.accept("!=")) negate = true
  else c.accept("==")
  if (c.is("{") || c.peek()?.text.startsWith("@") === true) {
    if (andMask >= 0) c.fail(c.last(), `set lookup after and`)
    const { map, elements } = parseMapTarget(c)
    return { kind: "lookup", selectors, negate, set: map, elements }
  }
  if (selectors.length !== 1) c.fail(c.last(), `a concatenation needs a set or map`)
  const type = fieldType(selectors[0].field)
  const t = c.next("value")
  let valueText = t.text
  // `ct state established,related`: the tokenizer splits at commas; rejoin the flag list.
  while (type === DataType.CT_STATE && c.is(",")) {
    c.pos++
    valueText += `,${c.next("ct state").text}`
  }
  const parsed = parseTypedValue(type, valueText)
  if (parsed === undefined) c.fail(t, `"${valueText}" is not a valid ${DATA_TYPE_NAMES[type]}`)
  return { kind: "match", selectors, negate, andMask, value: parsed.value, prefixLength: parsed.prefixLength }
}

/** A value of `type` as the rule syntax writes it (names for protocols, ct states, fib types). */
export function parseTypedValue(type: DataType, text: string): { value: number; prefixLength: number } | undefined {
  switch (type) {
    case DataType.IPV4_ADDR: {
      const v = parseKeyValue(text)
      return v !== undefined && text.includes(".") ? v : undefined
    }
    case DataType.INET_PROTO: {
      const v = PROTOCOL_NUMBERS[text] ?? integerValue(text)
      return v !== undefined && v >= 0 && v <= 255 ? { value: v, prefixLength: 32 } : undefined
    }
    case DataType.INET_SERVICE: {
      const v = integerValue(text)
      return v !== undefined && v >= 0 && v <= 65535 ? { value: v, prefixLength: 32 } : undefined
    }
    case DataType.MARK: {
      const v = integerValue(text)
      return v !== undefined ? { value: v >>> 0, prefixLength: 32 } : undefined
    }
    case DataType.CT_STATE: {
      let bits = 0
      for (const name of text.split(",")) {
        const b = CT_STATE_BITS[name]
        if (b === undefined) return undefined
        bits |= b
      }
      return { value: bits, prefixLength: 32 }
    }
    case DataType.FIB_ADDRTYPE: {
      const v = FIB_TYPES[text]
      return v === undefined ? undefined : { value: v, prefixLength: 32 }
    }
  }
  return undefined
}
