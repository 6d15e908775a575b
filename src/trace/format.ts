/**
 * Text rendering of a packet trace (see events.ts): one block per event in simulated-time order,
 * times in milliseconds relative to the start of the trace, the namespace in a column, each hook
 * with the rules it matched (by table and chain, as iptables-save prints them), NAT decisions,
 * conntrack entries, the verdict and the simulated cost. `verbose` also lists every rule a linear
 * walk evaluated without matching.
 *
 * Pure: the same events give the same text, byte for byte.
 */
import type {
  ConntrackView,
  HookEvent,
  HookStep,
  NatChange,
  PacketView,
  RuleRef,
  StartEvent,
  TraceEvent,
  TraceResult,
} from "./events.ts"

export interface FormatOptions {
  readonly verbose: boolean
}

const NS_PER_MS = 1_000_000

/** `1.234567ms` (6 decimals, exact integer arithmetic). */
export function formatMs(ns: number): string {
  const sign = ns < 0 ? "-" : ""
  const abs = Math.abs(ns)
  const whole = Math.floor(abs / NS_PER_MS)
  const frac = abs % NS_PER_MS
  return `${sign}${whole}.${String(frac).padStart(6, "0")}ms`
}

/** `2.500000000s` (9 decimals). */
export function formatSeconds(ns: number): string {
  const whole = Math.floor(ns / 1e9)
  return `${whole}.${String(ns % 1e9).padStart(9, "0")}s`
}

/** Simulated cost: `850ns`, `1.250us`, `12.500us`. */
export function formatCost(ns: number): string {
  if (ns < 1000) return `${ns}ns`
  return `${Math.floor(ns / 1000)}.${String(ns % 1000).padStart(3, "0")}us`
}

export function formatEndpoint(address: string, port: number, protocol: string): string {
  return protocol === "tcp" || protocol === "udp" ? `${address}:${port}` : address
}

/** `tcp 10.244.0.2:40000 -> 10.96.0.10:80 SYN`. */
export function formatPacket(p: PacketView): string {
  const src = formatEndpoint(p.src, p.srcPort, p.protocol)
  const dst = formatEndpoint(p.dst, p.dstPort, p.protocol)
  return `${p.protocol} ${src} -> ${dst}${p.detail === "" ? "" : ` ${p.detail}`}`
}

export function formatTrace(result: TraceResult, options: FormatOptions): string {
  const events = result.events
  const start = events.find((e): e is StartEvent => e.kind === "start")
  const originNs = start?.timeNs ?? 0
  let width = 0
  for (const e of events) if ("ns" in e) width = Math.max(width, e.ns.length)
  const out: string[] = []
  const indent = " ".repeat(2 + 12 + 2 + width + 2)
  for (const e of events) {
    const time = formatMs(e.timeNs - originNs).padStart(12)
    const head = (ns: string, text: string): void => {
      out.push(`  ${time}  ${ns.padEnd(width)}  ${text}`)
    }
    switch (e.kind) {
      case "start": {
        const service = e.service === null ? "" : ` (Service ${e.service})`
        const target =
          e.to === formatEndpoint(e.address, e.port, e.protocol)
            ? e.to
            : `${e.to} = ${formatEndpoint(e.address, e.port, e.protocol)}`
        out.push(`trace ${e.protocol} ${e.from} (${e.fromAddress}) -> ${target}${service}`)
        out.push(
          `scenario ${e.scenario}, seed ${e.seed}, at ${formatSeconds(e.timeNs)} (${e.atReason}); times below are from then`,
        )
        out.push("")
        break
      }
      case "send":
        head(
          e.ns,
          `send ${formatPacket(e.packet)} (${e.role}${e.readyNs === e.timeNs ? "" : `, ready at ${formatMs(e.readyNs - originNs)}`})`,
        )
        out.push(`${indent}route ${e.route}`)
        break
      case "hook":
        formatHook(
          e,
          options,
          (text) => head(e.ns, text),
          (text) => out.push(`${indent}${text}`),
        )
        break
      case "transmit":
        head(
          e.ns,
          `transmit dev ${e.dev}${e.departNs === e.timeNs ? "" : ` (departs ${formatMs(e.departNs - originNs)})`}, arrives ${formatMs(e.arriveNs - originNs)}`,
        )
        break
      case "deliver":
        head(e.ns, `deliver ${formatPacket(e.packet)}: ${e.what}`)
        break
      case "drop":
        head(e.ns, `drop ${formatPacket(e.packet)}: ${e.reason}`)
        break
      case "verdict":
        out.push("")
        out.push(`verdict: ${e.probe}`)
        if (e.reply !== null) out.push(`reply:   ${e.reply}`)
        out.push(`socket:  ${e.socket}`)
        break
    }
  }
  return `${out.join("\n")}\n`
}

function formatHook(
  e: HookEvent,
  options: FormatOptions,
  head: (text: string) => void,
  line: (text: string) => void,
): void {
  const devices = `${e.in === null ? "" : ` in ${e.in}`}${e.out === null ? "" : ` out ${e.out}`}`
  const reject = e.rejectWith === null ? "" : ` with ${e.rejectWith}`
  const rules = e.rulesEvaluated === 1 ? "1 rule" : `${e.rulesEvaluated} rules`
  head(`${e.hook}${devices}: ${e.verdict}${reject} (${rules} evaluated, cost ${formatCost(e.costNs)})`)
  if (
    e.conntrack !== null &&
    (e.hook === "PREROUTING" || e.hook === "OUTPUT") &&
    !e.steps.some((s) => s.kind === "conntrack" && s.event === "new")
  ) {
    line(`  ${formatConntrackView(e.conntrack)}`)
  }
  for (const step of e.steps) {
    if (options.verbose && step.kind !== "conntrack" && step.kind !== "ipvs")
      for (const r of step.notMatched ?? []) line(`  ${notMatched(step.table, step.chain, r)}`)
    line(`  ${formatStep(step)}`)
  }
  for (const change of e.nat) line(`  ${formatNat(change, e.conntrack)}`)
}

function notMatched(table: string, chain: string, r: RuleRef): string {
  return `${table}: ${chain} rule ${r.rule} did not match: ${r.text}`
}

function evaluated(n: number): string {
  return n === 0 ? "no rules" : n === 1 ? "1 evaluated" : `${n} evaluated`
}

export function formatStep(step: HookStep): string {
  switch (step.kind) {
    case "rule":
      return `${step.table}: ${step.chain} rule ${step.rule} matched (${evaluated(step.evaluated)}): ${step.text}`
    case "return":
      if (step.evaluated === 0)
        return `${step.table}: ${step.chain} ${step.from === 1 ? "is empty" : "end of chain"}, return`
      return `${step.table}: ${step.chain} ${step.from === 1 ? "no rule" : "no further rule"} matched (${evaluated(step.evaluated)}), return`
    case "policy":
      if (step.evaluated === 0)
        return `${step.table}: ${step.chain} ${step.from === 1 ? "has no rules" : "end of chain"}, policy ${step.policy}`
      return `${step.table}: ${step.chain} ${step.from === 1 ? "no rule" : "no further rule"} matched (${evaluated(step.evaluated)}), policy ${step.policy}`
    case "conntrack":
      return `conntrack ${step.event}${step.entry === "" ? "" : `: ${step.entry}`}`
    case "ipvs":
      if (step.action === "reply")
        return `ipvs: reply from real server ${step.realServer} of ${step.service} gets the virtual service's address back (ip_vs_out)`
      return `ipvs: ${step.service}: ${step.action === "schedule" ? "new connection scheduled to" : "connection to"} real server ${step.realServer} (Masq${step.local ? ", on this host: NF_ACCEPT" : ": ip_vs_nat_xmit, NF_STOLEN, sent on through OUTPUT"})`
    case "nft":
      return `nft ${step.table}: ${step.chains.join(" -> ")} (${step.evaluated === 1 ? "1 expression" : `${step.evaluated} expressions`} evaluated, ${step.lookups === 1 ? "1 set lookup" : `${step.lookups} set lookups`}): ${step.verdict}`
  }
}

function formatConntrackView(ct: ConntrackView): string {
  return `conntrack ${ct.state} (${ct.direction} direction): ${ct.entry}`
}

function formatNat(change: NatChange, ct: ConntrackView | null): string {
  if (change.by === "rule") return `${change.type} ${change.from} -> ${change.to}`
  if (change.by === "ipvs")
    return change.type === "DNAT"
      ? `destination ${change.from} -> ${change.to} by IPVS (the connection's real server)`
      : `source ${change.from} -> ${change.to} by IPVS (reply of a virtual service connection)`
  const field = change.type === "DNAT" ? "destination" : "source"
  const why = ct !== null && ct.direction === "reply" ? "un-NAT of the reply" : "NAT of the connection"
  return `${field} ${change.from} -> ${change.to} by conntrack (${why})`
}

/** The events as JSON (an array, one object per event), for tools. */
export function traceJson(result: TraceResult): string {
  return `${JSON.stringify(result.events satisfies readonly TraceEvent[], null, 2)}\n`
}
