/**
 * `nft list table ip <name>` output of the loaded table, as nftables 1.0.6 prints it (checked line
 * for line against the real tool in the tests): tab indentation, sets and maps in creation order,
 * then chains in creation order, rule text in nft's normalised spelling (`meta mark set meta mark |
 * 0x00004000`), symbolic priorities within ±10 of a standard one valid for the hook (rule.c
 * prio2str), set elements sorted (mergesort.c) and wrapped as expression.c set_expr_print does.
 */
import { formatIpv4 } from "../../wire/ipv4.ts"
import type { DataType, ElementAst, Selector, Statement, Verdict } from "./parse.ts"
import {
  CT_STATE_NAMES,
  DATA_TYPE_BITS,
  DATA_TYPE_NAMES,
  DataType as DT,
  FIB_TYPE_NAMES,
  Field,
  PROTOCOL_NUMBERS,
  STANDARD_PRIORITIES,
  VERDICT_NAMES,
  fieldType,
} from "./parse.ts"
import type { NftChain, NftElement, NftSet, NftTable } from "./ruleset.ts"
import { SET_FLAG, mergedElements } from "./ruleset.ts"

const PROTOCOL_NAMES = new Map(Object.entries(PROTOCOL_NUMBERS).map(([name, n]) => [n, name]))

/** rule.c prio2str: a standard priority name (+/- offset up to 10) when valid for the hook, else the number. */
export function formatPriority(priority: number, hook: string): string {
  for (const [name, value] of STANDARD_PRIORITIES) {
    // std_prio_family_hook_compat: dstnat only on prerouting, srcnat only on postrouting.
    if (name === "dstnat" && hook !== "prerouting") continue
    if (name === "srcnat" && hook !== "postrouting") continue
    const offset = priority - value
    if (offset > 10 || offset < -10) continue
    return offset === 0 ? name : offset > 0 ? `${name} + ${offset}` : `${name} - ${-offset}`
  }
  return String(priority)
}

/** nft's time_print: `3h`, `1m30s`, `1m29s980ms`. */
export function formatTimeMs(ms: number): string {
  const days = Math.floor(ms / 86400000)
  ms -= days * 86400000
  const hours = Math.floor(ms / 3600000)
  ms -= hours * 3600000
  const minutes = Math.floor(ms / 60000)
  ms -= minutes * 60000
  const seconds = Math.floor(ms / 1000)
  ms -= seconds * 1000
  let out = ""
  if (days > 0) out += `${days}d`
  if (hours > 0) out += `${hours}h`
  if (minutes > 0) out += `${minutes}m`
  if (seconds > 0) out += `${seconds}s`
  if (ms > 0) out += `${ms}ms`
  return out === "" ? "0s" : out
}

function quote(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`
}

function formatValue(type: DataType, value: number, prefixLength = 32): string {
  switch (type) {
    case DT.IPV4_ADDR:
      return prefixLength === 32 ? formatIpv4(value) : `${formatIpv4(value)}/${prefixLength}`
    case DT.INET_PROTO:
      return PROTOCOL_NAMES.get(value) ?? String(value)
    case DT.INET_SERVICE:
      return String(value)
    case DT.MARK:
      return `0x${value.toString(16).padStart(8, "0")}`
    case DT.CT_STATE:
      return CT_STATE_NAMES.filter(([, bit]) => (value & bit) !== 0)
        .map(([name]) => name)
        .join(",")
    case DT.FIB_ADDRTYPE:
      return FIB_TYPE_NAMES[value] ?? String(value)
  }
  return String(value)
}

function formatVerdict(v: Verdict): string {
  return v.chain === "" ? VERDICT_NAMES[v.kind] : `${VERDICT_NAMES[v.kind]} ${v.chain}`
}

function formatSelector(s: Selector): string {
  switch (s.field) {
    case Field.IP_SADDR:
      return "ip saddr"
    case Field.IP_DADDR:
      return "ip daddr"
    case Field.META_L4PROTO:
      return "meta l4proto"
    case Field.TH_SPORT:
      return "th sport"
    case Field.TH_DPORT:
      return "th dport"
    case Field.META_MARK:
      return "meta mark"
    case Field.CT_STATE:
      return "ct state"
    case Field.FIB_SADDR_TYPE:
      return "fib saddr type"
    case Field.FIB_DADDR_TYPE:
      return "fib daddr type"
    case Field.L4_SPORT:
      return `${PROTOCOL_NAMES.get(s.protocol)} sport`
    case Field.L4_DPORT:
      return `${PROTOCOL_NAMES.get(s.protocol)} dport`
  }
  return "?"
}

/**
 * mergesort.c: elements compare by one integer; a concatenation's integer is its fields exported
 * in network order, concatenated, and imported host-endian (little-endian on x86), so the *last*
 * byte is the most significant (`tcp . 80` sorts by the port's low byte first).
 */
function sortKey(key: readonly number[], types: readonly DataType[]): bigint {
  if (key.length === 1) return BigInt(key[0])
  const bytes: number[] = []
  for (let i = 0; i < key.length; i++) {
    const n = DATA_TYPE_BITS[types[i]] / 8
    for (let b = n - 1; b >= 0; b--) bytes.push(Math.floor(key[i] / 2 ** (8 * b)) & 255)
  }
  let v = 0n
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i])
  return v
}

function sortElements<T extends { key: readonly number[] }>(elements: readonly T[], types: readonly DataType[]): T[] {
  return elements
    .map((e) => ({ e, k: sortKey(e.key, types) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((x) => x.e)
}

function formatElement(
  e: { key: readonly number[]; prefixLength: number; comment: string; verdict: Verdict | null },
  types: readonly DataType[],
  extra: string,
): string {
  let out = e.key.map((v, i) => formatValue(types[i], v, e.key.length === 1 ? e.prefixLength : 32)).join(" . ")
  out += extra
  if (e.comment !== "") out += ` comment ${quote(e.comment)}`
  if (e.verdict !== null) out += ` : ${formatVerdict(e.verdict)}`
  return out
}

/** expression.c calculate_delim for a named set's elements. */
function delimiter(types: readonly DataType[], count: { n: number }, forceNewline: boolean): string {
  const newline = ",\n\t\t\t     "
  if (forceNewline) return newline
  if (types.length === 1) {
    const t = types[0]
    const perLine =
      t === DT.INET_PROTO || t === DT.INET_SERVICE || t === DT.MARK
        ? 5
        : t === DT.IPV4_ADDR || t === DT.CT_STATE
          ? 2
          : 0
    if (perLine > 0 && count.n < perLine) return ", "
    count.n = 0
  }
  return newline
}

function formatSetElements(set: NftSet, nowNs: number): string {
  const elements = sortElements(set.elements(), set.keyTypes).filter((e) => e.expiresNs < 0 || e.expiresNs > nowNs)
  const parts: string[] = []
  let out = "{ "
  const count = { n: 0 }
  for (let i = 0; i < elements.length; i++) {
    const e: NftElement = elements[i]
    let extra = ""
    if (e.timeoutS >= 0 && e.timeoutS !== set.timeoutS) extra += ` timeout ${formatTimeMs(e.timeoutS * 1000)}`
    if (e.expiresNs >= 0) extra += ` expires ${formatTimeMs(Math.floor((e.expiresNs - nowNs) / 1e6))}`
    if (i > 0) out += parts.pop()!
    out += formatElement(e, set.keyTypes, extra)
    count.n++
    parts.push(delimiter(set.keyTypes, count, false))
  }
  return `${out} }`
}

function formatSelectors(selectors: readonly Selector[]): string {
  return selectors.map(formatSelector).join(" . ")
}

/** An anonymous set or map written in a rule: sorted, `, `-separated, one element printed bare. */
function formatAnonymous(elements: readonly ElementAst[], types: readonly DataType[]): string {
  const sorted = sortElements(mergedElements(elements), types)
  return `{ ${sorted.map((e) => formatElement(e, types, "")).join(", ")} }`
}

export function formatStatement(s: Statement): string {
  switch (s.kind) {
    case "match": {
      const type = fieldType(s.selectors[0].field)
      let lhs = formatSelectors(s.selectors)
      if (s.andMask >= 0) lhs += ` & ${formatValue(DT.MARK, s.andMask)}`
      const value = formatValue(type, s.value, s.prefixLength)
      if (type === DT.CT_STATE || type === DT.FIB_ADDRTYPE) return s.negate ? `${lhs} != ${value}` : `${lhs} ${value}`
      if (s.andMask >= 0) return `${lhs} ${s.negate ? "!=" : "=="} ${value}`
      return s.negate ? `${lhs} != ${value}` : `${lhs} ${value}`
    }
    case "lookup": {
      const types = s.selectors.map((x) => fieldType(x.field))
      const op = s.negate ? " != " : " "
      if (s.set !== "") return `${formatSelectors(s.selectors)}${op}@${s.set}`
      // nft folds a one-element anonymous set into the element itself.
      if (s.elements.length === 1 && s.selectors.length === 1)
        return `${formatSelectors(s.selectors)}${op}${formatElement(s.elements[0], types, "")}`
      return `${formatSelectors(s.selectors)}${op}${formatAnonymous(s.elements, types)}`
    }
    case "vmap": {
      const lhs =
        s.numgenModulus > 0
          ? `numgen random mod ${s.numgenModulus}${s.numgenOffset > 0 ? ` offset ${s.numgenOffset}` : ""}`
          : formatSelectors(s.selectors)
      const types = s.numgenModulus > 0 ? [DT.INET_SERVICE] : s.selectors.map((x) => fieldType(x.field))
      return s.map !== "" ? `${lhs} vmap @${s.map}` : `${lhs} vmap ${formatAnonymous(s.elements, types)}`
    }
    case "verdict":
      return formatVerdict(s.verdict)
    case "reject":
      return "reject"
    case "counter":
      return "counter packets 0 bytes 0"
    case "masquerade": {
      const flags = [
        s.random ? "random" : "",
        s.fullyRandom ? "fully-random" : "",
        s.persistent ? "persistent" : "",
      ].filter((f) => f !== "")
      return flags.length === 0 ? "masquerade" : `masquerade ${flags.join(",")}`
    }
    case "dnat":
      return s.port > 0 ? `dnat to ${formatIpv4(s.address)}:${s.port}` : `dnat to ${formatIpv4(s.address)}`
    case "mark": {
      const v = formatValue(DT.MARK, s.value)
      if (s.op === "set") return `meta mark set ${v}`
      return `meta mark set meta mark ${s.op === "or" ? "|" : s.op === "xor" ? "^" : "&"} ${v}`
    }
    case "update": {
      const timeout = s.timeoutS >= 0 ? ` timeout ${formatTimeMs(s.timeoutS * 1000)}` : ""
      return `update @${s.set} { ${formatSelectors(s.selectors)}${timeout} }`
    }
  }
}

function printSet(set: NftSet, nowNs: number): string[] {
  const lines = [`\t${set.isMap ? "map" : "set"} ${set.name} {`]
  lines.push(`\t\ttype ${set.keyTypes.map((t) => DATA_TYPE_NAMES[t]).join(" . ")}${set.isMap ? " : verdict" : ""}`)
  if (set.size > 0) lines.push(`\t\tsize ${set.size}`)
  const flags: string[] = []
  if (set.flags & SET_FLAG.CONSTANT) flags.push("constant")
  if (set.flags & SET_FLAG.DYNAMIC) flags.push("dynamic")
  if (set.flags & SET_FLAG.INTERVAL) flags.push("interval")
  // A set with only a default timeout lists `timeout N` without the flag (nft derives it).
  if (set.flags & SET_FLAG.TIMEOUT && (set.timeoutS < 0 || flags.length > 0)) flags.push("timeout")
  if (flags.length > 0) lines.push(`\t\tflags ${flags.join(",")}`)
  if (set.timeoutS > 0) lines.push(`\t\ttimeout ${formatTimeMs(set.timeoutS * 1000)}`)
  if (set.comment !== "") lines.push(`\t\tcomment ${quote(set.comment)}`)
  if (set.count > 0) lines.push(`\t\telements = ${formatSetElements(set, nowNs)}`)
  lines.push("\t}")
  return lines
}

function printChain(chain: NftChain): string[] {
  const lines = [`\tchain ${chain.name} {`]
  const spec = chain.spec
  if (spec !== null)
    lines.push(
      `\t\ttype ${spec.type} hook ${spec.hook} priority ${formatPriority(spec.priority, spec.hook)}; policy ${spec.policy};`,
    )
  if (chain.comment !== "") lines.push(`\t\tcomment ${quote(chain.comment)}`)
  for (const rule of chain.rules) {
    let text = rule.ast.statements.map(formatStatement).join(" ")
    if (rule.ast.comment !== "") text += ` comment ${quote(rule.ast.comment)}`
    lines.push(`\t\t${text}`)
  }
  lines.push("\t}")
  return lines
}

/** The text `nft list table <family> <name>` prints (ends with a newline). */
export function listTable(table: NftTable, nowNs = 0): string {
  const blocks: string[][] = []
  const sets = [...table.sets.values()].sort((a, b) => table.setSeq.get(a.name)! - table.setSeq.get(b.name)!)
  for (const set of sets) blocks.push(printSet(set, nowNs))
  const chains = [...table.chains.values()].sort((a, b) => a.seq - b.seq)
  for (const chain of chains) blocks.push(printChain(chain))
  const head = [`table ${table.family} ${table.name} {`]
  if (table.comment !== "") head.push(`\tcomment ${quote(table.comment)}`)
  return `${head.join("\n")}\n${blocks.map((b) => b.join("\n")).join("\n\n")}${blocks.length > 0 ? "\n" : ""}}\n`
}

/**
 * The table as knftables' Fake.Dump writes it (kubernetes-sigs/knftables fake.go, v0.0.22): the
 * table, chains sorted by name, sets, maps, then every chain's rules (chains sorted, rules in
 * order), then set and map elements; one `add` line each. Rules keep their written spelling. This
 * is the form upstream's nftables proxier tests compare (after sortNFTablesTransaction).
 */
export function dumpTable(table: NftTable): string {
  const p = `${table.family} ${table.name}`
  const lines: string[] = []
  lines.push(table.comment === "" ? `add table ${p}` : `add table ${p} { comment ${quote(table.comment)} ; }`)
  const chains = [...table.chains.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const c of chains) {
    const attrs: string[] = []
    if (c.spec !== null) attrs.push(`type ${c.spec.type} hook ${c.spec.hook} priority ${c.spec.priority} ;`)
    if (c.spec !== null && c.spec.policy !== "accept") attrs.push(`policy ${c.spec.policy} ;`)
    if (c.comment !== "") attrs.push(`comment ${quote(c.comment)} ;`)
    lines.push(attrs.length === 0 ? `add chain ${p} ${c.name}` : `add chain ${p} ${c.name} { ${attrs.join(" ")} }`)
  }
  const byName = (a: NftSet, b: NftSet): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  const sets = [...table.sets.values()].filter((s) => !s.isMap).sort(byName)
  const maps = [...table.sets.values()].filter((s) => s.isMap).sort(byName)
  for (const s of [...sets, ...maps]) {
    const attrs = [`type ${s.keyTypes.map((t) => DATA_TYPE_NAMES[t]).join(" . ")}${s.isMap ? " : verdict" : ""} ;`]
    if (s.declaredFlags.length > 0) attrs.push(`flags ${s.declaredFlags.join(",")} ;`)
    if (s.timeoutS >= 0) attrs.push(`timeout ${s.timeoutS}s ;`)
    if (s.comment !== "") attrs.push(`comment ${quote(s.comment)} ;`)
    lines.push(`add ${s.isMap ? "map" : "set"} ${p} ${s.name} { ${attrs.join(" ")} }`)
  }
  for (const c of chains)
    for (const r of c.rules)
      lines.push(
        `add rule ${p} ${c.name} ${r.ast.text}${r.ast.comment === "" ? "" : ` comment ${quote(r.ast.comment)}`}`,
      )
  for (const s of [...sets, ...maps])
    for (const e of s.elements()) lines.push(`add element ${p} ${s.name} { ${formatElement(e, s.keyTypes, "")} }`)
  return `${lines.join("\n")}\n`
}
