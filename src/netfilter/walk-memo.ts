/**
 * An exact memo of ipt_do_table walks over pure chains (wall time only; results unchanged).
 *
 * The walk of one table at one hook is a function of the packet fields its rules read, when every
 * rule it can reach is pure: its matches read packet fields only (the header's -s/-d/-p, ctstate,
 * mark, --sport/--dport, `-m set`), no interface match, and its target only decides
 * (ACCEPT, DROP, REJECT, RETURN, jump, goto, or none). Kube-proxy's filter chains are of this kind
 * (IPVS mode walks KUBE-IPVS-FILTER's `-m set` rules, KUBE-PROXY-FIREWALL and KUBE-NODE-PORT for
 * every packet to a VIP; every mode walks KUBE-FORWARD for every forwarded packet). For such a
 * (table, hook) pair the walk's outcome (verdict, the rules and policy it counts, the rules a linear
 * walk evaluates) is remembered per packet class: the values of exactly the fields the reachable
 * rules read (the others are left out of the key, so e.g. a new flow's source port does not miss),
 * and the generation of the ipset contents (any set change forgets every entry). A later packet of
 * the class replays the outcome: the same counters counted with its own byte count, the same rules
 * charged, the same verdict, as ipt_do_table would have produced by walking. Tables are immutable
 * once committed (a restore replaces them, table.ts), so an entry is tied to its table object.
 *
 * A walk that reads no field at all (every reachable rule matches any packet, e.g. IPVS mode's
 * filter OUTPUT: a jump to the empty KUBE-IPVS-OUT-FILTER, then the policy) has one outcome, kept
 * in its plan's own slot without a key: replayed with no hash, key compare or review.
 *
 * Not memoised (walked as before): the nat table (its targets bind NAT), chains reaching any rule
 * with another match or target (statistic, recent, nfacct, addrtype, LOG, MARK, ...), reaching more
 * than MAX_PLAN_RULES rules (large chains are indexed instead), and walks while a tracer is set.
 */
import type { Packet } from "../wire/packet.ts"
import { Verdict } from "../net/hooks.ts"
import { DropReason } from "../wire/drop-reason.ts"
import type { RejectWith } from "../net/hooks.ts"
import { Policy, TableId, TargetKind } from "./constants.ts"
import type { Rule } from "./rule.ts"
import type { Chain, Table } from "./table.ts"
import type { MatchContext } from "./xt.ts"
import type { PendingCounts, RuleCounters } from "./counters.ts"
import { PortMatch } from "./ext/xt_tcpudp.ts"
import { SetMatch } from "./ext/xt_set.ts"
import { CtStateMatch } from "./ext/xt_conntrack.ts"
import { MarkMatch } from "./ext/xt_mark.ts"
import { ipsetContents } from "./ipset.ts"

// Module-local copies: each use of an imported object's property is otherwise a live-binding read
// and a property load per packet (and a getter call when loaded as CommonJS; bench/ns3/README.md).
const SETS = ipsetContents
const V_ACCEPT: number = Verdict.ACCEPT
const V_DROP: number = Verdict.DROP
const V_REJECT: number = Verdict.REJECT
const DROP_REASON: number = DropReason.NETFILTER_DROP
const REJECT_REASON: number = DropReason.NETFILTER_REJECT
const NAT_TABLE: number = TableId.NAT

// Packet fields a plan's key holds (bit per field).
const F_SRC = 1
const F_DST = 2
const F_PROTO = 4
const F_SPORT = 8
const F_DPORT = 16
const F_ICMP = 32
const F_CT = 64
const F_MARK = 128
/** Key words: src, dst, sport << 16 | dport, protocol | icmp << 8, ctstate, mark. */
const KEY_WORDS = 6
/** Conntrack state values (CtState bits: all below 256). */
const CT_STATES = 0xff

/** Walks reaching more rules than this are not memoised (bounded miss cost; big chains are indexed). */
const MAX_PLAN_RULES = 64
/**
 * Walks reaching fewer rules than this, none of them an `-m set` match, are not memoised: hashing
 * the key costs about as much as evaluating a handful of header and ctstate matches (userspace
 * mode's filter INPUT, a jump to an empty chain, was slower memoised through the hashed slots; a
 * walk reading no field now takes the keyless slot instead, see planFields). IPVS mode's FORWARD walk
 * (a jump to the empty KUBE-PROXY-FIREWALL, then KUBE-FORWARD's mark and ctstate rules: 4 rules)
 * is faster memoised: 109 vs 148 ns per FORWARD runHook at best (microbenchmark, 400k walks).
 */
const MIN_PLAN_RULES = 4
/** Direct-mapped slots per stack (a power of two). */
const SLOTS = 256
/** Counts (rules matched, policy) a stored outcome holds at most; a longer walk is not stored. */
const MAX_BUMPS = 16
/** The kernel's jump stack bound as traverse models it (stack.ts JUMP_STACK_MAX). */
const JUMP_STACK_MAX = 1024
const NO_PLAN = -1
/** Plan slots: (table id, hook) pairs (below 256: a plan's id tags its slots' keys). */
const PLANS = 8 * 5
// A slot's words (WalkMemo.slots): key words 0 to 5 (S_TAG: word 3, tagged with the plan), the
// outcome, and the counter index of each of its bumps (MAX_BUMPS from S_AT).
const S_TAG = 3
const S_VERDICT = 6
const S_RULES = 7
const S_REJECT = 8
const S_BUMPS = 9
const S_AT = 16
const SLOT_WORDS = S_AT + MAX_BUMPS
/** A free slot's tag word: its top byte (255) is no plan's. */
const EMPTY = -1
/**
 * A plan's hit rate is reviewed every REVIEW_WALKS walks: when fewer than 1 in MIN_HIT_SHARE hit
 * (the packet classes rarely repeat, e.g. a key with a port that changes per flow), the plan is
 * dropped and its walks go back to the plain traversal until the table changes. Wall time only:
 * a walk's outcome is the same either way.
 */
const REVIEW_WALKS = 4096
const MIN_HIT_SHARE = 8

/** Fields a rule's matches read; -1 when the rule is not pure in the sense above. */
function ruleFields(rule: Rule): number {
  if (rule.inIface !== "" || rule.outIface !== "") return -1
  let f = 0
  if (rule.srcMask !== 0) f |= F_SRC
  if (rule.dstMask !== 0) f |= F_DST
  if (rule.protocol !== 0) f |= F_PROTO
  // The classes Rule.evaluate checks inline (rule.ts checkKind); any other match is not memoised.
  for (const m of rule.checks) {
    if (m instanceof CtStateMatch) f |= F_CT
    else if (m instanceof MarkMatch) f |= F_MARK
    else if (m instanceof PortMatch) {
      f |= F_PROTO
      if (m.sportMin !== 0 || m.sportMax !== 65535 || m.sportInvert) f |= F_SPORT
      if (m.dportMin !== 0 || m.dportMax !== 65535 || m.dportInvert) f |= F_DPORT
    } else if (m instanceof SetMatch) {
      // ip_set_test reads, per dimension given, the address or the port (ICMP: type/code) of
      // the flagged side, and the protocol for ports (ipset.ts test / packetPort).
      f |= F_PROTO | F_ICMP
      const flags = [m.src0, m.src1, m.src2]
      for (let d = 0; d < m.dimensions && d < 3; d++) f |= flags[d] ? F_SRC | F_SPORT : F_DST | F_DPORT
    } else return -1
  }
  switch (rule.target.kind) {
    case TargetKind.NONE:
    case TargetKind.ACCEPT:
    case TargetKind.DROP:
    case TargetKind.REJECT:
    case TargetKind.RETURN:
    case TargetKind.JUMP:
    case TargetKind.GOTO:
      return f
    default:
      return -1
  }
}

/** Whether `rule` can match a packet whose conntrack state is `ctState` (its ctstate matches allow it). */
function ctStateAllows(rule: Rule, ctState: number): boolean {
  for (const m of rule.checks) if (m instanceof CtStateMatch && ((ctState & m.mask) !== 0) === m.invert) return false
  return true
}

/**
 * The key fields of the (table, hook) walk from `start`, or NO_PLAN. With `ctState` >= 0: the
 * fields that the walks of packets in that conntrack state read. A rule whose ctstate match fails
 * for that state evaluates false whatever its other fields hold (rules here are pure), so neither
 * its fields nor the chain it jumps to are part of such a walk: e.g. a reply (ESTABLISHED) is
 * accepted by KUBE-FORWARD's ctstate rule before any rule reading a port, so its key does not
 * hold the client's source port, which changes with every new flow.
 */
function planFields(table: Table, start: Chain, ctState = -1): number {
  const seen = new Set<Chain>()
  const todo: Chain[] = [start]
  let fields = 0
  let rules = 0
  let sets = false
  while (todo.length > 0) {
    const chain = todo.pop() as Chain
    if (seen.has(chain)) continue
    seen.add(chain)
    rules += chain.rules.length
    if (rules > MAX_PLAN_RULES) return NO_PLAN
    for (let i = 0; i < chain.rules.length; i++) {
      const f = ruleFields(chain.rules[i])
      if (f < 0) return NO_PLAN
      if (ctState >= 0 && !ctStateAllows(chain.rules[i], ctState)) continue
      fields |= f
      if (!sets) for (const m of chain.rules[i].checks) if (m instanceof SetMatch) sets = true
      const kind = chain.rules[i].target.kind
      if (kind === TargetKind.JUMP || kind === TargetKind.GOTO) todo.push(table.chains[chain.jumps[i]])
    }
  }
  // No field read (every reachable rule matches any packet: e.g. IPVS mode's filter OUTPUT, a jump
  // to the empty KUBE-IPVS-OUT-FILTER): one outcome for all packets, kept without a key (walk).
  if (fields === 0) return 0
  return sets || rules >= MIN_PLAN_RULES ? fields : NO_PLAN
}

/** One namespace's walk memo (NetfilterStack.walkMemo). */
export class WalkMemo implements PendingCounts {
  /** Outcome of the last `walk`: rules a linear walk evaluated, and DROP/REJECT details. */
  rules = 0
  dropReason: number = DropReason.NETFILTER_DROP
  rejectWith: RejectWith = 0 as RejectWith
  /** Walks answered from the memo (tests). */
  hits = 0

  // Plans per (table id, hook): the table they were made for and its key fields (or NO_PLAN).
  private readonly planTables: (Table | null)[] = new Array<Table | null>(PLANS).fill(null)
  private readonly planFields = new Int32Array(PLANS)
  /** Per plan, the AND mask of each key word (0 for a field no reachable rule reads). */
  private readonly planMasks = new Int32Array(PLANS * KEY_WORDS)
  /**
   * Per plan whose key holds the conntrack state: the key word masks per state value (256 x
   * KEY_WORDS, made on a state's first walk; a state's ctstate word is -1 once made), from the
   * fields the walks of packets in that state read (planFields with ctState). Null for the others.
   */
  private readonly ctMasks: (Int32Array | null)[] = new Array<Int32Array | null>(PLANS).fill(null)
  /** Per plan, walks and misses since the last review (see REVIEW_WALKS). */
  private readonly planWalks = new Int32Array(PLANS)
  private readonly planMisses = new Int32Array(PLANS)

  /**
   * Slots, SLOT_WORDS words each in one array (one base and bounds check for a whole hit): the key
   * words (word S_TAG: the protocol/ICMP word with the plan id in its top byte, which the masked
   * word leaves zero; EMPTY in a free slot, which no key equals), the outcome (verdict, rules
   * charged, REJECT kind, count of bumps) and the bumps' counter indexes. SLOTS hashed slots, then
   * one slot per plan for the plans whose walks read no packet field (SLOTS + plan: their one
   * outcome, keyed by nothing). A slot is valid for the plan's current table, the ipset generation
   * `generation` and the counters `slotCounters` at `slotLayout`: when one of them changes, the
   * slots it invalidates are freed (plan: the plan's slots; generation: the hashed slots; counters:
   * all), so a hit compares the key words only.
   */
  private readonly slots = new Int32Array((SLOTS + PLANS) * SLOT_WORDS).fill(0)
  /** The ipset generation the hashed slots were stored under. */
  private generation = -1
  /**
   * Per slot MAX_BUMPS counts, each as the chain's counter array on this node and the index of the
   * count's packet counter in it (word S_AT + i of the slot; the byte counter follows): what
   * RuleCounters.rule/policy write, without looking the array up per count. Valid while the
   * counters object and its `layout` are the ones the slots were stored under (`slotCounters`,
   * `slotLayout`; walk frees every slot when either changes).
   */
  private readonly bumpArrays: (Float64Array | null)[] = new Array<Float64Array | null>(
    (SLOTS + PLANS) * MAX_BUMPS,
  ).fill(null)
  /** The RuleCounters this memo's slots hold arrays of (one stack's), and its layout then. */
  private slotCounters: RuleCounters | null = null
  private slotLayout = -1
  /**
   * Per slot, the packets [2 slot] and bytes [2 slot + 1] of its hits not yet added into its bump
   * arrays (RuleCounters.PendingCounts): a hit adds to these two words instead of two counter
   * pairs; `flushSlot` adds them in when the slot is freed or overwritten, `flushCounts` when the
   * counters are read or moved. Same values whenever read: integer sums, exact in float64.
   */
  private readonly pend = new Float64Array((SLOTS + PLANS) * 2)

  // The current walk's key (scratch) and recorded counts.
  private readonly key = new Int32Array(KEY_WORDS)
  // Reused, never truncated: `length = 0` drops an array's backing store, and the next push
  // allocates a new one (a per-walk allocation); recLength counts the entries of this walk.
  private readonly recChains: Chain[] = []
  private readonly recRules: number[] = []
  private recLength = 0
  private readonly stackChains: (Chain | null)[] = []
  private readonly stackPositions: number[] = []

  constructor() {
    this.freeSlots(0, SLOTS + PLANS)
  }

  /**
   * The walk of `table` from `start` at `hook` for `packet` (the one in `ctx`), counted in
   * `counters`: the verdict (rules charged in `rules`, DROP/REJECT details in
   * dropReason/rejectWith), or -1 when this (table, hook) is not memoised and the caller walks it
   * itself. The hit path only: a miss is `miss` / `missConst` (kept out, so this stays small).
   */
  walk(table: Table, hook: number, start: Chain, packet: Packet, ctx: MatchContext, counters: RuleCounters): number {
    const tableId: number = table.id
    if (tableId === NAT_TABLE) return -1
    const p = tableId * 5 + hook
    if (this.planTables[p] !== table) this.plan(p, table, start)
    const fields = this.planFields[p]
    if (fields === NO_PLAN) return -1
    if (counters !== this.slotCounters || counters.layout !== this.slotLayout) {
      // The slots' counter arrays may be stale (another RuleCounters, or a restore moved arrays).
      // Held-back counts go to the arrays they were held for first (freeSlots); none are held
      // after a carry (RuleCounters.carry flushes before it moves arrays).
      this.freeSlots(0, SLOTS + PLANS)
      this.slotCounters = counters
      this.slotLayout = counters.layout
      counters.holdsCounts(this)
    }
    const slots = this.slots
    const tag = p << 24
    let slot: number
    let s: number
    if (fields === 0) {
      slot = SLOTS + p
      s = slot * SLOT_WORDS
      if (slots[(s + S_TAG) | 0] !== tag) return this.missConst(p, table, start, ctx, counters, packet.totalBytes)
    } else {
      let m: Int32Array = this.planMasks
      let pm = p * KEY_WORDS
      const cm = this.ctMasks[p]
      if (cm !== null) {
        pm = (packet.ctState & CT_STATES) * KEY_WORDS
        if (cm[(pm + 4) | 0] === 0) this.planState(cm, pm, table, start, packet.ctState & CT_STATES)
        m = cm
      }
      // `| 0`: int32 index arithmetic (pm is small), with no overflow check per word.
      const k0 = packet.srcAddr & m[pm]
      const k1 = packet.dstAddr & m[(pm + 1) | 0]
      const k2 = ((packet.srcPort << 16) | packet.dstPort) & m[(pm + 2) | 0]
      const k3 = (packet.protocol | (packet.icmpType << 8) | (packet.icmpCode << 16)) & m[(pm + 3) | 0]
      const k4 = packet.ctState & m[(pm + 4) | 0]
      const k5 = packet.mark & m[(pm + 5) | 0]
      let h = Math.imul(k0 ^ Math.imul(k1, 0x85ebca6b) ^ (start.uid << 3) ^ hook, 0x9e3779b1)
      h = Math.imul(h ^ (h >>> 15) ^ k2 ^ Math.imul(k3 ^ (k4 << 24), 0xc2b2ae35), 0x27d4eb2f)
      h = Math.imul(h ^ (h >>> 13) ^ k5, 0x9e3779b1)
      slot = (h >>> 24) & (SLOTS - 1)
      if (SETS.generation !== this.generation) {
        // Any set change forgets every hashed entry (their walks may test sets).
        this.generation = SETS.generation
        this.freeSlots(0, SLOTS)
      }
      if (++this.planWalks[p] >= REVIEW_WALKS) this.review(p)
      s = slot * SLOT_WORDS
      if (
        slots[s] !== k0 ||
        slots[(s + 1) | 0] !== k1 ||
        slots[(s + 2) | 0] !== k2 ||
        slots[(s + S_TAG) | 0] !== (k3 | tag) ||
        slots[(s + 4) | 0] !== k4 ||
        slots[(s + 5) | 0] !== k5
      ) {
        const key = this.key
        key[0] = k0
        key[1] = k1
        key[2] = k2
        key[3] = k3 | tag
        key[4] = k4
        key[5] = k5
        return this.miss(p, slot, table, start, ctx, counters, packet.totalBytes)
      }
    }
    // A hit: the counts RuleCounters.rule / policy make, held back in the slot (see `pend`).
    const pend = this.pend
    const pi = (slot << 1) | 0
    pend[pi]++
    pend[(pi + 1) | 0] += packet.totalBytes
    const v = slots[(s + S_VERDICT) | 0]
    this.hits++
    this.rules = slots[(s + S_RULES) | 0]
    if (v === V_DROP) this.dropReason = DROP_REASON
    else if (v === V_REJECT) {
      this.dropReason = REJECT_REASON
      this.rejectWith = slots[(s + S_REJECT) | 0] as RejectWith
    }
    return v
  }

  /** `walk`'s miss in hashed slot `slot` of plan `p` (key in `key`): walked, counted and stored. */
  private miss(
    p: number,
    slot: number,
    table: Table,
    start: Chain,
    ctx: MatchContext,
    counters: RuleCounters,
    bytes: number,
  ): number {
    this.planMisses[p]++
    const v = this.record(table, start, ctx)
    this.count(counters, bytes)
    if (this.recLength <= MAX_BUMPS) {
      const s = slot * SLOT_WORDS
      this.flushSlot(slot)
      for (let i = 0; i < KEY_WORDS; i++) this.slots[s + i] = this.key[i]
      this.store(slot, counters, v)
    }
    return v
  }

  /**
   * `walk`'s miss for plan `p` whose walks read no packet field: the outcome is the same for every
   * packet, kept in the plan's own slot (SLOTS + p) for its table, with no key to hash or compare.
   */
  private missConst(
    p: number,
    table: Table,
    start: Chain,
    ctx: MatchContext,
    counters: RuleCounters,
    bytes: number,
  ): number {
    const v = this.record(table, start, ctx)
    this.count(counters, bytes)
    if (this.recLength <= MAX_BUMPS) {
      this.flushSlot(SLOTS + p)
      this.slots[(SLOTS + p) * SLOT_WORDS + S_TAG] = p << 24
      this.store(SLOTS + p, counters, v)
    }
    return v
  }

  /** Counts the recorded walk's counts for a packet of `bytes` (as traverse counts them). */
  private count(counters: RuleCounters, bytes: number): void {
    const n = this.recLength
    for (let i = 0; i < n; i++) {
      const r = this.recRules[i]
      if (r < 0) counters.policy(this.recChains[i], bytes)
      else counters.rule(this.recChains[i], r, bytes)
    }
  }

  /** Stores the recorded walk's outcome `v` in `slot` (its key words already written). */
  private store(slot: number, counters: RuleCounters, v: number): void {
    const s = slot * SLOT_WORDS
    const slots = this.slots
    const n = this.recLength
    slots[s + S_VERDICT] = v
    slots[s + S_RULES] = this.rules
    slots[s + S_REJECT] = this.rejectWith
    slots[s + S_BUMPS] = n
    const b = slot * MAX_BUMPS
    for (let i = 0; i < n; i++) {
      const chain = this.recChains[i]
      const r = this.recRules[i]
      // The array the counts went to (created by them if the chain had none).
      this.bumpArrays[b + i] = counters.arrayOf(chain)
      slots[s + S_AT + i] = r < 0 ? 2 * chain.rules.length : 2 * r
    }
  }

  /** Frees slots `from` to `to` (exclusive): no key equals a free slot's. Held-back counts go in first. */
  private freeSlots(from: number, to: number): void {
    for (let i = from; i < to; i++) {
      if (this.pend[i * 2] !== 0) this.flushSlot(i)
      this.slots[i * SLOT_WORDS + S_TAG] = EMPTY
    }
  }

  /** Adds slot `slot`'s held-back hits into its bump arrays (what each hit would have counted). */
  private flushSlot(slot: number): void {
    const pi = slot * 2
    const packets = this.pend[pi]
    if (packets === 0) return
    const bytes = this.pend[pi + 1]
    this.pend[pi] = 0
    this.pend[pi + 1] = 0
    const s = slot * SLOT_WORDS
    const n = this.slots[s + S_BUMPS]
    const b = slot * MAX_BUMPS
    for (let i = 0; i < n; i++) {
      const k = this.bumpArrays[b + i] as Float64Array
      const at = this.slots[s + S_AT + i]
      k[at] += packets
      k[at + 1] += bytes
    }
  }

  /** RuleCounters reads or moves its arrays: every slot's held-back hits go in (PendingCounts). */
  flushCounts(): void {
    for (let i = 0; i < SLOTS + PLANS; i++) this.flushSlot(i)
  }

  /** Frees plan `p`'s slots (its table changed): the hashed slots tagged with it, and its own. */
  private freePlan(p: number): void {
    const tag = p << 24
    for (let i = 0; i < SLOTS; i++)
      if ((this.slots[i * SLOT_WORDS + S_TAG] & 0xff000000) === tag) this.freeSlots(i, i + 1)
    this.freeSlots(SLOTS + p, SLOTS + p + 1)
  }

  /** Every REVIEW_WALKS walks of plan `p`: drop it when too few of them hit. */
  private review(p: number): void {
    const hits = this.planWalks[p] - this.planMisses[p]
    if (hits * MIN_HIT_SHARE < this.planWalks[p]) this.planFields[p] = NO_PLAN
    this.planWalks[p] = 0
    this.planMisses[p] = 0
  }

  /** Makes the plan of (table id, hook) slot `p` for `table`: its key fields and word masks. */
  private plan(p: number, table: Table, start: Chain): void {
    const fields = planFields(table, start)
    // The entries stored for the plan's previous table (tables are immutable; a restore replaces).
    if (this.planTables[p] !== null) this.freePlan(p)
    this.planTables[p] = table
    this.planFields[p] = fields
    this.planWalks[p] = 0
    this.planMisses[p] = 0
    const m = this.planMasks
    const pm = p * KEY_WORDS
    const all = (f: number): number => ((fields & f) !== 0 ? -1 : 0)
    m[pm] = all(F_SRC)
    m[pm + 1] = all(F_DST)
    m[pm + 2] = (all(F_SPORT) & 0xffff0000) | (all(F_DPORT) & 0xffff)
    m[pm + 3] = (all(F_PROTO) & 0xff) | (all(F_ICMP) & 0xffff00)
    m[pm + 4] = all(F_CT)
    m[pm + 5] = all(F_MARK)
    let cm = this.ctMasks[p]
    if (fields === NO_PLAN || (fields & F_CT) === 0) cm = null
    else if (cm === null) cm = new Int32Array((CT_STATES + 1) * KEY_WORDS)
    else cm.fill(0)
    this.ctMasks[p] = cm
  }

  /**
   * Fills masks `cm` at `pm` for packets in conntrack state `ctState`: the fields their walks read
   * (a subset of the plan's), and the whole state word (states share the slots, so it keys them).
   */
  private planState(cm: Int32Array, pm: number, table: Table, start: Chain, ctState: number): void {
    const fields = planFields(table, start, ctState)
    const all = (f: number): number => ((fields & f) !== 0 ? -1 : 0)
    cm[pm] = all(F_SRC)
    cm[pm + 1] = all(F_DST)
    cm[pm + 2] = (all(F_SPORT) & 0xffff0000) | (all(F_DPORT) & 0xffff)
    cm[pm + 3] = (all(F_PROTO) & 0xff) | (all(F_ICMP) & 0xffff00)
    cm[pm + 4] = -1
    cm[pm + 5] = all(F_MARK)
  }

  /**
   * ipt_do_table over pure rules, as NetfilterStack.traverse walks it (same counts, same charge:
   * up to and including the matching rule, or to the chain's end), recording the counts instead
   * of counting them. Rules are evaluated in order; being pure, evaluating the ones a chain index
   * would skip changes nothing.
   */
  private record(table: Table, start: Chain, ctx: MatchContext): number {
    this.recLength = 0
    this.rules = 0
    let chain = start
    let pos = 0
    let depth = 0
    for (;;) {
      const rules = chain.rules
      let i = -1
      for (let j = pos; j < rules.length; j++)
        if (rules[j].evaluate(ctx)) {
          i = j
          break
        }
      this.rules += i < 0 ? rules.length - pos : i - pos + 1
      if (i < 0) {
        if (chain.builtin || depth === 0) return this.policy(start)
        depth--
        chain = this.stackChains[depth] as Chain
        pos = this.stackPositions[depth]
        continue
      }
      this.recordCount(chain, i)
      const target = rules[i].target
      switch (target.kind) {
        case TargetKind.NONE:
          pos = i + 1
          continue
        case TargetKind.ACCEPT:
          return V_ACCEPT
        case TargetKind.DROP:
          this.dropReason = DROP_REASON
          return V_DROP
        case TargetKind.REJECT:
          this.dropReason = REJECT_REASON
          this.rejectWith = target.rejectWith
          return V_REJECT
        case TargetKind.RETURN:
          if (chain.builtin || depth === 0) return this.policy(start)
          depth--
          chain = this.stackChains[depth] as Chain
          pos = this.stackPositions[depth]
          continue
        case TargetKind.JUMP:
          if (depth >= JUMP_STACK_MAX) {
            this.dropReason = DROP_REASON
            return V_DROP
          }
          this.stackChains[depth] = chain
          this.stackPositions[depth] = i + 1
          depth++
          chain = table.chains[chain.jumps[i]]
          pos = 0
          continue
        default: // GOTO (planFields admits no other target)
          chain = table.chains[chain.jumps[i]]
          pos = 0
          continue
      }
    }
  }

  /** Appends (chain, rule index or -1 for the policy) to this walk's recorded counts. */
  private recordCount(chain: Chain, rule: number): void {
    const n = this.recLength
    if (n < this.recChains.length) {
      this.recChains[n] = chain
      this.recRules[n] = rule
    } else {
      this.recChains.push(chain)
      this.recRules.push(rule)
    }
    this.recLength = n + 1
  }

  private policy(start: Chain): number {
    this.recordCount(start, -1)
    if (start.policy === Policy.DROP) {
      this.dropReason = DROP_REASON
      return V_DROP
    }
    return V_ACCEPT
  }
}
