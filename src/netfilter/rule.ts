/**
 * Rules: the parsed form of one `-A CHAIN ...` line, its matches and its target.
 *
 * A rule keeps the tokens it was parsed from, so `iptables-save` prints arguments in the order they
 * were given (kube-proxy's golden dumps round-trip byte for byte; real iptables-save would
 * canonicalise the order and add `/32`, which kube-proxy's test fakes do not).
 *
 * Evaluation follows ipt_do_table: the IP header part (`-s -d -i -o -p`, ip_packet_match) first, then
 * extension matches in the order given, short-circuiting on the first miss (this order matters for
 * matches with side effects: `statistic` draws a random number, `recent --set` records, `nfacct`
 * counts). No allocation per evaluation: matches are fixed-shape objects built at parse time.
 */
import type { Rng } from "../sim/rng.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import { maskOf, parseIpv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import { Protocol } from "../wire/protocol.ts"
import type { FilterHost } from "../net/hooks.ts"
import { RejectWith } from "../net/hooks.ts"
import { CT_STATE_NAMES, CtState, RecentCommand, TargetKind } from "./constants.ts"
import type { RecentTable } from "./recent.ts"
import { NatFlag } from "./nat.ts"

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
}

export class RuleParseError extends Error {
  override readonly name = "RuleParseError"
}

export abstract class Match {
  /** True when evaluating this match changes state (random draw, recent list, counter). */
  abstract readonly sideEffect: boolean
  abstract matches(ctx: MatchContext): boolean
}

/** `-m tcp` / `-m udp` (xt_tcpudp.c): port ranges, inclusive, each invertible. */
export class PortMatch extends Match {
  readonly sideEffect = false
  sportMin = 0
  sportMax = 65535
  sportInvert = false
  dportMin = 0
  dportMax = 65535
  dportInvert = false
  constructor(readonly protocol: number) {
    super()
  }
  matches(ctx: MatchContext): boolean {
    const p = ctx.packet as Packet
    if (p.protocol !== this.protocol) return false
    if ((p.srcPort >= this.sportMin && p.srcPort <= this.sportMax) === this.sportInvert) return false
    return (p.dstPort >= this.dportMin && p.dstPort <= this.dportMax) !== this.dportInvert
  }
}

/** `-m multiport --dports/--sports/--ports a,b:c` (xt_multiport.c, revision 1 semantics). */
export class MultiportMatch extends Match {
  readonly sideEffect = false
  /** 0 = --sports, 1 = --dports, 2 = --ports (either). */
  flags = 1
  invert = false
  readonly min: number[] = []
  readonly max: number[] = []
  matches(ctx: MatchContext): boolean {
    const p = ctx.packet as Packet
    if (p.protocol !== Protocol.TCP && p.protocol !== Protocol.UDP) return false
    for (let i = 0; i < this.min.length; i++) {
      const lo = this.min[i]
      const hi = this.max[i]
      if (this.flags !== 1 && p.srcPort >= lo && p.srcPort <= hi) return !this.invert
      if (this.flags !== 0 && p.dstPort >= lo && p.dstPort <= hi) return !this.invert
    }
    return this.invert
  }
}

export class CommentMatch extends Match {
  readonly sideEffect = false
  constructor(readonly comment: string) {
    super()
  }
  matches(): boolean {
    return true
  }
}

/** `-m mark [!] --mark value[/mask]` (xt_mark.c): (mark & mask) == value. */
export class MarkMatch extends Match {
  readonly sideEffect = false
  constructor(
    readonly value: number,
    readonly mask: number,
    readonly invert: boolean,
  ) {
    super()
  }
  matches(ctx: MatchContext): boolean {
    return (((ctx.packet as Packet).mark & this.mask) >>> 0 === this.value) !== this.invert
  }
}

/** `-m addrtype [!] --src-type LOCAL [!] --dst-type LOCAL` (only LOCAL is modelled). */
export class AddrtypeMatch extends Match {
  readonly sideEffect = false
  checkSrc = false
  srcInvert = false
  checkDst = false
  dstInvert = false
  matches(ctx: MatchContext): boolean {
    const p = ctx.packet as Packet
    if (this.checkSrc && ctx.host.isLocalAddress(p.srcAddr) === this.srcInvert) return false
    if (this.checkDst && ctx.host.isLocalAddress(p.dstAddr) === this.dstInvert) return false
    return true
  }
}

/** `-m conntrack [!] --ctstate ...` and `-m state [!] --state ...` (xt_conntrack.c, xt_state.c). */
export class CtStateMatch extends Match {
  readonly sideEffect = false
  constructor(
    readonly mask: number,
    readonly invert: boolean,
  ) {
    super()
  }
  matches(ctx: MatchContext): boolean {
    return (((ctx.packet as Packet).ctState & this.mask) !== 0) !== this.invert
  }
}

/** `-m icmp [!] --icmp-type type[/code]`. */
export class IcmpMatch extends Match {
  readonly sideEffect = false
  constructor(
    readonly type: number,
    readonly code: number,
    readonly invert: boolean,
  ) {
    super()
  }
  matches(ctx: MatchContext): boolean {
    const p = ctx.packet as Packet
    if (p.protocol !== Protocol.ICMP) return false
    const hit = p.icmpType === this.type && (this.code < 0 || p.icmpCode === this.code)
    return hit !== this.invert
  }
}

export const StatisticMode = { RANDOM: 0, NTH: 1 } as const

/**
 * `-m statistic` (net/netfilter/xt_statistic.c, iptables extensions/libxt_statistic.c).
 * random: threshold = lround(0x80000000 * p) at parse time; per packet match when
 * (prandom_u32() & 0x7FFFFFFF) < threshold. nth: every is stored as n-1, the counter starts at
 * every - packet, and each packet sets count = (count == every) ? 0 : count + 1, matching on 0.
 */
export class StatisticMatch extends Match {
  readonly sideEffect = true
  mode: number = StatisticMode.RANDOM
  invert = false
  threshold = 0
  every = 0
  packetOffset = 0
  count = 0
  matches(ctx: MatchContext): boolean {
    let hit: boolean
    if (this.mode === StatisticMode.RANDOM) {
      hit = (ctx.rng.uint32() & 0x7fffffff) < this.threshold
    } else {
      this.count = this.count === this.every ? 0 : this.count + 1
      hit = this.count === 0
    }
    return hit !== this.invert
  }
}

/** lround(0x80000000 * p) as libxt_statistic computes it from the printed decimal. */
export function statisticThreshold(probabilityText: string): number {
  const p = Number(probabilityText)
  if (!/^\s*[0-9]*\.?[0-9]+(e[-+]?[0-9]+)?\s*$/i.test(probabilityText) || !(p >= 0 && p <= 1)) {
    throw new RuleParseError(`--probability must be a number in [0, 1], got "${probabilityText}"`)
  }
  // lround rounds half away from zero; for p >= 0 that equals Math.floor(x + 0.5) on the exact double.
  return Math.round(2147483648 * p)
}

/** `-m recent` (net/netfilter/xt_recent.c); the list itself is a RecentTable. */
export class RecentMatch extends Match {
  readonly sideEffect = true
  command = 0
  invert = false
  secondsNs = 0
  hitCount = 0
  reap = false
  useDestination = false
  mask = 0xffffffff
  constructor(readonly table: RecentTable) {
    super()
  }
  matches(ctx: MatchContext): boolean {
    const p = ctx.packet as Packet
    const address = ((this.useDestination ? p.dstAddr : p.srcAddr) & this.mask) >>> 0
    return this.table.evaluate(this, address, ctx.nowNs)
  }
}

/** `-m nfacct --nfacct-name X`: counts and always matches (xt_nfacct.c). */
export class NfacctMatch extends Match {
  readonly sideEffect = true
  constructor(readonly counter: NfacctCounter) {
    super()
  }
  matches(ctx: MatchContext): boolean {
    this.counter.packets++
    this.counter.bytes += (ctx.packet as Packet).totalBytes
    return true
  }
}

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
}

/** The parsed rule. Header fields are inline for a fast ip_packet_match. */
export class Rule {
  srcAddr = 0
  srcMask = 0
  srcInvert = false
  dstAddr = 0
  dstMask = 0
  dstInvert = false
  /** 0 = any protocol. */
  protocol = 0
  protocolInvert = false
  inIface = ""
  inIfaceWildcard = false
  inIfaceInvert = false
  outIface = ""
  outIfaceWildcard = false
  outIfaceInvert = false
  readonly matches: Match[] = []
  readonly target = new Target()
  /** Tokens after `-A CHAIN`, in input order, unquoted. */
  readonly tokens: string[]
  packets = 0
  bytes = 0
  /** Index key parts (see ChainIndex); -1 when the rule cannot be keyed that way. */
  keyDport = -1
  keyDst = -1
  keyProtocol = 0

  constructor(tokens: string[]) {
    this.tokens = tokens
  }

  /** ip_packet_match + extension matches, in order. */
  evaluate(ctx: MatchContext): boolean {
    const p = ctx.packet as Packet
    if (((p.srcAddr & this.srcMask) >>> 0 === this.srcAddr) === this.srcInvert) return false
    if (((p.dstAddr & this.dstMask) >>> 0 === this.dstAddr) === this.dstInvert) return false
    if (
      this.inIface !== "" &&
      this.interfaceMatches(ctx, ctx.inIfIndex, this.inIface, this.inIfaceWildcard) === this.inIfaceInvert
    )
      return false
    if (
      this.outIface !== "" &&
      this.interfaceMatches(ctx, ctx.outIfIndex, this.outIface, this.outIfaceWildcard) === this.outIfaceInvert
    )
      return false
    if (this.protocol !== 0 && (p.protocol === this.protocol) === this.protocolInvert) return false
    const matches = this.matches
    for (let i = 0; i < matches.length; i++) if (!matches[i].matches(ctx)) return false
    return true
  }

  private interfaceMatches(ctx: MatchContext, ifIndex: number, name: string, wildcard: boolean): boolean {
    if (ifIndex < 0) return false
    const actual = ctx.host.interfaceName(ifIndex)
    return wildcard ? actual.startsWith(name) : actual === name
  }

  /** The rule as iptables-save prints it after `-A CHAIN`. */
  text(): string {
    return formatTokens(this.tokens)
  }
}

// ---------------------------------------------------------------------------------------------
// Tokens

/**
 * Splits a line as iptables-restore does (add_param_to_argv): whitespace separates, double or single
 * quotes group, a backslash escapes the next character inside quotes.
 */
export function tokenize(line: string): string[] {
  // Same result as a character-by-character scan, but unquoted runs and quoted runs without
  // escapes are taken as slices (no per-character string building: restores parse 100,000s of lines).
  const out: string[] = []
  let current = ""
  let inToken = false
  let i = 0
  const n = line.length
  while (i < n) {
    const c = line.charCodeAt(i)
    if (c === 0x20 || c === 0x09) {
      if (inToken) out.push(current)
      current = ""
      inToken = false
      i++
      continue
    }
    inToken = true
    if (c === 0x22 || c === 0x27) {
      // Quoted run: up to the matching quote; a backslash takes the next character literally.
      let j = i + 1
      let start = j
      for (;;) {
        if (j >= n) throw new RuleParseError("unterminated quoted string")
        const d = line.charCodeAt(j)
        if (d === c) break
        if (d === 0x5c && j + 1 < n) {
          current += line.slice(start, j) + line[j + 1]
          j += 2
          start = j
          continue
        }
        j++
      }
      current += line.slice(start, j)
      i = j + 1
      continue
    }
    // Unquoted run: up to whitespace or a quote.
    let j = i + 1
    while (j < n) {
      const d = line.charCodeAt(j)
      if (d === 0x20 || d === 0x09 || d === 0x22 || d === 0x27) break
      j++
    }
    current = current === "" ? line.slice(i, j) : current + line.slice(i, j)
    i = j
  }
  if (inToken) out.push(current)
  return out
}

/** Quotes a token as libxtables' xtables_save_string does (whitespace, quotes, backslash). */
export function formatToken(token: string): string {
  if (token !== "" && !/[\s"'\\]/.test(token)) return token
  return `"${token.replace(/["\\]/g, (c) => `\\${c}`)}"`
}

export function formatTokens(tokens: readonly string[]): string {
  return tokens.map(formatToken).join(" ")
}

// ---------------------------------------------------------------------------------------------
// Parsing

const BUILTIN_TARGETS = new Set([
  "ACCEPT",
  "DROP",
  "REJECT",
  "RETURN",
  "MARK",
  "DNAT",
  "SNAT",
  "MASQUERADE",
  "NOTRACK",
  "CT",
  "LOG",
])

function parseNumber(text: string, what: string, max = 0xffffffff): number {
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(text)) throw new RuleParseError(`bad ${what} "${text}"`)
  const value = Number(text)
  if (value > max) throw new RuleParseError(`${what} out of range: ${text}`)
  return value
}

function parseValueMask(text: string, what: string): [number, number | undefined] {
  const slash = text.indexOf("/")
  if (slash < 0) return [parseNumber(text, what), undefined]
  return [parseNumber(text.slice(0, slash), what), parseNumber(text.slice(slash + 1), what)]
}

function parsePort(text: string): number {
  return parseNumber(text, "port", 65535)
}

function parsePortRange(text: string): [number, number] {
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

function parseAddressMask(text: string): [number, number] {
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

function parseProtocol(text: string): number {
  switch (text.toLowerCase()) {
    case "tcp":
      return Protocol.TCP
    case "udp":
      return Protocol.UDP
    case "icmp":
      return Protocol.ICMP
    case "all":
      return 0
    default:
      if (/^\d+$/.test(text) && Number(text) <= 255) return Number(text)
      throw new RuleParseError(`unknown protocol "${text}"`)
  }
}

function parseCtStates(text: string): number {
  let mask = 0
  for (const name of text.split(",")) {
    const entry = CT_STATE_NAMES.find(([n]) => n === name.toUpperCase())
    if (entry === undefined) throw new RuleParseError(`bad ctstate "${name}"`)
    mask |= entry[1]
  }
  return mask
}

const REJECT_WITH: Record<string, RejectWith> = {
  "icmp-port-unreachable": RejectWith.ICMP_PORT_UNREACHABLE,
  "port-unreach": RejectWith.ICMP_PORT_UNREACHABLE,
  "icmp-host-unreachable": RejectWith.ICMP_HOST_UNREACHABLE,
  "host-unreach": RejectWith.ICMP_HOST_UNREACHABLE,
  "icmp-net-unreachable": RejectWith.ICMP_NET_UNREACHABLE,
  "net-unreach": RejectWith.ICMP_NET_UNREACHABLE,
  "icmp-admin-prohibited": RejectWith.ICMP_ADMIN_PROHIBITED,
  "admin-prohib": RejectWith.ICMP_ADMIN_PROHIBITED,
  "icmp-proto-unreachable": RejectWith.ICMP_PROTO_UNREACHABLE,
  "proto-unreach": RejectWith.ICMP_PROTO_UNREACHABLE,
  "tcp-reset": RejectWith.TCP_RESET,
  "tcp-rst": RejectWith.TCP_RESET,
}

/** `ip[-ip][:port[-port]]` for DNAT/SNAT. */
function parseNatRange(text: string, target: Target): void {
  const colon = text.indexOf(":")
  const addrText = colon < 0 ? text : text.slice(0, colon)
  if (addrText !== "") {
    const dash = addrText.indexOf("-")
    const lo = parseIpv4(dash < 0 ? addrText : addrText.slice(0, dash))
    const hi = dash < 0 ? lo : parseIpv4(addrText.slice(dash + 1))
    if (lo === undefined || hi === undefined || hi < lo) throw new RuleParseError(`bad NAT address "${addrText}"`)
    target.natAddrMin = lo
    target.natAddrMax = hi
    target.natHasAddr = true
  }
  if (colon >= 0) parseNatPorts(text.slice(colon + 1), target)
}

function parseNatPorts(text: string, target: Target): void {
  const dash = text.indexOf("-")
  const lo = parsePort(dash < 0 ? text : text.slice(0, dash))
  const hi = dash < 0 ? lo : parsePort(text.slice(dash + 1))
  if (hi < lo) throw new RuleParseError(`bad NAT port range "${text}"`)
  target.natPortMin = lo
  target.natPortMax = hi
  target.natFlags |= NatFlag.PROTO_SPECIFIED
}

/**
 * Parses the arguments of one rule (everything after `-A CHAIN`). Unknown matches, targets and
 * options throw RuleParseError; the caller adds the line number. Jump targets are not resolved here.
 */
export function parseRule(tokens: string[], env: RuleEnvironment): Rule {
  const rule = new Rule(tokens)
  const target = rule.target
  let invert = false
  let targetName = ""
  /** Module whose options follow, with the options' owner kept for --opt lookup. */
  const modules: { name: string; match: Match }[] = []
  let i = 0
  const next = (what: string): string => {
    if (i >= tokens.length) throw new RuleParseError(`${what} needs an argument`)
    return tokens[i++]
  }
  const takeInvert = (): boolean => {
    const value = invert
    invert = false
    return value
  }
  while (i < tokens.length) {
    const token = tokens[i++]
    if (token === "!") {
      if (invert) throw new RuleParseError("multiple ! flags")
      invert = true
      continue
    }
    switch (token) {
      case "-s":
      case "--source": {
        ;[rule.srcAddr, rule.srcMask] = parseAddressMask(next(token))
        rule.srcInvert = takeInvert()
        continue
      }
      case "-d":
      case "--destination": {
        ;[rule.dstAddr, rule.dstMask] = parseAddressMask(next(token))
        rule.dstInvert = takeInvert()
        continue
      }
      case "-p":
      case "--protocol":
        rule.protocol = parseProtocol(next(token))
        rule.protocolInvert = takeInvert()
        continue
      case "-i":
      case "--in-interface": {
        const name = next(token)
        rule.inIfaceWildcard = name.endsWith("+")
        rule.inIface = rule.inIfaceWildcard ? name.slice(0, -1) : name
        rule.inIfaceInvert = takeInvert()
        if (rule.inIface === "" && !rule.inIfaceInvert) rule.inIfaceWildcard = false
        continue
      }
      case "-o":
      case "--out-interface": {
        const name = next(token)
        rule.outIfaceWildcard = name.endsWith("+")
        rule.outIface = rule.outIfaceWildcard ? name.slice(0, -1) : name
        rule.outIfaceInvert = takeInvert()
        continue
      }
      case "-m":
      case "--match": {
        if (invert) throw new RuleParseError("unexpected ! before -m")
        const name = next(token)
        modules.push({ name, match: createMatch(name, env) })
        continue
      }
      case "-j":
      case "--jump":
      case "-g":
      case "--goto": {
        if (targetName !== "") throw new RuleParseError("multiple targets")
        targetName = next(token)
        if (token === "-g" || token === "--goto") {
          target.kind = TargetKind.GOTO
          target.chainName = targetName
        } else initTarget(target, targetName)
        continue
      }
      default:
        break
    }
    if (!token.startsWith("--")) throw new RuleParseError(`unexpected argument "${token}"`)
    const option = token.slice(2)
    if (targetName !== "" && targetAcceptsOption(target, targetName, option)) {
      parseTargetOption(target, targetName, option, next, takeInvert())
      continue
    }
    let owner: { name: string; match: Match } | undefined
    for (let m = modules.length - 1; m >= 0 && owner === undefined; m--)
      if (matchAcceptsOption(modules[m].name, option)) owner = modules[m]
    if (
      owner === undefined &&
      (rule.protocol === Protocol.TCP || rule.protocol === Protocol.UDP) &&
      (option === "dport" || option === "sport" || option === "destination-port" || option === "source-port")
    ) {
      // `-p tcp --dport 80` without `-m tcp` loads the protocol match implicitly.
      owner = {
        name: rule.protocol === Protocol.TCP ? "tcp" : "udp",
        match: createMatch(rule.protocol === Protocol.TCP ? "tcp" : "udp", env),
      }
      modules.push(owner)
    }
    if (owner === undefined && rule.protocol === Protocol.ICMP && option === "icmp-type") {
      owner = { name: "icmp", match: createMatch("icmp", env) }
      modules.push(owner)
    }
    if (owner === undefined) throw new RuleParseError(`unknown option "${token}"`)
    owner.match = parseMatchOption(owner.name, owner.match, option, next, takeInvert(), env)
  }
  if (invert) throw new RuleParseError("trailing !")
  for (const m of modules) {
    finishMatch(m.name, m.match, rule)
    rule.matches.push(m.match)
  }
  computeIndexKey(rule)
  return rule
}

function createMatch(name: string, env: RuleEnvironment): Match {
  switch (name) {
    case "tcp":
      return new PortMatch(Protocol.TCP)
    case "udp":
      return new PortMatch(Protocol.UDP)
    case "multiport":
      return new MultiportMatch()
    case "comment":
      return new CommentMatch("")
    case "mark":
      return new MarkMatch(0, 0xffffffff, false)
    case "addrtype":
      return new AddrtypeMatch()
    case "conntrack":
    case "state":
      return new CtStateMatch(0, false)
    case "icmp":
      return new IcmpMatch(-1, -1, false)
    case "statistic":
      return new StatisticMatch()
    case "recent":
      return new RecentMatch(env.recentTable("DEFAULT"))
    case "nfacct":
      return new NfacctMatch(env.nfacctCounter(""))
    default:
      throw new RuleParseError(`unknown match "${name}"`)
  }
}

const MATCH_OPTIONS: Record<string, readonly string[]> = {
  tcp: ["dport", "sport", "destination-port", "source-port"],
  udp: ["dport", "sport", "destination-port", "source-port"],
  multiport: ["dports", "sports", "ports", "destination-ports", "source-ports"],
  comment: ["comment"],
  mark: ["mark"],
  addrtype: ["src-type", "dst-type"],
  conntrack: ["ctstate"],
  state: ["state"],
  icmp: ["icmp-type"],
  statistic: ["mode", "probability", "every", "packet"],
  recent: [
    "name",
    "set",
    "rcheck",
    "update",
    "remove",
    "seconds",
    "reap",
    "hitcount",
    "rsource",
    "rdest",
    "mask",
    "rttl",
  ],
  nfacct: ["nfacct-name"],
}

function matchAcceptsOption(name: string, option: string): boolean {
  return MATCH_OPTIONS[name]?.includes(option) ?? false
}

function parseMatchOption(
  name: string,
  match: Match,
  option: string,
  next: (what: string) => string,
  invert: boolean,
  env: RuleEnvironment,
): Match {
  const flag = `--${option}`
  if (match instanceof PortMatch) {
    const [lo, hi] = parsePortRange(next(flag))
    if (option === "dport" || option === "destination-port") {
      match.dportMin = lo
      match.dportMax = hi
      match.dportInvert = invert
    } else {
      match.sportMin = lo
      match.sportMax = hi
      match.sportInvert = invert
    }
    return match
  }
  if (match instanceof MultiportMatch) {
    match.flags = option.startsWith("s") ? 0 : option.startsWith("d") ? 1 : 2
    match.invert = invert
    const list = next(flag).split(",")
    if (list.length > 15) throw new RuleParseError("multiport: too many ports specified (max 15)")
    for (const item of list) {
      const [lo, hi] = parsePortRange(item)
      match.min.push(lo)
      match.max.push(hi)
    }
    return match
  }
  if (match instanceof CommentMatch) return new CommentMatch(next(flag))
  if (match instanceof MarkMatch) {
    const [value, mask] = parseValueMask(next(flag), "mark")
    const m = mask ?? 0xffffffff
    return new MarkMatch((value & m) >>> 0, m, invert)
  }
  if (match instanceof AddrtypeMatch) {
    const type = next(flag)
    if (type !== "LOCAL") throw new RuleParseError(`addrtype: only LOCAL is modelled, got "${type}"`)
    if (option === "src-type") {
      match.checkSrc = true
      match.srcInvert = invert
    } else {
      match.checkDst = true
      match.dstInvert = invert
    }
    return match
  }
  if (match instanceof CtStateMatch) return new CtStateMatch(parseCtStates(next(flag)), invert)
  if (match instanceof IcmpMatch) {
    const text = next(flag)
    const named: Record<string, number> = {
      "echo-request": 8,
      "echo-reply": 0,
      "destination-unreachable": 3,
      "time-exceeded": 11,
      any: -1,
    }
    const slash = text.indexOf("/")
    const typeText = slash < 0 ? text : text.slice(0, slash)
    const type = named[typeText] ?? parseNumber(typeText, "icmp type", 255)
    const code = slash < 0 ? -1 : parseNumber(text.slice(slash + 1), "icmp code", 255)
    return new IcmpMatch(type, code, invert)
  }
  if (match instanceof StatisticMatch) {
    switch (option) {
      case "mode": {
        const mode = next(flag)
        if (mode === "random") match.mode = StatisticMode.RANDOM
        else if (mode === "nth") match.mode = StatisticMode.NTH
        else throw new RuleParseError(`statistic: bad mode "${mode}"`)
        return match
      }
      case "probability":
        match.threshold = statisticThreshold(next(flag))
        match.invert = invert
        return match
      case "every":
        match.every = parseNumber(next(flag), "--every") - 1
        if (match.every < 0) throw new RuleParseError("--every must be at least 1")
        match.invert = invert
        return match
      default:
        match.packetOffset = parseNumber(next(flag), "--packet")
        return match
    }
  }
  if (match instanceof RecentMatch) {
    switch (option) {
      case "name": {
        const fresh = new RecentMatch(env.recentTable(next(flag)))
        fresh.command = match.command
        fresh.invert = match.invert
        fresh.secondsNs = match.secondsNs
        fresh.hitCount = match.hitCount
        fresh.reap = match.reap
        fresh.useDestination = match.useDestination
        fresh.mask = match.mask
        return fresh
      }
      case "set":
      case "rcheck":
      case "update":
      case "remove":
        if (match.command !== 0) throw new RuleParseError("recent: only one of --set, --rcheck, --update, --remove")
        match.command =
          option === "set"
            ? RecentCommand.SET
            : option === "rcheck"
              ? RecentCommand.CHECK
              : option === "update"
                ? RecentCommand.UPDATE
                : RecentCommand.REMOVE
        match.invert = invert
        return match
      case "seconds":
        match.secondsNs = parseNumber(next(flag), "--seconds") * 1_000_000_000
        return match
      case "hitcount":
        match.hitCount = parseNumber(next(flag), "--hitcount")
        return match
      case "reap":
        match.reap = true
        return match
      case "rsource":
        match.useDestination = false
        return match
      case "rdest":
        match.useDestination = true
        return match
      case "mask": {
        const mask = parseIpv4(next(flag))
        if (mask === undefined) throw new RuleParseError("recent: bad --mask")
        match.mask = mask
        return match
      }
      default:
        throw new RuleParseError(`recent: --${option} is not modelled`)
    }
  }
  if (match instanceof NfacctMatch) return new NfacctMatch(env.nfacctCounter(next(flag)))
  throw new RuleParseError(`unknown option "${flag}"`)
}

function finishMatch(name: string, match: Match, rule: Rule): void {
  if (match instanceof PortMatch && (rule.protocol !== match.protocol || rule.protocolInvert)) {
    throw new RuleParseError(`${name} match requires -p ${name}`)
  }
  if (match instanceof StatisticMatch && match.mode === StatisticMode.NTH) {
    if (match.packetOffset > match.every) throw new RuleParseError("the --packet p must be 0 <= p <= n-1")
    match.count = match.every - match.packetOffset
  }
  if (match instanceof RecentMatch) {
    if (match.command === 0)
      throw new RuleParseError("recent: one of --set, --rcheck, --update or --remove is required")
    if (match.reap && match.secondsNs === 0) throw new RuleParseError("recent: --reap requires --seconds")
    if (match.hitCount > match.table.packetListTotal)
      throw new RuleParseError(`recent: --hitcount must be <= ${match.table.packetListTotal} (ip_pkt_list_tot)`)
  }
  if (match instanceof NfacctMatch && match.counter.name === "")
    throw new RuleParseError("nfacct: --nfacct-name is required")
}

function initTarget(target: Target, name: string): void {
  switch (name) {
    case "ACCEPT":
      target.kind = TargetKind.ACCEPT
      break
    case "DROP":
      target.kind = TargetKind.DROP
      break
    case "REJECT":
      target.kind = TargetKind.REJECT
      break
    case "RETURN":
      target.kind = TargetKind.RETURN
      break
    case "MARK":
      target.kind = TargetKind.MARK
      break
    case "DNAT":
      target.kind = TargetKind.DNAT
      break
    case "SNAT":
      target.kind = TargetKind.SNAT
      break
    case "MASQUERADE":
      target.kind = TargetKind.MASQUERADE
      break
    case "NOTRACK":
      target.kind = TargetKind.NOTRACK
      break
    case "CT":
      target.kind = TargetKind.NOTRACK
      target.chainName = "CT"
      break
    case "LOG":
      target.kind = TargetKind.LOG
      break
    default:
      if (!/^[A-Za-z0-9_.\-]+$/.test(name) || name.length > 28) throw new RuleParseError(`bad target name "${name}"`)
      target.kind = TargetKind.JUMP
      target.chainName = name
  }
}

const TARGET_OPTIONS: Record<string, readonly string[]> = {
  REJECT: ["reject-with"],
  MARK: ["set-mark", "set-xmark", "or-mark", "xor-mark", "and-mark"],
  DNAT: ["to-destination", "random", "persistent"],
  SNAT: ["to-source", "random", "random-fully", "persistent"],
  MASQUERADE: ["to-ports", "random", "random-fully"],
  CT: ["notrack"],
  LOG: ["log-prefix", "log-level"],
}

function targetAcceptsOption(_target: Target, name: string, option: string): boolean {
  return TARGET_OPTIONS[name]?.includes(option) ?? false
}

function parseTargetOption(
  target: Target,
  name: string,
  option: string,
  next: (what: string) => string,
  invert: boolean,
): void {
  const flag = `--${option}`
  if (invert) throw new RuleParseError(`${name}: ! not allowed before ${flag}`)
  switch (option) {
    case "reject-with": {
      const how = REJECT_WITH[next(flag)]
      if (how === undefined) throw new RuleParseError("REJECT: unknown --reject-with")
      target.rejectWith = how
      return
    }
    case "set-xmark":
    case "set-mark": {
      const [value, mask] = parseValueMask(next(flag), "mark")
      const m = mask ?? 0xffffffff
      target.markValue = value
      target.markMask = option === "set-mark" ? (m | value) >>> 0 : m
      return
    }
    case "or-mark": {
      const bits = parseNumber(next(flag), "mark")
      target.markValue = bits
      target.markMask = bits
      return
    }
    case "xor-mark":
      target.markValue = parseNumber(next(flag), "mark")
      target.markMask = 0
      return
    case "and-mark":
      target.markValue = 0
      target.markMask = ~parseNumber(next(flag), "mark") >>> 0
      return
    case "to-destination":
    case "to-source":
      parseNatRange(next(flag), target)
      return
    case "to-ports":
      parseNatPorts(next(flag), target)
      return
    case "random":
      target.natFlags |= NatFlag.PROTO_RANDOM
      return
    case "random-fully":
      target.natFlags |= NatFlag.PROTO_RANDOM_FULLY
      return
    case "persistent":
    case "notrack":
      return
    case "log-prefix":
    case "log-level":
      next(flag)
      return
    default:
      throw new RuleParseError(`unknown option "${flag}"`)
  }
}

/**
 * Index keys: a rule is keyable when a packet can only match it if its destination port equals
 * `keyDport` (and, when `keyDst >= 0`, its destination address equals `keyDst`), and no match with
 * side effects runs before the port check (so skipping the rule changes nothing observable).
 */
function computeIndexKey(rule: Rule): void {
  if (rule.protocol === 0 || rule.protocolInvert) return
  let portIndex = -1
  for (let i = 0; i < rule.matches.length; i++) {
    const m = rule.matches[i]
    if (m instanceof PortMatch && m.dportMin === m.dportMax && !m.dportInvert && m.protocol === rule.protocol) {
      portIndex = i
      break
    }
    if (m.sideEffect) return
  }
  if (portIndex < 0) return
  rule.keyDport = (rule.matches[portIndex] as PortMatch).dportMin
  rule.keyProtocol = rule.protocol
  if (!rule.dstInvert && rule.dstMask === 0xffffffff) rule.keyDst = rule.dstAddr
}

export function isBuiltinTargetName(name: string): boolean {
  return BUILTIN_TARGETS.has(name)
}
