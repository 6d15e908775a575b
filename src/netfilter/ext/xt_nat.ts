/**
 * `-j DNAT --to-destination` / `-j SNAT --to-source` (net/netfilter/xt_nat.c, extensions/libxt_DNAT.c,
 * libxt_SNAT.c): the range is parsed here; the NAT itself is nat.ts (nf_nat_setup_info).
 *
 * Node parameters (kube-netsim's own syntax, not iptables'): a range may name the evaluating node's
 * values instead of literal ones, `{host}` for the address and `{port:K}` for a port, e.g.
 * `-j DNAT --to-destination {host}:{port:7}` or `-j REDIRECT --to-ports {port:7}`. Each node's
 * NetfilterStack holds its values (NatParams); the rule then reads them when it binds a connection
 * and iptables-save prints them, so every node prints and does exactly what its own literal rule
 * would, while one parsed rule object serves all nodes (rule-cache.ts). The userspace proxier writes
 * its portal rules this way: they differ between nodes only in the proxy port (chosen per node) and
 * the host IP (proxy/userspace/proxier.ts).
 */
import { formatIpv4, parseIpv4 } from "../../wire/ipv4.ts"
import type { Ipv4 } from "../../wire/ipv4.ts"
import { TargetKind } from "../constants.ts"
import type { NatRange } from "../nat.ts"
import { NatFlag } from "../nat.ts"
import type { NextArg, Target, TargetExtension } from "../xt.ts"
import { RuleParseError, parsePort } from "../xt.ts"

/** `ip[-ip][:port[-port]]`. */
export function parseNatRange(text: string, target: Target): void {
  const colon = text.indexOf(":")
  const addrText = colon < 0 ? text : text.slice(0, colon)
  if (addrText === HOST_PARAM) {
    target.natHostParam = true
    target.natHasAddr = true
  } else if (addrText !== "") {
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

/** `port[-port]` (also MASQUERADE --to-ports). */
export function parseNatPorts(text: string, target: Target): void {
  const param = PORT_PARAM.exec(text)
  if (param !== null) {
    target.natPortParam = Number(param[1])
    target.natFlags |= NatFlag.PROTO_SPECIFIED
    return
  }
  const dash = text.indexOf("-")
  const lo = parsePort(dash < 0 ? text : text.slice(0, dash))
  const hi = dash < 0 ? lo : parsePort(text.slice(dash + 1))
  if (hi < lo) throw new RuleParseError(`bad NAT port range "${text}"`)
  target.natPortMin = lo
  target.natPortMax = hi
  target.natFlags |= NatFlag.PROTO_SPECIFIED
}

/** --random, --random-fully, --persistent (accepted, not modelled: one address per range here). */
export function parseNatFlag(target: Target, option: string): boolean {
  if (option === "random") target.natFlags |= NatFlag.PROTO_RANDOM
  else if (option === "random-fully") target.natFlags |= NatFlag.PROTO_RANDOM_FULLY
  else if (option !== "persistent") return false
  return true
}

function extension(name: string, kind: TargetKind, rangeOption: string, options: readonly string[]): TargetExtension {
  return {
    name,
    options: [rangeOption, ...options],
    init(target: Target): void {
      target.kind = kind
    },
    parse(target: Target, option: string, next: NextArg): void {
      if (option === rangeOption) parseNatRange(next(`--${option}`), target)
      else if (!parseNatFlag(target, option)) throw new RuleParseError(`unknown option "--${option}"`)
    },
  }
}

export const dnatTarget = extension("DNAT", TargetKind.DNAT, "to-destination", ["random", "persistent"])
export const snatTarget = extension("SNAT", TargetKind.SNAT, "to-source", ["random", "random-fully", "persistent"])

/** The node's host address in a NAT range (NatParams.hostAddress). */
export const HOST_PARAM = "{host}"
const PORT_PARAM = /^\{port:(\d{1,9})\}$/
const RANGE_OPTIONS = new Set(["--to-ports", "--to-destination", "--to-source"])
const ANY_PARAM = /\{host\}|\{port:(\d{1,9})\}/g

/** The range token naming the node's port `k` (NatParams.ports[k]). */
export function portParam(k: number): string {
  return `{port:${k}}`
}

/** A NatRange whose fields the stack fills per use (no allocation per connection). */
class ScratchRange implements NatRange {
  natFlags = 0
  natHasAddr = false
  natAddrMin = 0
  natAddrMax = 0
  natPortMin = 0
  natPortMax = 0
}

/** One node's values of the node parameters (see the file comment). */
export class NatParams {
  /** By parameter index: the node's port, 0 while it has none. */
  private ports = new Uint16Array(0)
  /** The node's host address (`{host}`). */
  hostAddress: Ipv4 = 0
  private readonly scratch = new ScratchRange()

  /**
   * Who still owes the ports (a deferred userspace proxier, proxy/userspace/deferral.ts): it sets
   * them before the first read.
   */
  pending: { settle(): void } | null = null

  /** The node's port `k` (0: none). */
  port(k: number): number {
    if (this.pending !== null) this.pending.settle()
    return k < this.ports.length ? this.ports[k] : 0
  }

  setPort(k: number, port: number): void {
    if (k >= this.ports.length) {
      const grown = new Uint16Array(Math.max(k + 1, 2 * this.ports.length, 16))
      grown.set(this.ports)
      this.ports = grown
    }
    this.ports[k] = port
  }

  /** Slots held (memory: two bytes each). */
  get size(): number {
    return this.ports.length
  }

  /** `target`'s range with this node's values (valid until the next call). */
  range(target: Target): NatRange {
    const r = this.scratch
    r.natFlags = target.natFlags
    r.natHasAddr = target.natHasAddr
    r.natAddrMin = target.natHostParam ? this.hostAddress : target.natAddrMin
    r.natAddrMax = target.natHostParam ? this.hostAddress : target.natAddrMax
    const port = target.natPortParam < 0 ? -1 : this.port(target.natPortParam)
    r.natPortMin = port < 0 ? target.natPortMin : port
    r.natPortMax = port < 0 ? target.natPortMax : port
    return r
  }

  /** A rule's tokens with the parameters replaced by this node's values, as iptables-save prints them. */
  tokens(tokens: readonly string[]): string[] {
    // Only a range argument holds parameters (a comment that happens to contain one stays as is).
    return tokens.map((t, i) =>
      i > 0 && RANGE_OPTIONS.has(tokens[i - 1])
        ? t.replace(ANY_PARAM, (_m, k: string | undefined) =>
            k === undefined ? formatIpv4(this.hostAddress) : String(this.port(Number(k))),
          )
        : t,
    )
  }
}

/** Whether a rule's target reads node parameters (its printed tokens need NatParams.tokens). */
export function readsNatParams(target: Target): boolean {
  return target.natPortParam >= 0 || target.natHostParam
}
