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
import { baseChainsOf, ChainProgram, NftElement, Op, SET_FLAG } from "./ruleset.ts"

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

// tsx runs these modules as CommonJS, where each read of an imported object's property
// (`Field.IP_SADDR`) is a getter call on the module's exports: profiled on the star, those calls
// were most of the interpreter's time. The per-packet code reads these module-local copies.
const F_IP_SADDR: number = Field.IP_SADDR
const F_IP_DADDR: number = Field.IP_DADDR
const F_META_L4PROTO: number = Field.META_L4PROTO
const F_TH_SPORT: number = Field.TH_SPORT
const F_TH_DPORT: number = Field.TH_DPORT
const F_L4_SPORT: number = Field.L4_SPORT
const F_L4_DPORT: number = Field.L4_DPORT
const F_META_MARK: number = Field.META_MARK
const F_CT_STATE: number = Field.CT_STATE
const F_FIB_SADDR_TYPE: number = Field.FIB_SADDR_TYPE
const F_FIB_DADDR_TYPE: number = Field.FIB_DADDR_TYPE
const OP_MATCH: number = Op.MATCH
const OP_LOOKUP: number = Op.LOOKUP
const OP_VMAP: number = Op.VMAP
const OP_VERDICT: number = Op.VERDICT
const OP_REJECT: number = Op.REJECT
const OP_MASQUERADE: number = Op.MASQUERADE
const OP_DNAT: number = Op.DNAT
const OP_MARK: number = Op.MARK
const OP_UPDATE: number = Op.UPDATE
const OP_COUNTER: number = Op.COUNTER
const K_ACCEPT: number = VerdictKind.ACCEPT
const K_DROP: number = VerdictKind.DROP
const K_CONTINUE: number = VerdictKind.CONTINUE
const K_RETURN: number = VerdictKind.RETURN
const K_JUMP: number = VerdictKind.JUMP
/** Not a VerdictKind: runChain's own code for a `reject` statement's end of evaluation. */
const K_REJECT = 8
const CT_UNTRACKED: number = CtState.UNTRACKED

function ctStateBits(packet: Packet): number {
  // Packet.ctState holds xt_conntrack bits (INVALID 1, ESTABLISHED 2, RELATED 4, NEW 8,
  // UNTRACKED 16); nft's ct state uses the same NF_CT_STATE_BIT values except untracked = 64.
  if (packet.untracked || (packet.ctState & CT_UNTRACKED) !== 0) return 64
  return packet.ctState & 15
}

/** A selector's value for `packet` (payload, meta, ct and fib loads into a register). */
function loadField(field: number, packet: Packet, host: NftHost): number {
  if (field === F_IP_DADDR) return packet.dstAddr >>> 0
  if (field === F_CT_STATE) return ctStateBits(packet)
  if (field === F_IP_SADDR) return packet.srcAddr >>> 0
  if (field === F_META_L4PROTO) return packet.protocol
  if (field === F_TH_DPORT || field === F_L4_DPORT) return packet.dstPort
  if (field === F_TH_SPORT || field === F_L4_SPORT) return packet.srcPort
  if (field === F_META_MARK) return packet.mark >>> 0
  if (field === F_FIB_SADDR_TYPE) return host.addressType(packet.srcAddr >>> 0)
  if (field === F_FIB_DADDR_TYPE) return host.addressType(packet.dstAddr >>> 0)
  return 0
}

export class NftInterpreter {
  private generation = -1
  private readonly hookChains: NftChain[][] = [[], [], [], [], []]
  private readonly stackChain: NftChain[] = new Array<NftChain>(JUMP_STACK_SIZE)
  private readonly stackRule = new Int32Array(JUMP_STACK_SIZE)
  private readonly key = new Float64Array(8)

  // Assigned in the constructor, not parameter properties: those are first defined as undefined,
  // so V8 tracks them as any value (see sim/empty.ts).
  declare readonly ruleset: NftRuleset
  /** Seeded stream for `numgen random` (e.g. Rng.stream(seed, "node/<name>/nftables/numgen")). */
  declare private readonly rng: Rng

  constructor(ruleset: NftRuleset, rng: Rng) {
    this.ruleset = ruleset
    this.rng = rng
  }

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
    for (const chain of baseChainsOf(table)) {
      this.hookChains[HOOK_NAMES.indexOf(chain.spec!.hook as HookName)].push(chain)
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
    const prog = programOf(chain)
    const guard = prog.ctGuard
    if (guard !== 0 && (ctStateBits(packet) & guard) === 0) {
      // Every rule starts with a `ct state` match this packet fails (ChainProgram.ctGuard): the
      // policy, with what walking the rules would have counted.
      result.rules = prog.ruleCount
      result.expressions = prog.guardExpressions
      if (result.trace !== null) result.trace.push(chain.name)
      const policy = chain.spec!.policy === "drop" ? NftVerdict.DROP : NftVerdict.ACCEPT
      result.verdict = policy
      return policy
    }
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

  /**
   * nft_do_chain: the rules of `base` and the chains it jumps to, in order. Off the end of a chain
   * (or `return`) with nothing on the jump stack: the base chain's policy, also after a `goto` left
   * it (nf_tables_core.c nft_do_chain: nft_base_chain(basechain)->policy).
   *
   * One function with the statements inline (rather than a call per statement) and the counters in
   * locals, written to `result` once: the per-packet cost is then the statements themselves.
   */
  private runChain(base: NftChain, packet: Packet, host: NftHost, nowNs: number, result: NftResult): NftVerdict {
    let chain = base
    let prog = programOf(chain)
    let stmts = prog.stmts
    let ruleStart = prog.ruleStart
    let ruleCount = prog.ruleCount
    let ruleIndex = 0
    let sp = 0
    let expressions = 0
    let rules = 0
    let lookups = 0
    let verdict: NftVerdict = NftVerdict.ACCEPT
    const trace = result.trace
    if (trace !== null) trace.push(chain.name)
    for (;;) {
      if (ruleIndex >= ruleCount) {
        if (sp === 0) {
          verdict = base.spec!.policy === "drop" ? NftVerdict.DROP : NftVerdict.ACCEPT
          break
        }
        sp--
        chain = this.stackChain[sp]
        prog = programOf(chain)
        stmts = prog.stmts
        ruleStart = prog.ruleStart
        ruleCount = prog.ruleCount
        ruleIndex = this.stackRule[sp]
        continue
      }
      const end = ruleStart[ruleIndex + 1]
      let s = ruleStart[ruleIndex++]
      rules++
      // The rule's verdict: -1 none (a statement broke the rule, or it ran to its end), else a
      // VerdictKind, with `jump` the memo of a jump/goto target.
      let kind = -1
      let jump: JumpTarget | null = null
      for (; s < end; s++) {
        const st = stmts[s]
        const op = st.op
        if (op === OP_MATCH) {
          let v: number
          if (st.single) {
            const dep = st.dependency0
            if (dep !== 0 && packet.protocol !== dep) {
              expressions += st.dependencyCost
              break
            }
            v = loadField(st.field0, packet, host)
          } else {
            if (!this.loadKey(st, packet, host)) {
              expressions += st.dependencyCost
              break
            }
            v = this.key[0]
          }
          expressions += st.cost
          if (st.andMask >= 0) v = (v & st.andMask) >>> 0
          // ct state is a flag type: nft lowers the match to bitwise + cmp neq 0.
          const hit = st.field0 === F_CT_STATE ? (v & st.value) !== 0 : (v & st.mask) >>> 0 === st.value
          if (hit === st.negate) break
          continue
        }
        if (op === OP_VMAP) {
          if (st.numgenModulus > 0) {
            this.key[0] = reciprocalScale(this.rng.uint32(), st.numgenModulus) + st.numgenOffset
          } else if (!this.loadKey(st, packet, host)) {
            expressions += st.dependencyCost
            break
          }
          expressions += st.cost
          lookups++
          let map = st.set!
          // A node-local set's declaration (shared table): the node's instance holds the elements.
          if (map.nodeLocal) map = this.ruleset.localSetOf(map)
          const e = map.lookup(this.key, nowNs)
          if (e === undefined || e.verdict === null) break
          kind = e.verdict.kind
          jump = e.jump
          break
        }
        if (op === OP_LOOKUP) {
          if (!this.loadKey(st, packet, host)) {
            expressions += st.dependencyCost
            break
          }
          expressions += st.cost
          lookups++
          let set = st.set!
          if (set.nodeLocal) set = this.ruleset.localSetOf(set)
          const hit = set.lookup(this.key, nowNs) !== undefined
          if (hit === st.negate) break
          continue
        }
        if (op === OP_VERDICT) {
          expressions += st.cost
          kind = st.verdict!.kind
          jump = st.jump
          break
        }
        if (op === OP_DNAT) {
          expressions += st.cost
          result.dnat = true
          result.dnatAddress = st.dnatAddress
          result.dnatPort = st.dnatPort
          kind = K_ACCEPT
          break
        }
        if (op === OP_MASQUERADE) {
          expressions += st.cost
          result.masquerade = true
          result.masqueradeFullyRandom = st.fullyRandom
          kind = K_ACCEPT
          break
        }
        if (op === OP_MARK) {
          expressions += st.cost
          const m = packet.mark >>> 0
          packet.mark =
            st.markOp === "set"
              ? st.value
              : st.markOp === "or"
                ? (m | st.value) >>> 0
                : st.markOp === "xor"
                  ? (m ^ st.value) >>> 0
                  : (m & st.value) >>> 0
          continue
        }
        if (op === OP_REJECT) {
          // nft_reject_ipv4.c: the error is sent and the verdict is NF_DROP (REJECT to the caller).
          expressions += st.cost
          kind = K_REJECT
          break
        }
        if (op === OP_UPDATE) {
          if (!this.loadKey(st, packet, host)) {
            expressions += st.dependencyCost
            break
          }
          expressions += st.cost
          lookups++
          updateSet(st.set!, this.key, st.timeoutS, nowNs)
          result.setUpdates++
          continue
        }
        if (op === OP_COUNTER) {
          expressions += st.cost
          continue
        }
        break
      }
      if (kind < 0) continue
      if (kind === K_ACCEPT) {
        verdict = NftVerdict.ACCEPT
        break
      }
      if (kind === K_DROP) {
        verdict = NftVerdict.DROP
        break
      }
      if (kind === K_REJECT) {
        verdict = NftVerdict.REJECT
        break
      }
      if (kind === K_CONTINUE) continue
      if (kind === K_RETURN) {
        if (sp === 0) {
          verdict = base.spec!.policy === "drop" ? NftVerdict.DROP : NftVerdict.ACCEPT
          break
        }
        sp--
        chain = this.stackChain[sp]
        ruleIndex = this.stackRule[sp]
      } else {
        // JUMP pushes a return point (NFT_JUMP_STACK_SIZE deep at most: beyond, NF_DROP); GOTO does not.
        if (kind === K_JUMP) {
          if (sp >= JUMP_STACK_SIZE) {
            verdict = NftVerdict.DROP
            break
          }
          this.stackChain[sp] = chain
          this.stackRule[sp] = ruleIndex
          sp++
        }
        chain = this.resolve(jump!)
        ruleIndex = 0
        if (trace !== null) trace.push(chain.name)
      }
      prog = programOf(chain)
      stmts = prog.stmts
      ruleStart = prog.ruleStart
      ruleCount = prog.ruleCount
    }
    result.expressions += expressions
    result.rules += rules
    result.lookups += lookups
    return verdict
  }

  /** Loads the selectors' values into `this.key`; false when an implicit protocol check fails. */
  private loadKey(st: CompiledStatement, packet: Packet, host: NftHost): boolean {
    if (st.single) {
      const dep = st.dependency0
      if (dep !== 0 && packet.protocol !== dep) return false
      this.key[0] = loadField(st.field0, packet, host)
      return true
    }
    const fields = st.fields
    for (let i = 0; i < fields.length; i++) {
      const dep = st.dependencies[i]
      if (dep !== 0 && packet.protocol !== dep) return false
      this.key[i] = loadField(fields[i], packet, host)
    }
    return true
  }
}

/** The chain's flattened rules, (re)built when its rules array is not the one they came from. */
function programOf(chain: NftChain): ChainProgram {
  const p = chain.program
  if (p !== null && p.rules === chain.rules && p.ruleCount === chain.rules.length) return p
  return (chain.program = new ChainProgram(chain.rules))
}

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
