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
import type { Packet } from "../wire/packet.ts"
import { Protocol } from "../wire/protocol.ts"
import { TargetKind } from "./constants.ts"
import type { Match, MatchContext, NextArg, RuleEnvironment } from "./xt.ts"
import { RuleParseError, Target, parseAddressMask } from "./xt.ts"
import { MATCH_EXTENSIONS, TARGET_EXTENSIONS } from "./ext/registry.ts"
import { PortMatch } from "./ext/xt_tcpudp.ts"
import { CtStateMatch } from "./ext/xt_conntrack.ts"
import { MarkMatch } from "./ext/xt_mark.ts"
import { SetMatch } from "./ext/xt_set.ts"
import type { IpSet } from "./ipset.ts"

/**
 * How `evaluate` runs a check: the commonest matches inline (each case's property loads then see
 * one class only), every other through its `matches` method. Same result either way.
 */
const CHECK_CALL = 0
const CHECK_CTSTATE = 1
const CHECK_MARK = 2
const CHECK_PORT = 3
const CHECK_SET = 4

function checkKind(m: Match): number {
  if (m instanceof CtStateMatch) return CHECK_CTSTATE
  if (m instanceof MarkMatch) return CHECK_MARK
  if (m instanceof PortMatch) return CHECK_PORT
  if (m instanceof SetMatch) return CHECK_SET
  return CHECK_CALL
}

/**
 * The parsed rule. Header fields are inline for a fast ip_packet_match. Immutable once parsed, and
 * shared by every chain (of any node) that holds the same line: a node's packet and byte counters
 * of a rule are kept per node (counters.ts), not here.
 */
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
  /** Never changed after parsing (rule copies share it: see `copy`). */
  matches: Match[] = []
  /** The matches `evaluate` runs: `matches` in order without the ones that always match. */
  checks: Match[] = []
  /** checkKinds[i]: how evaluate runs checks[i] (CHECK_*). */
  checkKinds: number[] = []
  /** Never changed after parsing (rule copies share it). */
  target = new Target()
  /** Tokens after `-A CHAIN`, in input order, unquoted. */
  readonly tokens: string[]
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
    const checks = this.checks
    const kinds = this.checkKinds
    for (let i = 0; i < checks.length; i++) {
      switch (kinds[i]) {
        case CHECK_CTSTATE: {
          const m = checks[i] as CtStateMatch
          if (((p.ctState & m.mask) !== 0) === m.invert) return false
          break
        }
        case CHECK_MARK: {
          const m = checks[i] as MarkMatch
          if (((p.mark & m.mask) >>> 0 === m.value) === m.invert) return false
          break
        }
        case CHECK_PORT: {
          const m = checks[i] as PortMatch
          if (p.protocol !== m.protocol) return false
          if ((p.srcPort >= m.sportMin && p.srcPort <= m.sportMax) === m.sportInvert) return false
          if ((p.dstPort >= m.dportMin && p.dstPort <= m.dportMax) === m.dportInvert) return false
          break
        }
        case CHECK_SET: {
          // SetMatch.matches, inline (IPVS mode's rules test ipsets on every packet)
          const m = checks[i] as SetMatch
          if ((m.set as IpSet).test(p, m.dimensions, m.src0, m.src1, m.src2) === m.invert) return false
          break
        }
        default:
          if (!checks[i].matches(ctx)) return false
      }
    }
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
  const next: NextArg = (what: string): string => {
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
  rule.checks = rule.matches.filter((m) => !m.alwaysMatches)
  rule.checkKinds = rule.checks.map(checkKind)
  computeIndexKey(rule)
  return rule
}

function createMatch(name: string, env: RuleEnvironment): Match {
  const ext = MATCH_EXTENSIONS.get(name)
  if (ext === undefined) throw new RuleParseError(`unknown match "${name}"`)
  return ext.create(env)
}

function matchAcceptsOption(name: string, option: string): boolean {
  return MATCH_EXTENSIONS.get(name)?.options.includes(option) ?? false
}

function parseMatchOption(
  name: string,
  match: Match,
  option: string,
  next: NextArg,
  invert: boolean,
  env: RuleEnvironment,
): Match {
  const ext = MATCH_EXTENSIONS.get(name)
  if (ext === undefined) throw new RuleParseError(`unknown option "--${option}"`)
  return ext.parse(match, option, next, invert, env)
}

function finishMatch(name: string, match: Match, rule: Rule): void {
  MATCH_EXTENSIONS.get(name)?.finish?.(match, rule)
}

function initTarget(target: Target, name: string): void {
  const ext = TARGET_EXTENSIONS.get(name)
  if (ext !== undefined) {
    ext.init(target)
    return
  }
  if (!/^[A-Za-z0-9_.\-]+$/.test(name) || name.length > 28) throw new RuleParseError(`bad target name "${name}"`)
  target.kind = TargetKind.JUMP
  target.chainName = name
}

function targetAcceptsOption(_target: Target, name: string, option: string): boolean {
  return TARGET_EXTENSIONS.get(name)?.options.includes(option) ?? false
}

function parseTargetOption(target: Target, name: string, option: string, next: NextArg, invert: boolean): void {
  const flag = `--${option}`
  if (invert) throw new RuleParseError(`${name}: ! not allowed before ${flag}`)
  const ext = TARGET_EXTENSIONS.get(name)
  if (ext?.parse === undefined) throw new RuleParseError(`unknown option "${flag}"`)
  ext.parse(target, option, next)
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
  return TARGET_EXTENSIONS.has(name)
}
