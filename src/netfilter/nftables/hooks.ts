/**
 * nftables base chains on the namespace's hook host: what nf_tables_api.c does when a transaction
 * adds a base chain (nf_tables_register_hook -> nf_register_net_hook with the chain's hook and
 * priority) and what nft_chain_filter.c / nft_chain_nat.c register:
 *
 * - `type filter` (and `route`) chains become hook ops of their own at their priority
 *   (nft_do_chain_ipv4), interleaved with conntrack and the iptables tables: kube-proxy's
 *   filter-prerouting-pre-dnat at -110 runs after conntrack (-200) and before DNAT (-100);
 * - `type nat` chains are not hook ops: nft_chain_nat.c registers them with the NAT core
 *   (nf_nat_ipv4_register_fn), which runs them from its own op at NF_IP_PRI_NAT_DST / NAT_SRC for a
 *   connection's first packet, in priority order with the iptables nat table, until one binds
 *   (NetfilterStack.natLookups, nf_nat_inet_fn). `dnat to` and `masquerade` bind through the same
 *   NAT core as the iptables targets (nat.ts: tuple selection, port clash search, manip).
 *
 * Cost: every kernel expression the interpreter evaluates is charged `expressionCostNs` of
 * simulated CPU, except set and map lookups, charged `lookupCostNs` each whatever the set's size
 * (the kernel's hash/rbtree/pipapo sets), added to the traversal's extra cost (NfHookState.extraNs).
 *
 * Hot path: one op object per base chain, reused; one NftResult per namespace, reset per call;
 * the NAT range for `dnat to` is a reused scratch object.
 */
import type { FilterHost } from "../../net/hooks.ts"
import { Hook, RejectWith, Verdict } from "../../net/hooks.ts"
import type { Rng } from "../../sim/rng.ts"
import { DropReason } from "../../wire/drop-reason.ts"
import type { Packet } from "../../wire/packet.ts"
import { CtStatus } from "../constants.ts"
import type { NfHookHandler, NfHookOp, NfHookState } from "../hook-entries.ts"
import type { NatRange } from "../nat.ts"
import { Manip, NatFlag } from "../nat.ts"
import type { NetfilterStack } from "../stack.ts"
import type { NftHost } from "./eval.ts"
import { HOOK_NAMES, NftInterpreter, NftResult, NftVerdict } from "./eval.ts"
import type { Transaction } from "./parse.ts"
import type { NftChain } from "./ruleset.ts"
import { baseChainsOf, NftRuleset } from "./ruleset.ts"

/** RTN_LOCAL / RTN_UNICAST (include/uapi/linux/rtnetlink.h), what `fib daddr type` yields. */
const RTN_UNICAST = 1
const RTN_LOCAL = 2

/** One base chain's registration: a hook op (filter, route) or a NAT core lookup (nat). */
class NftChainOp implements NfHookHandler {
  // Fields read per packet are `declare`d and assigned in the constructor rather than parameter
  // properties: those are first defined as undefined, so V8 tracks them as any value (see
  // sim/empty.ts); assigned once, a field keeps the type of what it holds.
  declare op: NfHookOp
  declare private readonly binding: NftHooks
  declare chain: NftChain
  declare readonly nat: boolean
  constructor(binding: NftHooks, chain: NftChain, nat: boolean) {
    this.binding = binding
    this.chain = chain
    this.nat = nat
    const spec = chain.spec!
    this.op = {
      hook: HOOK_NAMES.indexOf(spec.hook as (typeof HOOK_NAMES)[number]) as Hook,
      priority: spec.priority,
      handler: this,
      name: `nft ${binding.family} ${binding.tableName} ${chain.name}`,
    }
  }
  hookFn(packet: Packet, state: NfHookState): Verdict {
    return this.nat ? this.binding.runNatChain(this, packet, state) : this.binding.runFilterChain(this, packet, state)
  }
}

/** Observer for the `trace` command: the base chains run and the chains they entered. */
export interface NftChainTracer {
  nftChains(
    hook: Hook,
    chains: readonly string[],
    verdict: NftVerdict,
    expressions: number,
    lookups: number,
    packet: Packet,
  ): void
}

/** A scratch NAT range for `dnat to ADDR[:PORT]` (nft_nat_eval fills a struct nf_nat_range2). */
class DnatRange implements NatRange {
  natFlags = 0
  natHasAddr = true
  natAddrMin = 0
  natAddrMax = 0
  natPortMin = 0
  natPortMax = 0
}

const MASQUERADE_RANGE: NatRange = {
  natFlags: 0,
  natHasAddr: false,
  natAddrMin: 0,
  natAddrMax: 0,
  natPortMin: 0,
  natPortMax: 0,
}
const MASQUERADE_FULLY_RANDOM_RANGE: NatRange = { ...MASQUERADE_RANGE, natFlags: NatFlag.PROTO_RANDOM_FULLY }

/**
 * The nftables side of one namespace's netfilter: the ruleset (one table, as kube-proxy's
 * private `kube-proxy` table), its interpreter, and the base chains registered on the stack.
 */
export class NftHooks implements NftHost {
  readonly ruleset = new NftRuleset()
  // Assigned in the constructor, not parameter properties (defined as undefined first): see NftChainOp.
  declare readonly interpreter: NftInterpreter
  declare private readonly stack: NetfilterStack
  declare private readonly host: FilterHost
  /** Simulated CPU per kernel expression evaluated, lookups aside (kubeProxy.nftables.expressionCost). */
  declare readonly expressionCostNs: number
  /** Simulated CPU per set or map lookup (kubeProxy.nftables.lookupCost). */
  declare readonly lookupCostNs: number
  private readonly result = new NftResult()
  private readonly dnatRange = new DnatRange()
  private registered = new Map<string, NftChainOp>()
  /** Kernel expressions evaluated over the namespace's life (set/map lookups included). */
  expressionsEvaluated = 0
  /** Set and map lookups among them. */
  lookupsEvaluated = 0
  tracer: NftChainTracer | null = null
  family = "ip"
  tableName = ""

  constructor(
    stack: NetfilterStack,
    host: FilterHost,
    rng: Rng,
    expressionCostNs: number,
    lookupCostNs: number = expressionCostNs,
  ) {
    this.stack = stack
    this.host = host
    this.expressionCostNs = expressionCostNs
    this.lookupCostNs = lookupCostNs
    for (const [name, value] of [
      ["expressionCostNs", expressionCostNs],
      ["lookupCostNs", lookupCostNs],
    ] as const)
      if (!(Number.isSafeInteger(value) && value >= 0))
        throw new Error(`nftables: ${name} must be a non-negative integer, got ${value}`)
    this.interpreter = new NftInterpreter(this.ruleset, rng)
  }

  /** `nft -f`: parses and applies one transaction atomically (throws NftParseError, changes nothing). */
  applyText(text: string, nowNs: number, file = "<nft>"): void {
    this.ruleset.applyText(text, file, nowNs)
    this.rebind()
  }

  apply(tx: Transaction, nowNs: number): void {
    this.ruleset.apply(tx, nowNs)
    this.rebind()
  }

  /**
   * Registers the base chains the committed table holds and unregisters the ones it no longer
   * holds (nf_tables_commit: NFT_MSG_NEWCHAIN / DELCHAIN of base chains). A chain whose hook,
   * priority and type are unchanged keeps its registration (and its place among equal priorities).
   */
  private rebind(): void {
    const table = this.ruleset.table
    const next = new Map<string, NftChainOp>()
    if (table !== null) {
      this.family = table.family
      this.tableName = table.name
      for (const chain of baseChainsOf(table)) {
        const old = this.registered.get(chain.name)
        const spec = chain.spec!
        if (
          old !== undefined &&
          old.chain.spec!.hook === spec.hook &&
          old.chain.spec!.priority === spec.priority &&
          old.chain.spec!.type === spec.type
        ) {
          old.chain = chain
          next.set(chain.name, old)
          this.registered.delete(chain.name)
        } else {
          next.set(chain.name, new NftChainOp(this, chain, spec.type === "nat"))
        }
      }
    }
    for (const op of this.registered.values()) this.unregister(op)
    // New chains in creation order (nft registers a transaction's hooks in command order).
    const fresh = [...next.values()].filter((op) => !this.isRegistered(op)).sort((a, b) => a.chain.seq - b.chain.seq)
    for (const op of fresh) (op.nat ? this.stack.natLookups : this.stack.hooks).register(op.op)
    this.registered = next
  }

  private isRegistered(op: NftChainOp): boolean {
    const entries = op.nat ? this.stack.natLookups : this.stack.hooks
    return entries.ops[op.op.hook].includes(op.op)
  }

  private unregister(op: NftChainOp): void {
    ;(op.nat ? this.stack.natLookups : this.stack.hooks).unregister(op.op)
  }

  /** "PRIORITY NAME" of every registered base chain, by hook (for tests and listings). */
  registrations(): string[] {
    return [...this.registered.values()].map(
      (op) => `${HOOK_NAMES[op.op.hook]} ${op.op.priority} ${op.chain.name}${op.nat ? " (nat)" : ""}`,
    )
  }

  // -------------------------------------------------------------------------------------------
  // NftHost

  addressType(address: number): number {
    return this.host.isLocalAddress(address) ? RTN_LOCAL : RTN_UNICAST
  }

  // -------------------------------------------------------------------------------------------
  // Per packet

  private run(op: NftChainOp, packet: Packet, state: NfHookState): NftVerdict {
    const result = this.result
    const tracing = this.tracer !== null
    if (tracing && result.trace === null) result.trace = []
    else if (!tracing) result.trace = null
    const v = this.interpreter.runBaseChain(op.chain, packet, this, state.nowNs, result)
    this.expressionsEvaluated += result.expressions
    this.lookupsEvaluated += result.lookups
    state.extraNs += (result.expressions - result.lookups) * this.expressionCostNs + result.lookups * this.lookupCostNs
    if (tracing) this.tracer!.nftChains(op.op.hook, result.trace!, v, result.expressions, result.lookups, packet)
    return v
  }

  private verdictOf(v: NftVerdict): Verdict {
    if (v === NftVerdict.ACCEPT) return Verdict.ACCEPT
    if (v === NftVerdict.DROP) {
      this.stack.lastDropReason = DropReason.NETFILTER_DROP
      return Verdict.DROP
    }
    // Plain `reject` in the ip family: ICMP port unreachable, TCP included (eval.ts NftVerdict).
    this.stack.lastDropReason = DropReason.NETFILTER_REJECT
    this.stack.lastRejectWith = RejectWith.ICMP_PORT_UNREACHABLE
    return Verdict.REJECT
  }

  /** nft_do_chain_ipv4 for a filter/route base chain. */
  runFilterChain(op: NftChainOp, packet: Packet, state: NfHookState): Verdict {
    return this.verdictOf(this.run(op, packet, state))
  }

  /**
   * nft_nat_do_chain, called by the NAT core for a NEW connection whose manip is not set up:
   * runs the chain; `dnat to` / `masquerade` bind through the NAT core (nft_nat_eval,
   * nft_masq_eval -> nf_nat_masquerade_ipv4), which then stops calling further lookups.
   */
  runNatChain(op: NftChainOp, packet: Packet, state: NfHookState): Verdict {
    const v = this.run(op, packet, state)
    if (v !== NftVerdict.ACCEPT) return this.verdictOf(v)
    const result = this.result
    const id = packet.ctId
    if (id < 0) return Verdict.ACCEPT
    const nat = this.stack.nat
    if (result.dnat) {
      if ((this.stack.conntrack.status[id] & CtStatus.DST_NAT_DONE) !== 0) return Verdict.ACCEPT
      const r = this.dnatRange
      r.natAddrMin = result.dnatAddress >>> 0
      r.natAddrMax = result.dnatAddress >>> 0
      // nft_nat_eval: NF_NAT_RANGE_PROTO_SPECIFIED only when the statement has a port register.
      r.natFlags = result.dnatPort !== 0 ? NatFlag.PROTO_SPECIFIED : 0
      r.natPortMin = result.dnatPort
      r.natPortMax = result.dnatPort
      nat.setupInfo(id, Manip.DST, r, -1, state.nowNs)
    } else if (result.masquerade) {
      if ((this.stack.conntrack.status[id] & CtStatus.SRC_NAT_DONE) !== 0) return Verdict.ACCEPT
      // nf_nat_masquerade_ipv4: the out interface's primary address; none: NF_DROP.
      const address = state.outIfIndex >= 0 ? this.host.interfaceAddress(state.outIfIndex) : 0
      if (address === 0) {
        this.stack.lastDropReason = DropReason.NETFILTER_DROP
        return Verdict.DROP
      }
      nat.setupInfo(
        id,
        Manip.SRC,
        result.masqueradeFullyRandom ? MASQUERADE_FULLY_RANDOM_RANGE : MASQUERADE_RANGE,
        address,
        state.nowNs,
      )
    }
    return Verdict.ACCEPT
  }
}
