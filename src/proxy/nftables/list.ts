/**
 * `nft list table ip kube-proxy` as nft 1.0.6 prints the table kube-proxy wrote, from the table
 * state (table.ts). Checked against the real `nft` on this machine's kernel (see
 * test/proxy/nftables-list.test.ts, which loads the same transaction with `nft -f` in a private
 * network namespace and compares).
 *
 * What nft does that is reproduced here (nft source: src/rule.c `table_print`, `chain_print`,
 * `set_print`, `prio2str`; src/expression.c `set_expr_print`/`calculate_delim`, `expr_msort_cmp`):
 * - sets and maps first, then chains, each group in creation (handle) order; a blank line between;
 * - base chain priorities named when within 10 of a standard priority valid for the hook
 *   (`dstnat - 10`, `filter`, `srcnat`), else numeric; `policy accept`;
 * - named set elements sorted as nft sorts them (a single value by its number; a concatenation by
 *   its bytes read as a host-endian, i.e. little-endian, integer); two IPv4 addresses a line in
 *   plain sets, one element a line in maps;
 * - rules re-printed in nft's canonical form: `meta mark`, `|`/`^`/`&`, marks as 32-bit hex,
 *   anonymous sets `{ a, b }` sorted and a one-element set collapsed to its value;
 * - timeouts as nft's time format (10800s -> 3h), `size 65535` on sets a dynset `update` uses.
 * Not printed: the elements the kernel adds to affinity sets at run time (they are packet state,
 * not part of what kube-proxy writes).
 */
import { compareStrings } from "../service-port.ts"
import { parseCidr, parseIpv4 } from "../../wire/ipv4.ts"
import type { NftChainSpec, NftElementSpec, NftRuleSpec, NftSetSpec, NftTable } from "./table.ts"
import { goQuote } from "./table.ts"

const STD_PRIORITIES: readonly { name: string; value: number; hooks: readonly string[] | null }[] = [
  { name: "raw", value: -300, hooks: null },
  { name: "mangle", value: -150, hooks: null },
  { name: "dstnat", value: -100, hooks: ["prerouting"] },
  { name: "filter", value: 0, hooks: null },
  { name: "security", value: 50, hooks: null },
  { name: "srcnat", value: 100, hooks: ["postrouting"] },
]

/** nft `prio2str` for the ip family. */
export function priorityText(priority: number, hook: string): string {
  for (const std of STD_PRIORITIES) {
    if (std.hooks !== null && !std.hooks.includes(hook)) continue
    const offset = priority - std.value
    if (offset === 0) return std.name
    if (Math.abs(offset) <= 10) return `${std.name} ${offset > 0 ? "+" : "-"} ${Math.abs(offset)}`
  }
  return String(priority)
}

/** nft's time format: 10800 -> "3h", 10801 -> "3h1s", 86400 -> "1d". */
export function nftTime(seconds: number): string {
  if (seconds === 0) return "0s"
  let rest = seconds
  let out = ""
  for (const [unit, size] of [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    const n = Math.floor(rest / size)
    if (n > 0) out += `${n}${unit}`
    rest -= n * size
  }
  return out
}

const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = { tcp: 6, udp: 17, sctp: 132 }

/** The bytes of one key component as the kernel stores it (network order). */
function componentBytes(text: string): number[] {
  const ip = parseIpv4(text)
  if (ip !== undefined) return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255]
  const proto = PROTOCOL_NUMBERS[text]
  if (proto !== undefined) return [proto]
  const port = Number(text)
  return [(port >>> 8) & 255, port & 255]
}

/** nft `expr_msort_cmp`: one value by number (big-endian bytes), a concatenation by host-endian bytes. */
function compareElements(a: NftElementSpec, b: NftElementSpec): number {
  let ba = a.key.flatMap(componentBytes)
  let bb = b.key.flatMap(componentBytes)
  if (a.key.length > 1) {
    ba = ba.reverse()
    bb = bb.reverse()
  }
  if (ba.length !== bb.length) return ba.length - bb.length
  for (let i = 0; i < ba.length; i++) if (ba[i] !== bb[i]) return ba[i] - bb[i]
  return 0
}

function elementText(e: NftElementSpec): string {
  let out = e.key.join(" . ")
  if (e.comment !== undefined) out += ` comment ${goQuote(e.comment)}`
  if (e.value.length > 0) out += ` : ${e.value.join(" . ")}`
  return out
}

const NEWLINE_DELIM = ",\n\t\t\t     "

function elementsBlock(set: NftSetSpec, isMap: boolean, elements: readonly NftElementSpec[]): string {
  const sorted = [...elements].sort(compareElements)
  // calculate_delim: maps and concatenations one a line; IPv4 addresses two a line.
  const perLine = !isMap && set.type === "ipv4_addr" ? 2 : 1
  let out = "{ "
  sorted.forEach((e, i) => {
    if (i > 0) out += i % perLine === 0 ? NEWLINE_DELIM : ", "
    out += elementText(e)
  })
  return out + " }"
}

function formatMark(text: string): string {
  return `0x${Number(text).toString(16).padStart(8, "0")}`
}

/** An anonymous set `{ a , b }` as nft prints it: sorted, ", " separated, one element unwrapped. */
function anonymousSet(items: readonly string[]): string {
  const sorted = [...items].sort((x, y) => {
    const cx = parseCidr(x, false)
    const cy = parseCidr(y, false)
    if (cx === undefined || cy === undefined) return compareStrings(x, y)
    return cx.address - cy.address || cx.prefixLength - cy.prefixLength
  })
  return sorted.length === 1 ? sorted[0] : `{ ${sorted.join(", ")} }`
}

/** kube-proxy's rule text re-printed the way nft lists it. */
export function canonicalRule(rule: string): string {
  let out = rule
  out = out.replace(/^mark set mark or (0x[0-9a-f]+)$/, (_, m: string) => `meta mark set meta mark | ${formatMark(m)}`)
  out = out.replace(/^mark set mark xor (0x[0-9a-f]+)$/, (_, m: string) => `meta mark set meta mark ^ ${formatMark(m)}`)
  out = out.replace(
    /^mark and (0x[0-9a-f]+) == (\S+) return$/,
    (_, m: string, v: string) => `meta mark & ${formatMark(m)} == ${formatMark(v)} return`,
  )
  // Anonymous sets: "{ a , b }" (knftables tokens) or "{ a,b }" (one comma-joined token).
  out = out.replace(/(ip [sd]addr (?:!= )?)\{ ([^}:]*) \}/g, (_, lead: string, body: string) => {
    const items = body
      .split(/\s*,\s*/)
      .map((s) => s.trim())
      .filter((s) => s !== "")
    return lead + anonymousSet(items)
  })
  // Verdict maps written inline: " , " between elements becomes ", ".
  out = out.replace(/ , /g, ", ")
  return out
}

function chainBlock(spec: NftChainSpec, rules: readonly NftRuleSpec[]): string {
  const lines = [`\tchain ${spec.name} {`]
  if (spec.comment !== undefined) lines.push(`\t\tcomment ${goQuote(spec.comment)}`)
  if (spec.type !== undefined && spec.hook !== undefined && spec.priority !== undefined)
    lines.push(
      `\t\ttype ${spec.type} hook ${spec.hook} priority ${priorityText(spec.priority, spec.hook)}; policy accept;`,
    )
  for (const rule of rules) {
    let text = `\t\t${canonicalRule(rule.rule)}`
    if (rule.comment !== undefined) text += ` comment ${goQuote(rule.comment)}`
    lines.push(text)
  }
  lines.push("\t}")
  return lines.join("\n")
}

function setBlock(
  spec: NftSetSpec,
  isMap: boolean,
  elements: readonly NftElementSpec[],
  updatedByRule: boolean,
): string {
  const lines = [`\t${isMap ? "map" : "set"} ${spec.name} {`, `\t\ttype ${spec.type}`]
  // The kernel gives a set a dynset `update` writes to the default size 65535.
  if (updatedByRule) lines.push("\t\tsize 65535")
  if (spec.flags !== undefined && spec.flags.length > 0) lines.push(`\t\tflags ${spec.flags.join(",")}`)
  if (spec.timeoutSeconds !== undefined) lines.push(`\t\ttimeout ${nftTime(spec.timeoutSeconds)}`)
  if (spec.comment !== undefined) lines.push(`\t\tcomment ${goQuote(spec.comment)}`)
  if (elements.length > 0) lines.push(`\t\telements = ${elementsBlock(spec, isMap, elements)}`)
  lines.push("\t}")
  return lines.join("\n")
}

/** `nft list table <family> <name>` of the table (empty string when it does not exist). */
export function listTable(table: NftTable): string {
  if (!table.exists) return ""
  const updated = new Set<string>()
  for (const chain of table.chainNames())
    for (const rule of table.rules(chain)) {
      const m = /(?:^| )update @(\S+)/.exec(rule.rule)
      if (m !== null) updated.add(m[1])
    }
  const blocks: string[] = []
  for (const set of table.setsInOrder())
    blocks.push(setBlock(set.spec, set.isMap, table.elements(set.spec.name) ?? [], updated.has(set.spec.name)))
  for (const chain of table.chainNames()) blocks.push(chainBlock(table.chainSpec(chain)!, table.rules(chain)))
  const head = [`table ${table.family} ${table.name} {`]
  if (table.comment !== undefined) head.push(`\tcomment ${goQuote(table.comment)}`)
  return head.join("\n") + "\n" + blocks.join("\n\n") + (blocks.length > 0 ? "\n" : "") + "}\n"
}
