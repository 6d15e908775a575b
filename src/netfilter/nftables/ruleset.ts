/**
 * The loaded nftables table (chains, sets, verdict maps, rules compiled for the interpreter) and the
 * transaction that changes it. A transaction applies atomically: commands run in order against a
 * copy-on-write draft, and the draft replaces the live table only when every command succeeded, as
 * nf_tables commits or aborts a whole netlink batch (`nft -f` sends one batch per file).
 *
 * Errors follow the kernel's checks that kube-proxy can hit: a missing object is ENOENT, `create`
 * of an existing one EEXIST, `add element` of an existing key with a different verdict EBUSY
 * (nf_tables_api.c nft_add_set_elem, "element clash"), deleting a referenced chain EBUSY. Each is
 * reported with the command's file:line:column.
 */
import type { DataType, ElementAst, RuleAst, Selector, Statement, Transaction, Verdict } from "./parse.ts"
import {
  DATA_TYPE_BITS,
  DATA_TYPE_NAMES,
  DataType as DT,
  Field,
  NftParseError,
  VerdictKind,
  fieldType,
} from "./parse.ts"
import { EMPTY_F64, EMPTY_I32 } from "../../sim/empty.ts"
import type { Token } from "./parse.ts"
import { parseTransaction } from "./parse.ts"

export const SET_FLAG = { CONSTANT: 1, INTERVAL: 2, TIMEOUT: 4, DYNAMIC: 8 } as const

export class NftElement {
  // Read per lookup: `declare`d and assigned in the constructor rather than parameter properties,
  // which are first defined as undefined, so V8 tracks them as any value (see sim/empty.ts).
  declare readonly key: readonly number[]
  declare readonly prefixLength: number
  declare readonly comment: string
  declare readonly verdict: Verdict | null
  /** Explicit per-element timeout in seconds, -1 = the set's default. */
  declare readonly timeoutS: number
  /** Simulated time the element expires, -1 = never. */
  declare expiresNs: number
  /** The memo of a jump/goto verdict's target chain (null for other verdicts and plain set elements). */
  declare readonly jump: JumpTarget | null
  constructor(
    key: readonly number[],
    prefixLength: number,
    comment: string,
    verdict: Verdict | null,
    timeoutS: number,
    expiresNs: number,
  ) {
    this.key = key
    this.prefixLength = prefixLength
    this.comment = comment
    this.verdict = verdict
    this.timeoutS = timeoutS
    this.expiresNs = expiresNs
    this.jump = jumpTargetOf(verdict)
  }
}

/**
 * Where a jump/goto verdict leads: the chain named `chain`, memoized per committed table by the
 * interpreter (eval.ts resolve). A commit makes a new table object, so a memo of an older table
 * is never used, and elements shared between table versions stay correct.
 */
export class JumpTarget {
  table: NftTable | null = null
  target: NftChain | null = null
  constructor(readonly chain: string) {}
}

function jumpTargetOf(verdict: Verdict | null): JumpTarget | null {
  return verdict !== null && verdict.chain !== "" ? new JumpTarget(verdict.chain) : null
}

/**
 * An exact-key index of a set's elements in typed arrays (open addressing, linear probing,
 * backward-shift deletion), for sets whose first key field and the rest of the key each fit in 32
 * bits (every set kube-proxy declares: ipv4_addr . inet_proto . inet_service, inet_proto .
 * inet_service, ipv4_addr, numgen's mark keys). A lookup hashes two int32 halves and compares them
 * in place: no boxed number keys, no nested Map. It costs the same with 10 or 10,000 elements, as
 * the kernel's hash set (nft_set_hash.c nft_rhash_lookup) does.
 */
class ExactIndex {
  // Typed-array and number fields start with a value of their kind (the constructors set them):
  // see sim/empty.ts for why.
  private mask = 0
  private hi: Int32Array = EMPTY_I32
  private lo: Int32Array = EMPTY_I32
  private els: (NftElement | null)[]
  size = 0

  constructor(capacity = 8) {
    this.mask = capacity - 1
    this.hi = new Int32Array(capacity)
    this.lo = new Int32Array(capacity)
    this.els = new Array<NftElement | null>(capacity).fill(null)
  }

  private static slot(hi: number, lo: number, mask: number): number {
    let h = Math.imul(hi ^ Math.imul(lo, 0x9e3779b1), 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
    return h & mask
  }

  get(hi: number, lo: number): NftElement | undefined {
    const mask = this.mask
    let i = ExactIndex.slot(hi, lo, mask)
    for (;;) {
      const e = this.els[i]
      if (e === null) return undefined
      if (this.hi[i] === hi && this.lo[i] === lo) return e
      i = (i + 1) & mask
    }
  }

  set(hi: number, lo: number, e: NftElement): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow()
    const mask = this.mask
    let i = ExactIndex.slot(hi, lo, mask)
    for (;;) {
      const old = this.els[i]
      if (old === null) break
      if (this.hi[i] === hi && this.lo[i] === lo) {
        this.els[i] = e
        return
      }
      i = (i + 1) & mask
    }
    this.hi[i] = hi
    this.lo[i] = lo
    this.els[i] = e
    this.size++
  }

  delete(hi: number, lo: number): void {
    const mask = this.mask
    let i = ExactIndex.slot(hi, lo, mask)
    for (;;) {
      if (this.els[i] === null) return
      if (this.hi[i] === hi && this.lo[i] === lo) break
      i = (i + 1) & mask
    }
    // Backward-shift deletion: move later entries of the probe run into the hole when their home
    // slot does not lie cyclically in (hole, their position].
    let j = i
    for (;;) {
      j = (j + 1) & mask
      if (this.els[j] === null) break
      const home = ExactIndex.slot(this.hi[j], this.lo[j], mask)
      const stays = i <= j ? home > i && home <= j : home > i || home <= j
      if (stays) continue
      this.hi[i] = this.hi[j]
      this.lo[i] = this.lo[j]
      this.els[i] = this.els[j]
      i = j
    }
    this.els[i] = null
    this.size--
  }

  private grow(): void {
    const { hi, lo, els } = this
    const capacity = (this.mask + 1) * 2
    this.mask = capacity - 1
    this.hi = new Int32Array(capacity)
    this.lo = new Int32Array(capacity)
    this.els = new Array<NftElement | null>(capacity).fill(null)
    this.size = 0
    for (let i = 0; i < els.length; i++) {
      const e = els[i]
      if (e !== null) this.set(hi[i], lo[i], e)
    }
  }

  clone(): ExactIndex {
    const c = new ExactIndex(this.mask + 1)
    c.hi.set(this.hi)
    c.lo.set(this.lo)
    c.els = this.els.slice()
    c.size = this.size
    return c
  }
}

/**
 * A named or anonymous set/map. Exact keys live in a Map keyed by the packed key (one number when
 * the concatenation fits in 53 bits, else first field then the rest), so a lookup costs the same
 * with 10 or 10,000 elements (the kernel's hash set). Prefix elements of a single-field set live in
 * sorted disjoint intervals searched by bisection (the kernel's rbtree/pipapo interval sets).
 */
export class NftSet {
  readonly flat = new Map<number, NftElement>()
  readonly nested = new Map<number, Map<number, NftElement>>()
  /** Interval store (interval sets): starts ascending, inclusive ends, elements. */
  starts: number[] = []
  ends: number[] = []
  intervalElements: NftElement[] = []
  readonly totalBits: number = 0
  readonly packedFlat: boolean = false
  /** Flags as the declaration wrote them, in its order (knftables' dump repeats them). */
  declaredFlags: readonly string[] = []
  /**
   * A shared table's declaration of a set whose elements each node holds itself
   * (NftRuleset.localSetNames): it holds no elements, and the interpreter looks up the node's
   * instance (NftRuleset.localSetOf) instead.
   */
  nodeLocal = false

  constructor(
    readonly name: string,
    readonly isMap: boolean,
    readonly keyTypes: readonly DataType[],
    readonly flags: number,
    readonly timeoutS: number,
    /** Maximum elements, -1 = unset (a set an `update` statement uses becomes 65535, see compile). */
    public size: number,
    readonly comment: string,
    readonly anonymous: boolean,
  ) {
    this.totalBits = keyTypes.reduce((bits: number, t) => bits + DATA_TYPE_BITS[t], 0)
    this.packedFlat = this.totalBits <= 53
    this.fieldScale = new Float64Array(keyTypes.map((t) => 2 ** DATA_TYPE_BITS[t]))
    const firstBits = keyTypes.length > 0 ? DATA_TYPE_BITS[keyTypes[0]] : 0
    this.index =
      (flags & SET_FLAG.INTERVAL) === 0 && keyTypes.length > 0 && firstBits <= 32 && this.totalBits - firstBits <= 32
        ? new ExactIndex()
        : null
  }

  /** The exact-key index (ExactIndex) beside the Maps, null when the key does not fit two int32s. */
  private index: ExactIndex | null

  /** 2 ** bits of each key field (pack's per-field multiplier, computed once rather than per lookup). */
  private readonly fieldScale: Float64Array = EMPTY_F64

  get interval(): boolean {
    return (this.flags & SET_FLAG.INTERVAL) !== 0
  }

  get count(): number {
    return this.flat.size + this.nestedCount() + this.intervalElements.length
  }

  private nestedCount(): number {
    let n = 0
    for (const m of this.nested.values()) n += m.size
    return n
  }

  clone(): NftSet {
    const s = new NftSet(
      this.name,
      this.isMap,
      this.keyTypes,
      this.flags,
      this.timeoutS,
      this.size,
      this.comment,
      this.anonymous,
    )
    for (const [k, v] of this.flat) s.flat.set(k, v)
    for (const [k, v] of this.nested) s.nested.set(k, new Map(v))
    s.index = this.index === null ? null : this.index.clone()
    s.declaredFlags = this.declaredFlags
    s.starts = this.starts.slice()
    s.ends = this.ends.slice()
    s.intervalElements = this.intervalElements.slice()
    return s
  }

  /** Packs fields [from, keyTypes.length) of `key` into one integer (at most 53 bits). */
  pack(key: ArrayLike<number>, from: number): number {
    const scale = this.fieldScale
    let v = 0
    for (let i = from; i < scale.length; i++) v = v * scale[i] + key[i]
    return v
  }

  /** Exact-or-interval lookup of a packet key; expired elements are absent. */
  lookup(key: ArrayLike<number>, nowNs: number): NftElement | undefined {
    let e: NftElement | undefined
    const index = this.index
    if (index !== null) {
      if (index.size === 0) return undefined
      e = index.get(key[0] | 0, this.pack(key, 1) | 0)
    } else if (this.interval) e = this.starts.length === 0 ? undefined : this.lookupInterval(key[0])
    else if (this.packedFlat ? this.flat.size === 0 : this.nested.size === 0)
      // An empty set or map (kube-proxy's firewall-ips, service-nodeports, ... on most clusters): no
      // key to build or hash.
      return undefined
    else if (this.packedFlat) e = this.flat.get(this.pack(key, 0))
    else e = this.nested.get(key[0])?.get(this.pack(key, 1))
    if (e !== undefined && e.expiresNs >= 0 && e.expiresNs <= nowNs) return undefined
    return e
  }

  private lookupInterval(value: number): NftElement | undefined {
    let lo = 0
    let hi = this.starts.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.starts[mid] <= value) lo = mid + 1
      else hi = mid
    }
    const i = lo - 1
    return i >= 0 && value <= this.ends[i] ? this.intervalElements[i] : undefined
  }

  /** The stored element with exactly this key (and prefix), for add/delete. */
  find(key: readonly number[], prefixLength: number): NftElement | undefined {
    if (this.interval) {
      const i = this.starts.indexOf(key[0])
      return i >= 0 && this.intervalElements[i].prefixLength === prefixLength ? this.intervalElements[i] : undefined
    }
    return this.packedFlat ? this.flat.get(this.pack(key, 0)) : this.nested.get(key[0])?.get(this.pack(key, 1))
  }

  /** Inserts; returns false when the interval overlaps an existing one (nft: conflicting intervals). */
  insert(e: NftElement): boolean {
    if (this.interval) {
      const start = e.key[0]
      const end = start + 2 ** (32 - e.prefixLength) - 1
      let i = 0
      while (i < this.starts.length && this.starts[i] < start) i++
      if (i > 0 && this.ends[i - 1] >= start) return false
      if (i < this.starts.length && this.starts[i] <= end) return false
      this.starts.splice(i, 0, start)
      this.ends.splice(i, 0, end)
      this.intervalElements.splice(i, 0, e)
      return true
    }
    if (this.packedFlat) this.flat.set(this.pack(e.key, 0), e)
    else {
      let m = this.nested.get(e.key[0])
      if (m === undefined) this.nested.set(e.key[0], (m = new Map()))
      m.set(this.pack(e.key, 1), e)
    }
    if (this.index !== null) this.index.set(e.key[0] | 0, this.pack(e.key, 1) | 0, e)
    return true
  }

  remove(e: NftElement): void {
    if (this.interval) {
      const i = this.intervalElements.indexOf(e)
      this.starts.splice(i, 1)
      this.ends.splice(i, 1)
      this.intervalElements.splice(i, 1)
    } else if (this.packedFlat) this.flat.delete(this.pack(e.key, 0))
    else {
      const m = this.nested.get(e.key[0])!
      m.delete(this.pack(e.key, 1))
      if (m.size === 0) this.nested.delete(e.key[0])
    }
    if (this.index !== null) this.index.delete(e.key[0] | 0, this.pack(e.key, 1) | 0)
  }

  clear(): void {
    this.flat.clear()
    this.nested.clear()
    if (this.index !== null) this.index = new ExactIndex()
    this.starts = []
    this.ends = []
    this.intervalElements = []
  }

  /** Every element, unordered. */
  elements(): NftElement[] {
    const out = [...this.flat.values()]
    for (const m of this.nested.values()) out.push(...m.values())
    out.push(...this.intervalElements)
    return out
  }
}

/** Statement opcodes of a compiled rule. */
export const Op = {
  MATCH: 0,
  LOOKUP: 1,
  VMAP: 2,
  VERDICT: 3,
  REJECT: 4,
  MASQUERADE: 5,
  DNAT: 6,
  MARK: 7,
  UPDATE: 8,
  COUNTER: 9,
} as const
export type Op = (typeof Op)[keyof typeof Op]

/**
 * One statement ready for the interpreter. `cost` is the number of kernel expressions nft 1.0.6
 * lowers the statement to (as `nft --debug=netlink` lists them, pinned in the tests), and
 * `dependencyCost` the expressions up to a failing implicit protocol check (`tcp dport` loads
 * meta l4proto and compares it first), so the interpreter charges exactly what nft_do_chain runs.
 */
export class CompiledStatement {
  // Read per statement by the interpreter: `declare`d and assigned in the constructor, as
  // NftElement's fields.
  declare readonly op: Op
  declare readonly fields: readonly Field[]
  /** Per field: protocol of an implicit dependency (tcp/udp/sctp dport), 0 for none. */
  declare readonly dependencies: readonly number[]
  declare readonly negate: boolean
  declare readonly andMask: number
  declare readonly value: number
  declare readonly mask: number
  declare readonly set: NftSet | null
  declare readonly verdict: Verdict | null
  declare readonly targetChain: number
  declare readonly dnatAddress: number
  declare readonly dnatPort: number
  declare readonly markOp: "set" | "or" | "xor" | "and"
  declare readonly numgenModulus: number
  declare readonly numgenOffset: number
  declare readonly fullyRandom: boolean
  declare readonly timeoutS: number
  declare readonly cost: number
  declare readonly dependencyCost: number
  constructor(
    op: Op,
    fields: readonly Field[],
    dependencies: readonly number[],
    negate: boolean,
    andMask: number,
    value: number,
    mask: number,
    set: NftSet | null,
    verdict: Verdict | null,
    targetChain: number,
    dnatAddress: number,
    dnatPort: number,
    markOp: "set" | "or" | "xor" | "and",
    numgenModulus: number,
    numgenOffset: number,
    fullyRandom: boolean,
    timeoutS: number,
    cost: number,
    dependencyCost: number,
  ) {
    this.op = op
    this.fields = fields
    this.dependencies = dependencies
    this.negate = negate
    this.andMask = andMask
    this.value = value
    this.mask = mask
    this.set = set
    this.verdict = verdict
    this.targetChain = targetChain
    this.dnatAddress = dnatAddress
    this.dnatPort = dnatPort
    this.markOp = markOp
    this.numgenModulus = numgenModulus
    this.numgenOffset = numgenOffset
    this.fullyRandom = fullyRandom
    this.timeoutS = timeoutS
    this.cost = cost
    this.dependencyCost = dependencyCost
    this.jump = jumpTargetOf(verdict)
    this.single = fields.length === 1
    this.field0 = fields.length > 0 ? fields[0] : -1
    this.dependency0 = dependencies.length > 0 ? dependencies[0] : 0
  }
  /** The memo of a jump/goto statement's target chain, null for other statements. */
  declare readonly jump: JumpTarget | null
  /** One selector (no concatenation): the interpreter loads `field0` without walking the arrays. */
  readonly single: boolean = false
  /** fields[0] (-1 when none) and dependencies[0] (0 when none), read per packet. */
  readonly field0: number = -1
  readonly dependency0: number = 0
}

export class NftRule {
  constructor(
    readonly ast: RuleAst,
    readonly statements: readonly CompiledStatement[],
  ) {}
}

export interface BaseChainSpec {
  readonly type: "filter" | "nat" | "route"
  readonly hook: string
  readonly priority: number
  readonly policy: "accept" | "drop"
}

/**
 * A chain's rules flattened for the interpreter (eval.ts): the statements of rule r are
 * stmts[ruleStart[r]] up to stmts[ruleStart[r + 1]], so a rule costs two integer loads rather than
 * a walk through the rule object and its statement array. Built on a chain's first run; a
 * committed chain is never modified (a transaction writes to a clone), and the interpreter checks
 * that `rules` is still the array the program was built from.
 */
export class ChainProgram {
  readonly stmts: CompiledStatement[] = []
  readonly ruleStart: Int32Array = EMPTY_I32
  readonly ruleCount: number = 0
  /**
   * The chain's ct state guard: when every rule begins with a plain `ct state S` match (kube-proxy's
   * filter base chains: `ct state new jump ...`), the union of those S, else 0. A packet whose ct
   * state has none of these bits fails every rule at its first statement, as nft_do_chain would
   * find rule by rule: the chain's outcome is then its policy after `ruleCount` rules and
   * `guardExpressions` expressions, known without walking the rules.
   */
  readonly ctGuard: number = 0
  /** Expressions those first matches cost together (each ct load + bitwise + cmp). */
  readonly guardExpressions: number = 0
  constructor(readonly rules: readonly NftRule[]) {
    this.ruleCount = rules.length
    this.ruleStart = new Int32Array(rules.length + 1)
    let guard = 0
    let guardExpressions = 0
    let guarded = rules.length > 0
    for (let r = 0; r < rules.length; r++) {
      this.ruleStart[r] = this.stmts.length
      for (const st of rules[r].statements) this.stmts.push(st)
      const first = rules[r].statements[0]
      if (
        first !== undefined &&
        first.op === Op.MATCH &&
        first.single &&
        first.field0 === Field.CT_STATE &&
        first.dependency0 === 0 &&
        !first.negate &&
        first.andMask < 0
      ) {
        guard |= first.value
        guardExpressions += first.cost
      } else guarded = false
    }
    this.ruleStart[rules.length] = this.stmts.length
    this.ctGuard = guarded ? guard : 0
    this.guardExpressions = guarded ? guardExpressions : 0
  }
}

export class NftChain {
  rules: NftRule[] = []
  /** The interpreter's flattened rules (ChainProgram), built on first use. */
  program: ChainProgram | null = null
  constructor(
    readonly name: string,
    readonly spec: BaseChainSpec | null,
    readonly comment: string,
    /** Creation sequence number: nft lists chains in creation order; ties of priority break on it. */
    readonly seq: number,
  ) {}
  clone(): NftChain {
    const c = new NftChain(this.name, this.spec, this.comment, this.seq)
    c.rules = this.rules.slice()
    return c
  }
}

export class NftTable {
  constructor(
    readonly family: string,
    readonly name: string,
    readonly comment: string,
    readonly chains: Map<string, NftChain>,
    readonly sets: Map<string, NftSet>,
    /** Creation order of sets and maps (nft lists them in it). */
    readonly setSeq: Map<string, number>,
    readonly nextSeq: number,
  ) {}
}

class Draft {
  chains: Map<string, NftChain>
  sets: Map<string, NftSet>
  setSeq: Map<string, number>
  ownedChains = new Set<string>()
  ownedSets = new Set<string>()
  comment: string
  exists: boolean
  seq: number

  constructor(
    readonly family: string,
    readonly name: string,
    base: NftTable | null,
  ) {
    this.exists = base !== null
    this.comment = base?.comment ?? ""
    this.chains = new Map(base?.chains)
    this.sets = new Map(base?.sets)
    this.setSeq = new Map(base?.setSeq)
    this.seq = base?.nextSeq ?? 0
  }

  chainForWrite(name: string): NftChain {
    let c = this.chains.get(name)!
    if (!this.ownedChains.has(name)) {
      c = c.clone()
      this.chains.set(name, c)
      this.ownedChains.add(name)
    }
    return c
  }

  setForWrite(name: string): NftSet {
    let s = this.sets.get(name)!
    if (!this.ownedSets.has(name)) {
      s = s.clone()
      this.sets.set(name, s)
      this.ownedSets.add(name)
      // Compiled rules hold set objects: re-point the ones that reference the old copy on commit.
    }
    return s
  }
}

/**
 * The cluster's pool of committed objects a ruleset may share (intern.ts NftInternPool): each
 * call returns the pooled object equal to its argument, or the argument itself.
 */
export interface NftObjectPool {
  set(set: NftSet): NftSet
  chain(chain: NftChain, withRules: (rules: NftRule[]) => NftChain): NftChain
  /** `parseTransaction(text, file)`, shared by the nodes applying the same text. */
  parse(text: string, file: string): Transaction
  /** The table another node's ruleset got applying `text` (as `file`) to `base`, if remembered. */
  transition(base: NftTable | null, file: string, text: string): NftTransition | undefined
  rememberTransition(base: NftTable | null, file: string, text: string, transition: NftTransition): void
}

/** What applying one transaction text to one table gave (NftRuleset.applyText). */
export interface NftTransition {
  readonly table: NftTable | null
  /** The node-local steps of the text, replayed on each node's own instances. */
  readonly local: readonly LocalStep[]
}

/** A command on a node-local set's elements, or the end of a local set (its deletion, the table's). */
export type LocalStep =
  | { readonly kind: "cmd"; readonly cmd: Cmd }
  /** name null: every local set (the table was flushed or deleted). */
  | { readonly kind: "reset"; readonly name: string | null }

const NO_LOCAL_SETS: ReadonlySet<string> = new Set()

/** Base chains of each committed table, in the table's order (tables are shared between nodes). */
const baseChains = new WeakMap<NftTable, readonly NftChain[]>()

/** The table's base chains (chains with a hook), in its chains' order; once per table object. */
export function baseChainsOf(table: NftTable): readonly NftChain[] {
  let list = baseChains.get(table)
  if (list === undefined) {
    const out: NftChain[] = []
    for (const chain of table.chains.values()) if (chain.spec !== null) out.push(chain)
    list = out
    baseChains.set(table, list)
  }
  return list
}

/** Whether a table holds sets that packets change (dynamic or timeout: per-node state, never shared). */
function holdsPacketState(table: NftTable | null): boolean {
  if (table === null) return false
  for (const set of table.sets.values()) if ((set.flags & (SET_FLAG.DYNAMIC | SET_FLAG.TIMEOUT)) !== 0) return true
  return false
}

/** Holds the table; `apply` runs one transaction atomically. */
export class NftRuleset {
  table: NftTable | null = null
  /**
   * The cluster's pool of committed objects (intern.ts): set, committed chains, rules and sets
   * equal to another node's are that node's objects (memory only). Null: this ruleset's own.
   */
  pool: NftObjectPool | null = null
  /** Bumped on every successful commit; the interpreter rebuilds its per-hook lists on change. */
  generation = 0
  /**
   * Sets whose elements are this node's own while the table is shared (kube-proxy's
   * `nodeport-ips`, the node's IPs): the table holds their declaration with no elements
   * (NftSet.nodeLocal) and the node its instance in `local`, allocated on its first element.
   * Only with a pool; empty: every set is in the table (a table of its own).
   */
  localSetNames: ReadonlySet<string> = NO_LOCAL_SETS
  private readonly local = new Map<string, NftSet>()

  /** Node-local set instances this node holds (allocated on their first element). */
  get localSetCount(): number {
    return this.local.size
  }

  /** The node's instance of a node-local set (the empty declaration when it holds no element). */
  localSetOf(declaration: NftSet): NftSet {
    return this.local.get(declaration.name) ?? declaration
  }

  /** The table as the node sees it (local sets' instances in place of their declarations). */
  viewTable(): NftTable | null {
    const table = this.table
    if (table === null || this.localSetNames.size === 0) return table
    const sets = new Map(table.sets)
    for (const [name, set] of sets) if (set.nodeLocal) sets.set(name, this.localSetOf(set))
    return new NftTable(table.family, table.name, table.comment, table.chains, sets, table.setSeq, table.nextSeq)
  }

  /**
   * `nft -f` of `text`. With a pool and local sets, a transaction another node applied to the same
   * (shared) table gives that node's resulting table (committed tables are never modified), so
   * nodes in the same state hold one table and the transaction runs once per distinct (table,
   * text); the commands on local sets' elements are run on the node's own instances, after the
   * others (they touch nothing else). Tables whose sets packets change (dynamic, timeout) are
   * never shared. Throws NftParseError as `apply`.
   */
  applyText(text: string, file: string, nowNs: number): void {
    const pool = this.pool
    if (pool === null || this.localSetNames.size === 0) {
      this.apply(pool === null ? parseTransaction(text, file) : pool.parse(text, file), nowNs)
      return
    }
    const base = this.table
    const hit = pool.transition(base, file, text)
    if (hit !== undefined) {
      this.table = hit.table
      this.generation++
      this.replayLocal(hit.local, file)
      return
    }
    const tx = pool.parse(text, file)
    const shared: Cmd[] = []
    const local: LocalStep[] = []
    for (const cmd of tx.commands) {
      if (
        (cmd.object === "element" && this.localSetNames.has(cmd.name)) ||
        (cmd.object === "set" && cmd.op === "flush" && this.localSetNames.has(cmd.name))
      ) {
        local.push({ kind: "cmd", cmd })
        continue
      }
      if (cmd.object === "set" && this.localSetNames.has(cmd.name)) {
        if (cmd.elements.length > 0) fail(file, cmd.token, `elements in the declaration of node-local set ${cmd.name}`)
        if (cmd.op === "delete") local.push({ kind: "reset", name: cmd.name })
      }
      if (cmd.object === "table" && (cmd.op === "flush" || cmd.op === "delete"))
        local.push({ kind: "reset", name: null })
      shared.push(cmd)
    }
    this.apply(shared.length === tx.commands.length ? tx : { ...tx, commands: shared }, nowNs)
    const table = this.table
    if (table !== null)
      for (const name of this.localSetNames) {
        const declaration = table.sets.get(name)
        if (declaration !== undefined && !declaration.nodeLocal) declaration.nodeLocal = true
      }
    this.replayLocal(local, file)
    // (A text of local steps only changes no table: nothing to share.)
    if (shared.length > 0 && !holdsPacketState(base) && !holdsPacketState(table))
      pool.rememberTransition(base, file, text, { table, local })
  }

  /** Runs a transaction's node-local steps on this node's instances (as addElements / delete element). */
  private replayLocal(steps: readonly LocalStep[], file: string): void {
    for (const step of steps) {
      if (step.kind === "reset") {
        if (step.name === null) this.local.clear()
        else this.local.delete(step.name)
        continue
      }
      const cmd = step.cmd
      if (cmd.object !== "element" && cmd.object !== "set") continue
      const declaration = this.table?.sets.get(cmd.name)
      if (declaration === undefined) fail(file, cmd.token, `no such set ${cmd.name} (ENOENT)`)
      if (cmd.object === "set") {
        // flush: no elements (an absent instance is the empty declaration).
        this.local.delete(cmd.name)
        continue
      }
      let set = this.local.get(cmd.name)
      if (set === undefined) {
        set = declaration.clone()
        this.local.set(cmd.name, set)
      }
      for (const e of cmd.elements) {
        if (cmd.op === "delete") {
          checkKey(set, e, file, true)
          const found = set.find(e.key, e.prefixLength)
          if (found === undefined) fail(file, e.token, `no such element in ${cmd.name} (ENOENT)`)
          set.remove(found)
          continue
        }
        checkKey(set, e, file)
        const existing = set.find(e.key, e.prefixLength)
        if (existing !== undefined) {
          if (cmd.op === "create") fail(file, e.token, `element exists in ${cmd.name} (EEXIST)`)
          if (!sameVerdict(existing.verdict, e.verdict))
            fail(file, e.token, `element exists in ${cmd.name} with a different value (EBUSY)`)
          continue
        }
        if (e.timeoutS >= 0) fail(file, e.token, `element timeout in ${cmd.name}, which has no timeout flag`)
        if (!set.insert(new NftElement(e.key, e.prefixLength, e.comment, e.verdict, e.timeoutS, -1)))
          fail(file, e.token, `conflicting intervals specified in ${cmd.name}`)
      }
    }
  }

  /**
   * Applies `tx` atomically. Throws NftParseError (file:line:column) and leaves the table untouched
   * when any command fails. `nowNs` stamps element expiry for sets with timeouts.
   */
  apply(tx: Transaction, nowNs = 0): void {
    if (tx.commands.length === 0) return
    const base =
      this.table !== null && this.table.family === tx.family && this.table.name === tx.table ? this.table : null
    if (this.table !== null && base === null)
      throw new NftParseError(tx.file, 1, 1, `this ruleset holds table ${this.table.family} ${this.table.name} only`)
    const d = new Draft(tx.family, tx.table, base)
    for (const cmd of tx.commands) runCommand(d, cmd, tx.file, nowNs)
    if (d.exists) validate(d, tx.file)
    if (!d.exists) {
      this.table = null
    } else {
      const pool = this.pool
      // Sets equal to one another node committed become that node's object (intern.ts).
      if (pool !== null)
        for (const name of d.ownedSets) {
          const set = d.sets.get(name)
          if (set === undefined) continue
          const pooled = pool.set(set)
          if (pooled !== set) d.sets.set(name, pooled)
        }
      // Recompile rules that point at a set replaced by copy-on-write (or by its pooled equal), so
      // they see the table's object. A rule already pointing at it compiles to the same statements.
      if (d.ownedSets.size > 0) {
        for (const [name, chain] of d.chains) {
          if (
            chain.rules.some((r) =>
              r.statements.some(
                (s) =>
                  s.set !== null && !s.set.anonymous && d.ownedSets.has(s.set.name) && d.sets.get(s.set.name) !== s.set,
              ),
            )
          ) {
            const c = d.chainForWrite(name)
            c.rules = c.rules.map((r) => compileRule(d, r.ast, tx.file))
          }
        }
      }
      if (pool !== null)
        for (const name of d.ownedChains) {
          const chain = d.chains.get(name)
          if (chain === undefined) continue
          const pooled = pool.chain(chain, (rules) => {
            const copy = new NftChain(chain.name, chain.spec, chain.comment, chain.seq)
            copy.rules = rules
            return copy
          })
          if (pooled !== chain) d.chains.set(name, pooled)
        }
      this.table = new NftTable(d.family, d.name, d.comment, d.chains, d.sets, d.setSeq, d.seq)
    }
    this.generation++
  }
}

function fail(file: string, token: Token, detail: string): never {
  throw new NftParseError(file, token.line, token.column, detail)
}

type Cmd = Transaction["commands"][number]

function runCommand(d: Draft, cmd: Cmd, file: string, nowNs: number): void {
  if (cmd.object === "table") {
    if (cmd.op === "add" || cmd.op === "create") {
      if (d.exists && cmd.op === "create") fail(file, cmd.token, `table ${d.family} ${d.name} exists (EEXIST)`)
      if (!d.exists || cmd.comment !== "") d.comment = cmd.comment
      d.exists = true
      return
    }
    if (!d.exists) fail(file, cmd.token, `no such table ${d.family} ${d.name} (ENOENT)`)
    if (cmd.op === "flush") {
      for (const name of d.chains.keys()) d.chainForWrite(name).rules = []
      for (const name of d.sets.keys()) d.setForWrite(name).clear()
    } else {
      d.chains.clear()
      d.sets.clear()
      d.setSeq.clear()
      d.exists = false
    }
    return
  }
  if (!d.exists) fail(file, cmd.token, `no such table ${d.family} ${d.name} (ENOENT)`)
  switch (cmd.object) {
    case "chain": {
      const existing = d.chains.get(cmd.name)
      if (cmd.op === "add" || cmd.op === "create") {
        if (existing !== undefined) {
          if (cmd.op === "create") fail(file, cmd.token, `chain ${cmd.name} exists (EEXIST)`)
          if (
            cmd.spec !== null &&
            (existing.spec === null || existing.spec.hook !== cmd.spec.hook || existing.spec.type !== cmd.spec.type)
          )
            fail(file, cmd.token, `chain ${cmd.name} exists with a different type/hook (EOPNOTSUPP)`)
          return
        }
        if (cmd.spec !== null && cmd.spec.type === "nat" && cmd.spec.hook === "forward")
          fail(file, cmd.token, `nat chains cannot use the forward hook (EOPNOTSUPP)`)
        d.chains.set(cmd.name, new NftChain(cmd.name, cmd.spec, cmd.comment, d.seq++))
        d.ownedChains.add(cmd.name)
        return
      }
      if (existing === undefined) fail(file, cmd.token, `no such chain ${cmd.name} (ENOENT)`)
      if (cmd.op === "flush") {
        d.chainForWrite(cmd.name).rules = []
        return
      }
      if (chainReferenced(d, cmd.name)) fail(file, cmd.token, `chain ${cmd.name} is referenced (EBUSY)`)
      d.chains.delete(cmd.name)
      return
    }
    case "set":
    case "map": {
      const existing = d.sets.get(cmd.name)
      if (cmd.op === "add" || cmd.op === "create") {
        if (existing !== undefined) {
          if (cmd.op === "create") fail(file, cmd.token, `${cmd.object} ${cmd.name} exists (EEXIST)`)
          if (existing.isMap !== (cmd.object === "map") || existing.keyTypes.join() !== cmd.keyTypes.join())
            fail(file, cmd.token, `${cmd.object} ${cmd.name} exists with a different type (EEXIST)`)
        } else {
          let flags = 0
          for (const f of cmd.flags)
            flags |=
              f === "constant"
                ? SET_FLAG.CONSTANT
                : f === "interval"
                  ? SET_FLAG.INTERVAL
                  : f === "timeout"
                    ? SET_FLAG.TIMEOUT
                    : SET_FLAG.DYNAMIC
          if (cmd.timeoutS >= 0) flags |= SET_FLAG.TIMEOUT
          if (flags & SET_FLAG.INTERVAL && cmd.keyTypes.length !== 1)
            fail(file, cmd.token, `interval ${cmd.object}s of concatenations are not supported`)
          const set = new NftSet(
            cmd.name,
            cmd.object === "map",
            cmd.keyTypes,
            flags,
            cmd.timeoutS,
            cmd.size,
            cmd.comment,
            false,
          )
          set.declaredFlags = cmd.flags
          d.sets.set(cmd.name, set)
          d.ownedSets.add(cmd.name)
          d.setSeq.set(cmd.name, d.seq++)
        }
        if (cmd.elements.length > 0) addElements(d, cmd.name, cmd.elements, false, file, cmd.token, nowNs)
        return
      }
      if (existing === undefined || existing.isMap !== (cmd.object === "map"))
        fail(file, cmd.token, `no such ${cmd.object} ${cmd.name} (ENOENT)`)
      if (cmd.op === "flush") {
        d.setForWrite(cmd.name).clear()
        return
      }
      if (setReferenced(d, cmd.name)) fail(file, cmd.token, `${cmd.object} ${cmd.name} is referenced (EBUSY)`)
      d.sets.delete(cmd.name)
      d.setSeq.delete(cmd.name)
      return
    }
    case "element": {
      if (!d.sets.has(cmd.name)) fail(file, cmd.token, `no such set ${cmd.name} (ENOENT)`)
      if (cmd.op === "delete") {
        const set = d.setForWrite(cmd.name)
        for (const e of cmd.elements) {
          checkKey(set, e, file, true)
          const found = set.find(e.key, e.prefixLength)
          if (found === undefined) fail(file, e.token, `no such element in ${cmd.name} (ENOENT)`)
          set.remove(found)
        }
        return
      }
      addElements(d, cmd.name, cmd.elements, cmd.op === "create", file, cmd.token, nowNs)
      return
    }
    case "rule": {
      if (!d.chains.has(cmd.chain)) fail(file, cmd.token, `no such chain ${cmd.chain} (ENOENT)`)
      const rule = compileRule(d, cmd.rule, file)
      const chain = d.chainForWrite(cmd.chain)
      if (cmd.op === "insert") chain.rules.unshift(rule)
      else chain.rules.push(rule)
      return
    }
  }
}

function chainReferenced(d: Draft, name: string): boolean {
  for (const c of d.chains.values()) {
    if (c.name === name) continue
    for (const r of c.rules)
      for (const s of r.statements) {
        if (s.verdict !== null && s.verdict.chain === name) return true
        if (
          s.op === Op.VMAP &&
          s.set !== null &&
          s.set.anonymous &&
          s.set.elements().some((e) => e.verdict?.chain === name)
        )
          return true
      }
  }
  for (const s of d.sets.values()) if (s.isMap && s.elements().some((e) => e.verdict?.chain === name)) return true
  return false
}

function setReferenced(d: Draft, name: string): boolean {
  for (const c of d.chains.values())
    for (const r of c.rules) for (const s of r.statements) if (s.set !== null && s.set.name === name) return true
  return false
}

function checkKey(set: NftSet, e: ElementAst, file: string, forDelete = false): void {
  if (e.key.length !== set.keyTypes.length)
    fail(
      file,
      e.token,
      `element has ${e.key.length} fields, ${set.name} has type ${set.keyTypes.map((t) => DATA_TYPE_NAMES[t]).join(" . ")}`,
    )
  for (let i = 0; i < e.key.length; i++) {
    const bits = DATA_TYPE_BITS[set.keyTypes[i]]
    if (e.key[i] < 0 || e.key[i] >= 2 ** bits)
      fail(file, e.token, `element field ${i + 1} out of range for ${DATA_TYPE_NAMES[set.keyTypes[i]]}`)
  }
  if (e.prefixLength !== 32) {
    if (!set.interval || set.keyTypes[0] !== DT.IPV4_ADDR)
      fail(file, e.token, `prefix element in ${set.name}, which is not an interval set`)
    const hostBits = 2 ** (32 - e.prefixLength)
    if (e.key[0] % hostBits !== 0) fail(file, e.token, `prefix element has host bits set`)
  }
  if (set.isMap && e.verdict === null && !forDelete) fail(file, e.token, `element of map ${set.name} needs a value`)
  if (!set.isMap && e.verdict !== null) fail(file, e.token, `element of set ${set.name} cannot have a value`)
}

function checkVerdict(d: Draft, v: Verdict | null, file: string, token: Token): void {
  if (v !== null && (v.kind === VerdictKind.JUMP || v.kind === VerdictKind.GOTO)) {
    const target = d.chains.get(v.chain)
    if (target === undefined) fail(file, token, `no such chain ${v.chain} (ENOENT)`)
    if (target.spec !== null) fail(file, token, `cannot jump to base chain ${v.chain} (EOPNOTSUPP)`)
  }
}

function addElements(
  d: Draft,
  name: string,
  elements: readonly ElementAst[],
  create: boolean,
  file: string,
  token: Token,
  nowNs: number,
): void {
  const set = d.setForWrite(name)
  for (const e of elements) {
    checkKey(set, e, file)
    checkVerdict(d, e.verdict, file, e.token)
    const existing = set.find(e.key, e.prefixLength)
    if (existing !== undefined) {
      if (create) fail(file, e.token, `element exists in ${name} (EEXIST)`)
      if (!sameVerdict(existing.verdict, e.verdict))
        fail(file, e.token, `element exists in ${name} with a different value (EBUSY)`)
      continue
    }
    const timeoutS = e.timeoutS >= 0 ? e.timeoutS : set.timeoutS
    if (e.timeoutS >= 0 && !(set.flags & SET_FLAG.TIMEOUT))
      fail(file, e.token, `element timeout in ${name}, which has no timeout flag`)
    const expiresNs = timeoutS > 0 ? nowNs + timeoutS * 1e9 : -1
    if (!set.insert(new NftElement(e.key, e.prefixLength, e.comment, e.verdict, e.timeoutS, expiresNs)))
      fail(file, e.token, `conflicting intervals specified in ${name}`)
  }
  void token
}

function sameVerdict(a: Verdict | null, b: Verdict | null): boolean {
  return a === null || b === null ? a === b : a.kind === b.kind && a.chain === b.chain
}

// ---------------------------------------------------------------------------------------------
// Rule compilation

const FIELD_COST = 1 // one payload/meta/ct/fib load per field

function fieldBits(f: Field): number {
  return DATA_TYPE_BITS[fieldType(f)]
}

function dependencyOf(s: Selector): number {
  return s.field === Field.L4_DPORT || s.field === Field.L4_SPORT ? s.protocol : 0
}

function loadsCost(selectors: readonly Selector[]): number {
  // Each field is one load; a tcp/udp/sctp port adds `meta load l4proto` + `cmp` before it.
  let n = 0
  for (const s of selectors) n += FIELD_COST + (dependencyOf(s) !== 0 ? 2 : 0)
  return n
}

function anonymousSet(elements: readonly ElementAst[], types: readonly DataType[], isMap: boolean): NftSet {
  const interval = elements.some((e) => e.prefixLength !== 32)
  return new NftSet(
    "",
    isMap,
    types,
    interval ? SET_FLAG.INTERVAL | SET_FLAG.CONSTANT : SET_FLAG.CONSTANT,
    -1,
    -1,
    "",
    true,
  )
}

function compileRule(d: Draft, ast: RuleAst, file: string): NftRule {
  const out: CompiledStatement[] = []
  for (const s of ast.statements) out.push(compileStatement(d, s, file, ast.token))
  return new NftRule(ast, out)
}

function statement(op: Op, partial: Partial<Record<keyof CompiledStatement, unknown>>): CompiledStatement {
  const p = partial as Partial<CompiledStatement>
  return new CompiledStatement(
    op,
    p.fields ?? [],
    p.dependencies ?? [],
    p.negate ?? false,
    p.andMask ?? -1,
    p.value ?? 0,
    p.mask ?? 0xffffffff,
    p.set ?? null,
    p.verdict ?? null,
    -1,
    p.dnatAddress ?? 0,
    p.dnatPort ?? 0,
    p.markOp ?? "set",
    p.numgenModulus ?? 0,
    p.numgenOffset ?? 0,
    p.fullyRandom ?? false,
    p.timeoutS ?? -1,
    p.cost ?? 1,
    p.dependencyCost ?? 0,
  )
}

function compileStatement(d: Draft, s: Statement, file: string, token: Token): CompiledStatement {
  const fields = "selectors" in s ? s.selectors.map((x) => x.field) : []
  const dependencies = "selectors" in s ? s.selectors.map(dependencyOf) : []
  const dependencyCost = dependencies[0] !== undefined && dependencies[0] !== 0 ? 2 : 0
  switch (s.kind) {
    case "match": {
      const bits = fieldBits(s.selectors[0].field)
      const width = bits === 32 ? 32 : bits
      const mask =
        s.prefixLength >= width ? 0xffffffff : s.prefixLength === 0 ? 0 : (0xffffffff << (32 - s.prefixLength)) >>> 0
      if ((s.value & ~mask) >>> 0 !== 0) fail(file, token, `prefix ${s.prefixLength} has host bits set`)
      // nft lowers: load + cmp; a byte-aligned prefix shortens the load (no bitwise); another prefix,
      // `and`, and flag types (ct state: nft emits bitwise + cmp neq 0) add a bitwise.
      const bitwise =
        s.andMask >= 0 ||
        (s.prefixLength < width && s.prefixLength % 8 !== 0) ||
        s.selectors[0].field === Field.CT_STATE
          ? 1
          : 0
      return statement(Op.MATCH, {
        fields,
        dependencies,
        negate: s.negate,
        andMask: s.andMask,
        value: s.value,
        mask,
        cost: loadsCost(s.selectors) + bitwise + 1,
        dependencyCost,
      })
    }
    case "lookup": {
      const types = s.selectors.map((x) => fieldType(x.field))
      let set: NftSet
      if (s.set !== "") {
        const named = d.sets.get(s.set)
        if (named === undefined || named.isMap) fail(file, token, `no such set ${s.set} (ENOENT)`)
        if (named.keyTypes.join() !== types.join()) fail(file, token, `set ${s.set} has a different key type`)
        set = named
      } else {
        set = anonymousSet(s.elements, types, false)
        // nft merges overlapping prefixes of an anonymous set (`{ 10.0.0.0/8, 10.1.0.0/16 }` loads as
        // `{ 10.0.0.0/8 }`, checked against nft 1.0.6); a named interval set rejects them instead.
        for (const e of mergedElements(s.elements)) {
          checkKey(set, e, file)
          set.insert(new NftElement(e.key, e.prefixLength, e.comment, null, -1, -1))
        }
        // nft turns a one-element anonymous set into a plain comparison (`ip daddr { 172.30.0.0/16 }`
        // lists as `ip daddr 172.30.0.0/16` and lowers to load + cmp).
        if (s.elements.length === 1 && s.selectors.length === 1) {
          const e = s.elements[0]
          const mask = e.prefixLength === 0 ? 0 : (0xffffffff << (32 - e.prefixLength)) >>> 0
          const bitwise = e.prefixLength < 32 && e.prefixLength % 8 !== 0 ? 1 : 0
          return statement(Op.MATCH, {
            fields,
            dependencies,
            negate: s.negate,
            value: e.key[0],
            mask: fieldBits(s.selectors[0].field) === 32 ? mask : 0xffffffff,
            cost: loadsCost(s.selectors) + bitwise + 1,
            dependencyCost,
          })
        }
      }
      return statement(Op.LOOKUP, {
        fields,
        dependencies,
        negate: s.negate,
        set,
        cost: loadsCost(s.selectors) + 1,
        dependencyCost,
      })
    }
    case "vmap": {
      const types = s.numgenModulus > 0 ? [DT.MARK] : s.selectors.map((x) => fieldType(x.field))
      let set: NftSet
      if (s.map !== "") {
        const named = d.sets.get(s.map)
        if (named === undefined || !named.isMap) fail(file, token, `no such map ${s.map} (ENOENT)`)
        if (s.numgenModulus === 0 && named.keyTypes.join() !== types.join())
          fail(file, token, `map ${s.map} has a different key type`)
        set = named
      } else {
        // numgen keys are 32-bit integers; store them as `mark`-width keys.
        set = anonymousSet(s.elements, types, true)
        for (const e of s.elements) {
          checkKey(set, e, file)
          checkVerdict(d, e.verdict, file, e.token)
          set.insert(new NftElement(e.key, e.prefixLength, e.comment, e.verdict, -1, -1))
        }
      }
      return statement(Op.VMAP, {
        fields,
        dependencies,
        set,
        numgenModulus: s.numgenModulus,
        numgenOffset: s.numgenOffset,
        cost: (s.numgenModulus > 0 ? 1 : loadsCost(s.selectors)) + 1,
        dependencyCost,
      })
    }
    case "verdict":
      checkVerdict(d, s.verdict, file, token)
      return statement(Op.VERDICT, { verdict: s.verdict, cost: 1 })
    case "reject":
      return statement(Op.REJECT, { cost: 1 })
    case "masquerade":
      return statement(Op.MASQUERADE, { fullyRandom: s.fullyRandom, cost: 1 })
    case "dnat":
      // immediate (address) [+ immediate (port)] + nat
      return statement(Op.DNAT, { dnatAddress: s.address, dnatPort: s.port, cost: s.port > 0 ? 3 : 2 })
    case "mark":
      // `mark set V` is immediate + meta set; the read-modify-write forms are meta load + bitwise + meta set.
      return statement(Op.MARK, { markOp: s.op, value: s.value, cost: s.op === "set" ? 2 : 3 })
    case "update": {
      if (!d.sets.has(s.set) || d.sets.get(s.set)!.isMap) fail(file, token, `no such set ${s.set} (ENOENT)`)
      const set = d.setForWrite(s.set)
      // A sizeless set used by `update` lists `size 65535` from then on, even after the rule is gone
      // (observed with nft 1.0.6 on this machine's kernel across separate transactions, so the
      // kernel's dynset init sets it).
      if (set.size < 0) set.size = 65535
      if (!(set.flags & SET_FLAG.DYNAMIC)) fail(file, token, `set ${s.set} is not dynamic (EOPNOTSUPP)`)
      const types = s.selectors.map((x) => fieldType(x.field))
      if (set.keyTypes.join() !== types.join()) fail(file, token, `set ${s.set} has a different key type`)
      return statement(Op.UPDATE, {
        fields,
        dependencies,
        set,
        timeoutS: s.timeoutS,
        cost: loadsCost(s.selectors) + 1,
        dependencyCost,
      })
    }
    case "counter":
      return statement(Op.COUNTER, { cost: 1 })
  }
}

/** Elements of an anonymous set without those a wider prefix in the same set already covers. */
export function mergedElements<T extends { key: readonly number[]; prefixLength: number }>(
  elements: readonly T[],
): T[] {
  const span = (e: T): [number, number] => [e.key[0], e.key[0] + 2 ** (32 - e.prefixLength) - 1]
  return elements.filter((e, i) => {
    if (e.key.length !== 1) return true
    const [start, end] = span(e)
    return !elements.some((o, j) => {
      if (j === i || o.key.length !== 1) return false
      const [os, oe] = span(o)
      const covers = os <= start && end <= oe
      // Of two identical elements keep the first.
      return covers && (os !== start || oe !== end || j < i)
    })
  })
}

const HOOK_BIT: Readonly<Record<string, number>> = { prerouting: 1, input: 2, forward: 4, output: 8, postrouting: 16 }

/**
 * The kernel's commit-time validation (nf_tables_api.c nft_table_validate → nft_chain_validate):
 * walks every base chain's jumps, gotos and verdict-map targets, refusing a loop (ELOOP), and checks
 * each expression's hook mask for the base chains that reach it: `dnat` only in nat chains at
 * prerouting/output (nft_nat.c nft_nat_validate), `masquerade` only at nat postrouting
 * (nft_masq.c), `reject` at prerouting/input/forward/output (nft_reject.c nft_reject_validate).
 */
function validate(d: Draft, file: string): void {
  const onPath = new Set<string>()
  // A chain fully walked in the same context needs no second walk: a loop through it would have
  // been found the first time (it would have reached itself).
  const done = new Set<string>()
  const visit = (chain: NftChain, hookBit: number, nat: boolean): void => {
    const key = `${chain.name}|${hookBit}|${nat}`
    if (done.has(key)) return
    onPath.add(chain.name)
    for (const rule of chain.rules) {
      for (const st of rule.statements) {
        const targets: string[] = []
        if (st.verdict !== null && st.verdict.chain !== "") targets.push(st.verdict.chain)
        if (st.op === Op.VMAP && st.set !== null)
          for (const e of st.set.elements())
            if (e.verdict !== null && e.verdict.chain !== "") targets.push(e.verdict.chain)
        for (const t of targets) {
          if (onPath.has(t)) fail(file, rule.ast.token, `jump loop through ${t} (ELOOP)`)
          const next = d.chains.get(t)
          if (next !== undefined) visit(next, hookBit, nat)
        }
        const where = `in chain ${chain.name} reached from a ${nat ? "nat" : "filter"} chain`
        if (st.op === Op.DNAT && !(nat && hookBit & (HOOK_BIT.prerouting | HOOK_BIT.output)))
          fail(file, rule.ast.token, `dnat ${where} (EOPNOTSUPP)`)
        if (st.op === Op.MASQUERADE && !(nat && hookBit & HOOK_BIT.postrouting))
          fail(file, rule.ast.token, `masquerade ${where} (EOPNOTSUPP)`)
        if (st.op === Op.REJECT && hookBit & HOOK_BIT.postrouting)
          fail(file, rule.ast.token, `reject ${where} at postrouting (EOPNOTSUPP)`)
      }
    }
    onPath.delete(chain.name)
    done.add(key)
  }
  for (const chain of d.chains.values()) {
    if (chain.spec === null) continue
    visit(chain, HOOK_BIT[chain.spec.hook], chain.spec.type === "nat")
  }
}
