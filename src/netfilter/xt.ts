/**
 * The x_tables extension core: what every iptables match and target extension (src/netfilter/ext/,
 * one file per extension as iptables' extensions/libxt_*.c and the kernel's net/netfilter/xt_*.c lay
 * them out) builds on: the per-evaluation context, the Match base class, the parse-time interfaces
 * and the argument parsers the extensions share. The rule parser (rule.ts) dispatches `-m NAME` and
 * `-j NAME` options through the registry in ext/registry.ts.
 */
import type { Rng } from "../sim/rng.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import { maskOf, parseIpv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import type { FilterHost } from "../net/hooks.ts"
import { RejectWith } from "../net/hooks.ts"
import { TargetKind } from "./constants.ts"
import type { RecentTable } from "./recent.ts"
import type { IpSet } from "./ipset.ts"

/** Per-evaluation inputs; one mutable instance per stack, filled before each hook traversal. */
export class MatchContext {
  packet: Packet | null = null
  inIfIndex = -1
  outIfIndex = -1
  nowNs = 0
  hook = 0
  constructor(
    readonly host: FilterHost,
    readonly rng: Rng,
  ) {}
}

/** A named packet/byte counter (`-m nfacct --nfacct-name`, nfnetlink_acct). */
export class NfacctCounter {
  packets = 0
  bytes = 0
  constructor(readonly name: string) {}
}

/** What the parser needs from the stack: named shared objects. */
export interface RuleEnvironment {
  recentTable(name: string): RecentTable
  nfacctCounter(name: string): NfacctCounter
  /** `-m set --match-set NAME`: the named ipset, or undefined when there is none (the rule is refused). */
  ipSet(name: string): IpSet | undefined
}

export class RuleParseError extends Error {
  override readonly name = "RuleParseError"
}

export abstract class Match {
  /** True when evaluating this match changes state (random draw, recent list, counter). */
  abstract readonly sideEffect: boolean
  /** True when `matches` returns true for every packet and has no effect (`-m comment`): not evaluated. */
  get alwaysMatches(): boolean {
    return false
  }
  abstract matches(ctx: MatchContext): boolean
}

/** The part of a rule an extension's final check sees (`-p`, for tcp/udp's "requires -p"). */
export interface RuleHeader {
  readonly protocol: number
  readonly protocolInvert: boolean
}

/** Reads the next argument of an option (throws "needs an argument" at the end of the line). */
export type NextArg = (what: string) => string

/**
 * A match extension (struct xtables_match): its options, how to build a blank match, how to
 * parse one option (returning the match, possibly a new object) and the final check (x6_fcheck).
 */
export interface MatchExtension {
  readonly name: string
  readonly options: readonly string[]
  create(env: RuleEnvironment): Match
  parse(match: Match, option: string, next: NextArg, invert: boolean, env: RuleEnvironment): Match
  finish?(match: Match, rule: RuleHeader): void
}

// ---------------------------------------------------------------------------------------------
// Shared argument parsers

export function parseNumber(text: string, what: string, max = 0xffffffff): number {
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(text)) throw new RuleParseError(`bad ${what} "${text}"`)
  const value = Number(text)
  if (value > max) throw new RuleParseError(`${what} out of range: ${text}`)
  return value
}

export function parseValueMask(text: string, what: string): [number, number | undefined] {
  const slash = text.indexOf("/")
  if (slash < 0) return [parseNumber(text, what), undefined]
  return [parseNumber(text.slice(0, slash), what), parseNumber(text.slice(slash + 1), what)]
}

export function parsePort(text: string): number {
  return parseNumber(text, "port", 65535)
}

export function parsePortRange(text: string): [number, number] {
  const colon = text.indexOf(":")
  if (colon < 0) {
    const port = parsePort(text)
    return [port, port]
  }
  const lo = colon === 0 ? 0 : parsePort(text.slice(0, colon))
  const hi = colon === text.length - 1 ? 65535 : parsePort(text.slice(colon + 1))
  if (lo > hi) throw new RuleParseError(`bad port range ${text}`)
  return [lo, hi]
}

export function parseAddressMask(text: string): [number, number] {
  const slash = text.indexOf("/")
  const address = parseIpv4(slash < 0 ? text : text.slice(0, slash))
  if (address === undefined) throw new RuleParseError(`bad address "${text}"`)
  let mask = 0xffffffff
  if (slash >= 0) {
    const m = text.slice(slash + 1)
    if (/^\d{1,2}$/.test(m) && Number(m) <= 32) mask = maskOf(Number(m))
    else {
      const dotted = parseIpv4(m)
      if (dotted === undefined) throw new RuleParseError(`bad mask "${m}"`)
      mask = dotted
    }
  }
  // iptables masks the address with the prefix (`-s 10.1.2.3/8` means 10.0.0.0/8).
  return [(address & mask) >>> 0, mask >>> 0]
}

// ---------------------------------------------------------------------------------------------
// Targets

/**
 * A rule's target (struct xt_entry_target), one fixed shape for every kind so that the stack's
 * traversal switches on `kind` without a call per rule.
 */
export class Target {
  kind: TargetKind = TargetKind.NONE
  /**
   * Chain name for JUMP/GOTO. Resolved when the table is committed into Chain.jumps (an index into
   * Table.chains), kept in the chain rather than here because a --noflush restore shares rules
   * between the live table and the staged one.
   */
  chainName = ""
  rejectWith: RejectWith = RejectWith.ICMP_PORT_UNREACHABLE
  /** MARK: skb->mark = (skb->mark & ~markMask) ^ markValue (xt_mark.c, MARK target v2). */
  markValue = 0
  markMask = 0
  natAddrMin: Ipv4 = 0
  natAddrMax: Ipv4 = 0
  /** 0 when no address was given (MASQUERADE uses the out interface address). */
  natHasAddr = false
  natPortMin = 0
  natPortMax = 0
  natFlags = 0
  /**
   * A node parameter (ext/xt_nat.ts NatParams, kube-netsim's own syntax, never iptables'): the
   * port is the evaluating node's `ports[natPortParam]` (-1: the port is natPortMin..natPortMax),
   * and with natHostParam the address is the node's host address. One parsed rule then serves
   * every node whose rule differs only in those values (the userspace proxier's portal rules).
   */
  natPortParam = -1
  natHostParam = false
}

/** A target extension (struct xtables_target): sets the kind, then parses its options. */
export interface TargetExtension {
  readonly name: string
  readonly options: readonly string[]
  init(target: Target): void
  parse?(target: Target, option: string, next: NextArg): void
}
