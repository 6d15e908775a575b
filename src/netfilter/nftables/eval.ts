/**
 * The nftables interpreter: runs a packet through the base chains of one hook in priority order, as
 * nf_hook_entries do, and each chain as nf_tables_core.c nft_do_chain does: statements in order, a
 * failed comparison or lookup breaks to the next rule, `jump` pushes a return point (at most
 * NFT_JUMP_STACK_SIZE = 16 deep), `goto` does not, `return` or the end of a regular chain pops,
 * the end of a base chain applies its policy.
 *
 * NAT statements end evaluation with accept (nft_nat.c nft_nat_eval / nft_masq.c set the verdict
 * from nf_nat_setup_info, NF_ACCEPT), `reject` ends it with drop after sending the error
 * (nft_reject_ipv4.c). NAT-type chains run only for a connection's first packet, and at one hook
 * only until one of them sets up a binding (nf_nat_core.c nf_nat_inet_fn loops over the hook's
 * nat chains and stops once nf_nat_initialized); the caller says whether the packet is the first
 * of its connection.
 *
 * The interpreter does not rewrite addresses: it reports DNAT/masquerade as actions for the NAT
 * module, mutates skb->mark (packet.mark) as `meta mark set` does, and updates dynamic sets in place
 * (`update @set`), with `nowNs` as the element timestamp. Cost is counted in kernel expressions
 * evaluated (`result.expressions`), the nftables analogue of iptables mode's rules walked.
 */
import type { Packet } from "../../wire/packet.ts"
import type { Rng } from "../../sim/rng.ts"
import { CtState } from "../constants.ts"
import { Field, VerdictKind } from "./parse.ts"
import type { CompiledStatement, JumpTarget, NftChain, NftRuleset, NftSet } from "./ruleset.ts"
import { ChainProgram, NftElement, Op, SET_FLAG } from "./ruleset.ts"

export const HOOK_NAMES = ["prerouting", "input", "forward", "output", "postrouting"] as const
export type HookName = (typeof HOOK_NAMES)[number]

/** NFT_JUMP_STACK_SIZE (include/net/netfilter/nf_tables.h). */
export const JUMP_STACK_SIZE = 16

/**
 * REJECT = dropped after sending an error: plain `reject` in the ip family is ICMP port unreachable
 * for every protocol, TCP included (nft lowers it to `reject type 0 code 3`, NFT_REJECT_ICMP_UNREACH
 * with ICMP_PORT_UNREACH, as `nft --debug=netlink` shows), which the caller transmits.
 */
export const NftVerdict = { ACCEPT: 0, DROP: 1, REJECT: 2 } as const
export type NftVerdict = (typeof NftVerdict)[keyof typeof NftVerdict]

/** What the node knows that rules ask about. */
export interface NftHost {
  /** RTN_* address type of `address` in this namespace (fib ... type): 2 = local, 1 = unicast. */
  addressType(address: number): number
}

/** Result of one hook run; reused across packets (no per-packet allocation). */
export class NftResult {
  verdict: NftVerdict = NftVerdict.ACCEPT
  /** DNAT target, when a `dnat to` ran (dnatPort 0 = keep the port). */
  dnat = false
  dnatAddress = 0
  dnatPort = 0
  masquerade = false
  masqueradeFullyRandom = false
  /** Kernel expressions evaluated (the simulated cost). */
  expressions = 0
  /** Rules entered. */
  rules = 0
  /** Elements added or refreshed by `update @set`. */
  setUpdates = 0
  /**
   * Set and map lookups among `expressions` (nft_lookup, a vmap's lookup, nft_dynset): the kernel's
   * set backends cost more per call than a load or compare (kubeProxy.nftables.lookupCost).
   */
  lookups = 0
  /** Chains entered, in order, when tracing is on (tests, `trace` output). */
  trace: string[] | null = null

  reset(): void {
    this.verdict = NftVerdict.ACCEPT
    this.dnat = false
    this.dnatAddress = 0
    this.dnatPort = 0
    this.masquerade = false
    this.masqueradeFullyRandom = false
    this.expressions = 0
    this.rules = 0
    this.setUpdates = 0
    this.lookups = 0
    if (this.trace !== null) this.trace.length = 0
  }
}

/**
 * `reciprocal_scale(val, ep_ro)` from include/linux/math.h (formerly kernel.h):
 * `(u32)(((u64) val * ep_ro) >> 32)`, the mapping nft_numgen.c nft_ng_random_gen uses:
 * `reciprocal_scale(get_random_u32(), priv->modulus) + priv->offset` (prandom_u32 on older kernels).
 * Computed exactly in doubles by splitting `val` into 16-bit halves.
 */
export function reciprocalScale(value: number, modulus: number): number {
  const hi = value >>> 16
  const lo = value & 0xffff
  return Math.floor((hi * modulus + Math.floor((lo * modulus) / 65536)) / 65536)
}

function ctStateBits(packet: Packet): number {
  // Packet.ctState holds xt_conntrack bits (INVALID 1, ESTABLISHED 2, RELATED 4, NEW 8,
  // UNTRACKED 16); nft's ct state uses the same NF_CT_STATE_BIT values except untracked = 64.
  if (packet.untracked || (packet.ctState & CtState.UNTRACKED) !== 0) return 64
  return packet.ctState & 15
}

export class NftInterpreter {
  private generation = -1
  private readonly hookChains: NftChain[][] = [[], [], [], [], []]
  private readonly stackChain: NftChain[] = new Array<NftChain>(JUMP_STACK_SIZE)
  private readonly stackRule = new Int32Array(JUMP_STACK_SIZE)
  private readonly key = new Float64Array(8)

  constructor(
    readonly ruleset: NftRuleset,
    /** Seeded stream for `numgen random` (e.g. Rng.stream(seed, "node/<name>/nftables/numgen")). */
    private readonly rng: Rng,
  ) {}

  /** Base chains of `hook` in the order the kernel runs them (priority, then registration order). */
  chainsOf(hook: number): readonly NftChain[] {
    this.refresh()
    return this.hookChains[hook]
  }

  private refresh(): void {
    if (this.generation === this.ruleset.generation) return
    this.generation = this.ruleset.generation
    for (const list of this.hookChains) list.length = 0
    const table = this.ruleset.table
    if (table === null) return
    for (const chain of table.chains.values()) {
      if (chain.spec === null) continue
      this.hookChains[HOOK_NAMES.indexOf(chain.spec.hook as HookName)].push(chain)
    }
    for (const list of this.hookChains) list.sort((a, b) => a.spec!.priority - b.spec!.priority || a.seq - b.seq)
  }

  /**
   * Runs `packet` through `hook` (index into HOOK_NAMES). `firstPacket` = the packet creates its
   * connection (nat chains run only then). Fills `result`; returns its verdict.
   */
  runHook(
    hook: number,
    packet: Packet,
    firstPacket: boolean,
    host: NftHost,
    nowNs: number,
    result: NftResult,
  ): NftVerdict {
    result.reset()
    const chains = this.chainsOf(hook)
    let natDone = false
    for (let i = 0; i < chains.length; i++) {
      const chain = chains[i]
      if (chain.spec!.type === "nat") {
        if (!firstPacket || natDone) continue
      }
      const natBefore = result.dnat || result.masquerade
      const v = this.runChain(chain, packet, host, nowNs, result)
      if (chain.spec!.type === "nat" && !natBefore && (result.dnat || result.masquerade)) natDone = true
      if (v !== NftVerdict.ACCEPT) {
        result.verdict = v
        return v
      }
    }
    result.verdict = NftVerdict.ACCEPT
    return NftVerdict.ACCEPT
  }

  /**
   * Runs one base chain on `packet` (what the chain's own hook op does in the kernel,
   * nft_do_chain_ipv4; for a nat chain, what the NAT core's lookup calls). Fills `result`.
   */
  runBaseChain(chain: NftChain, packet: Packet, host: NftHost, nowNs: number, result: NftResult): NftVerdict {
    result.reset()
    const v = this.runChain(chain, packet, host, nowNs, result)
    result.verdict = v
    return v
  }

  /**
   * The chain a jump/goto verdict names in the committed table. Memoized on the verdict object per
   * table (a commit makes a new table object), so a packet's jump costs a pointer comparison, not a
   * lookup by name.
   */
  private resolve(jump: JumpTarget): NftChain {
    const table = this.ruleset.table!
    if (jump.table === table) return jump.target!
    const chain = table.chains.get(jump.chain)!
    jump.table = table
    jump.target = chain
    return chain
  }

  // Off the end of a chain (or `return`) with nothing on the jump stack: the base chain's policy,
  // also after a `goto` left it (nf_tables_core.c nft_do_chain: nft_base_chain(basechain)->policy).
  private runChain(base: NftChain, packet: Packet, host: NftHost, nowNs: number, result: NftResult): NftVerdict {
    let chain = base
    let prog = programOf(chain)
    let ruleIndex = 0
    let sp = 0
    if (result.trace !== null) result.trace.push(chain.name)
    for (;;) {
      if (ruleIndex >= prog.ruleCount) {
        if (sp === 0) return base.spec!.policy === "drop" ? NftVerdict.DROP : NftVerdict.ACCEPT
        sp--
        chain = this.stackChain[sp]
        prog = programOf(chain)
        ruleIndex = this.stackRule[sp]
        continue
      }
      const end = prog.ruleStart[ruleIndex + 1]
      const stmts = prog.stmts
      let s = prog.ruleStart[ruleIndex++]
      result.rules++
      let next: NftChain | null = null
      let kind = -1
      for (; s < end; s++) {
        const outcome = this.evalStatement(stmts[s], packet, host, nowNs, result)
        if (outcome === BREAK) break
        if (outcome === CONTINUE) continue
        // A verdict: from the statement itself or from a vmap element.
        kind = outcome & 7
        if (kind === VerdictKind.JUMP || kind === VerdictKind.GOTO) next = this.resolve(this.pendingJump!)
        break
      }
      if (kind < 0) continue
      switch (kind) {
        case VerdictKind.ACCEPT:
          return NftVerdict.ACCEPT
        case VerdictKind.DROP:
          return this.rejected ? ((this.rejected = false), NftVerdict.REJECT) : NftVerdict.DROP
        case VerdictKind.CONTINUE:
          continue
        case VerdictKind.RETURN:
          if (sp === 0) return base.spec!.policy === "drop" ? NftVerdict.DROP : NftVerdict.ACCEPT
          sp--
          chain = this.stackChain[sp]
          prog = programOf(chain)
          ruleIndex = this.stackRule[sp]
          continue
        case VerdictKind.JUMP:
          if (sp >= JUMP_STACK_SIZE) return NftVerdict.DROP
          this.stackChain[sp] = chain
          this.stackRule[sp] = ruleIndex
          sp++
          chain = next!
          prog = programOf(chain)
          ruleIndex = 0
          if (result.trace !== null) result.trace.push(chain.name)
          continue
        case VerdictKind.GOTO:
          chain = next!
          prog = programOf(chain)
          ruleIndex = 0
          if (result.trace !== null) result.trace.push(chain.name)
          continue
      }
    }
  }

  /** The jump target memo of the verdict (statement's or vmap element's) evalStatement returned. */
  private pendingJump: JumpTarget | null = null
  private rejected = false

  /** Loads the selectors' values into `this.key`; false when an implicit protocol check fails. */
  private loadKey(st: CompiledStatement, packet: Packet, host: NftHost): boolean {
    if (st.single) {
      const dep = st.dependency0
      if (dep !== 0 && packet.protocol !== dep) return false
      this.key[0] = this.load(st.field0, packet, host)
      return true
    }
    const fields = st.fields
    for (let i = 0; i < fields.length; i++) {
      const dep = st.dependencies[i]
      if (dep !== 0 && packet.protocol !== dep) return false
      this.key[i] = this.load(fields[i], packet, host)
    }
    return true
  }

  private load(field: number, packet: Packet, host: NftHost): number {
    switch (field) {
      case Field.IP_SADDR:
        return packet.srcAddr >>> 0
      case Field.IP_DADDR:
        return packet.dstAddr >>> 0
      case Field.META_L4PROTO:
        return packet.protocol
      case Field.TH_SPORT:
      case Field.L4_SPORT:
        return packet.srcPort
      case Field.TH_DPORT:
      case Field.L4_DPORT:
        return packet.dstPort
      case Field.META_MARK:
        return packet.mark >>> 0
      case Field.CT_STATE:
        return ctStateBits(packet)
      case Field.FIB_SADDR_TYPE:
        return host.addressType(packet.srcAddr >>> 0)
      case Field.FIB_DADDR_TYPE:
        return host.addressType(packet.dstAddr >>> 0)
    }
    return 0
  }

  /** BREAK, CONTINUE, or VERDICT_FLAG | verdict kind (jump/goto target in pendingChain). */
  private evalStatement(
    st: CompiledStatement,
    packet: Packet,
    host: NftHost,
    nowNs: number,
    result: NftResult,
  ): number {
    switch (st.op) {
      case Op.MATCH: {
        let v: number
        if (st.single) {
          // loadKey's one-selector case, without the round trip through the key register.
          const dep = st.dependency0
          if (dep !== 0 && packet.protocol !== dep) {
            result.expressions += st.dependencyCost
            return BREAK
          }
          v = this.load(st.field0, packet, host)
        } else {
          if (!this.loadKey(st, packet, host)) {
            result.expressions += st.dependencyCost
            return BREAK
          }
          v = this.key[0]
        }
        result.expressions += st.cost
        if (st.andMask >= 0) v = (v & st.andMask) >>> 0
        let hit: boolean
        if (st.field0 === Field.CT_STATE) hit = (v & st.value) !== 0
        else hit = (v & st.mask) >>> 0 === st.value
        return hit !== st.negate ? CONTINUE : BREAK
      }
      case Op.LOOKUP: {
        if (!this.loadKey(st, packet, host)) {
          result.expressions += st.dependencyCost
          return BREAK
        }
        result.expressions += st.cost
        result.lookups++
        const hit = st.set!.lookup(this.key, nowNs) !== undefined
        return hit !== st.negate ? CONTINUE : BREAK
      }
      case Op.VMAP: {
        if (st.numgenModulus > 0) {
          this.key[0] = reciprocalScale(this.rng.uint32(), st.numgenModulus) + st.numgenOffset
        } else if (!this.loadKey(st, packet, host)) {
          result.expressions += st.dependencyCost
          return BREAK
        }
        result.expressions += st.cost
        result.lookups++
        const e = st.set!.lookup(this.key, nowNs)
        if (e === undefined || e.verdict === null) return BREAK
        this.pendingJump = e.jump
        return VERDICT | e.verdict.kind
      }
      case Op.VERDICT:
        result.expressions += st.cost
        this.pendingJump = st.jump
        return VERDICT | st.verdict!.kind
      case Op.REJECT:
        result.expressions += st.cost
        this.rejected = true
        return VERDICT | VerdictKind.DROP
      case Op.MASQUERADE:
        result.expressions += st.cost
        result.masquerade = true
        result.masqueradeFullyRandom = st.fullyRandom
        return VERDICT | VerdictKind.ACCEPT
      case Op.DNAT:
        result.expressions += st.cost
        result.dnat = true
        result.dnatAddress = st.dnatAddress
        result.dnatPort = st.dnatPort
        return VERDICT | VerdictKind.ACCEPT
      case Op.MARK: {
        result.expressions += st.cost
        const m = packet.mark >>> 0
        packet.mark =
          st.markOp === "set"
            ? st.value
            : st.markOp === "or"
              ? (m | st.value) >>> 0
              : st.markOp === "xor"
                ? (m ^ st.value) >>> 0
                : (m & st.value) >>> 0
        return CONTINUE
      }
      case Op.UPDATE: {
        if (!this.loadKey(st, packet, host)) {
          result.expressions += st.dependencyCost
          return BREAK
        }
        result.expressions += st.cost
        result.lookups++
        updateSet(st.set!, this.key, st.timeoutS, nowNs)
        result.setUpdates++
        return CONTINUE
      }
      case Op.COUNTER:
        result.expressions += st.cost
        return CONTINUE
    }
    return BREAK
  }
}

/** The chain's flattened rules, (re)built when its rules array is not the one they came from. */
function programOf(chain: NftChain): ChainProgram {
  const p = chain.program
  if (p !== null && p.rules === chain.rules && p.ruleCount === chain.rules.length) return p
  return (chain.program = new ChainProgram(chain.rules))
}

const BREAK = -1
const CONTINUE = -2
const VERDICT = 8

/**
 * `update @set { key [timeout T] }` (nft_dynset.c, NFT_DYNSET_OP_UPDATE): add the key if absent,
 * and in either case restart its timeout (the set's default unless the statement gives one).
 */
function updateSet(set: NftSet, key: Float64Array, timeoutS: number, nowNs: number): void {
  const timeout = timeoutS >= 0 ? timeoutS : set.timeoutS
  const expiresNs = (set.flags & SET_FLAG.TIMEOUT) !== 0 && timeout > 0 ? nowNs + timeout * 1e9 : -1
  const fields: number[] = []
  for (let i = 0; i < set.keyTypes.length; i++) fields.push(key[i])
  const existing = set.find(fields, 32)
  if (existing !== undefined) {
    if (existing.expiresNs < 0 || existing.expiresNs > nowNs) {
      existing.expiresNs = expiresNs
      return
    }
    set.remove(existing)
  }
  set.insert(new NftElement(fields, 32, "", null, timeoutS, expiresNs))
}
