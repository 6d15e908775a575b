/**
 * One nftables table as kube-proxy manipulates it through knftables: the objects (chains, sets,
 * maps, rules, elements), transactions of add/flush/delete operations, their `nft -f` text, and
 * the table state after applying them.
 *
 * Upstream: kubernetes-sigs/knftables v0.0.22 objects.go (`writeOperation`: the exact text of
 * each operation), fake.go (`run`: what each operation does to the table; `Dump`: the dump form
 * kube-proxy's unit tests compare; `ParseDump`), transaction.go (`NumOperations`).
 * The state is what the kernel holds after `nft -f` of the same text; knftables' Fake and the
 * kernel agree on every operation kube-proxy uses.
 */
import { compareStrings } from "../service-port.ts"

export type NftFamily = "ip" | "ip6"
export type NftVerb = "add" | "flush" | "delete"

export interface NftChainSpec {
  readonly name: string
  /** Base chains only. */
  readonly type?: "filter" | "nat" | undefined
  readonly hook?: "prerouting" | "input" | "forward" | "output" | "postrouting" | undefined
  /** Numeric priority (knftables prints parseable priorities numerically). */
  readonly priority?: number | undefined
  readonly comment?: string | undefined
}

export interface NftSetSpec {
  readonly name: string
  /** e.g. "ipv4_addr" or, for maps, "ipv4_addr . inet_proto . inet_service : verdict". */
  readonly type: string
  readonly flags?: readonly string[] | undefined
  readonly timeoutSeconds?: number | undefined
  readonly comment?: string | undefined
}

export interface NftRuleSpec {
  readonly chain: string
  /** Rule text as knftables.Concat builds it. */
  readonly rule: string
  readonly comment?: string | undefined
}

export interface NftElementSpec {
  /** Set or map name. */
  readonly container: string
  readonly isMap: boolean
  readonly key: readonly string[]
  /** Map value tokens (e.g. ["goto service-…"]); empty for sets. */
  readonly value: readonly string[]
  readonly comment?: string | undefined
}

export type NftOperation =
  | { readonly verb: "add" | "delete"; readonly kind: "table"; readonly comment?: string | undefined }
  | { readonly verb: NftVerb; readonly kind: "chain"; readonly chain: NftChainSpec }
  | { readonly verb: NftVerb; readonly kind: "set" | "map"; readonly set: NftSetSpec }
  | { readonly verb: "add"; readonly kind: "rule"; readonly rule: NftRuleSpec }
  | { readonly verb: "add" | "delete"; readonly kind: "element"; readonly element: NftElementSpec }

/** Go's %q for the ASCII strings kube-proxy writes (comments): quotes and backslashes escaped. */
export function goQuote(text: string): string {
  return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`
}

/** knftables `writeOperation` text of one operation (no trailing newline). */
export function formatOperation(op: NftOperation, family: NftFamily, table: string): string {
  switch (op.kind) {
    case "table": {
      let out = `${op.verb} table ${family} ${table}`
      if (op.verb === "add" && op.comment !== undefined) out += ` { comment ${goQuote(op.comment)} ; }`
      return out
    }
    case "chain": {
      const c = op.chain
      let out = `${op.verb} chain ${family} ${table} ${c.name}`
      if (op.verb === "add" && (c.type !== undefined || c.comment !== undefined)) {
        out += " {"
        if (c.type !== undefined) out += ` type ${c.type} hook ${c.hook} priority ${c.priority} ;`
        if (c.comment !== undefined) out += ` comment ${goQuote(c.comment)} ;`
        out += " }"
      }
      return out
    }
    case "set":
    case "map": {
      const s = op.set
      let out = `${op.verb} ${op.kind} ${family} ${table} ${s.name}`
      if (op.verb === "add") {
        out += ` { type ${s.type} ;`
        if (s.flags !== undefined && s.flags.length > 0) out += ` flags ${s.flags.join(",")} ;`
        if (s.timeoutSeconds !== undefined) out += ` timeout ${s.timeoutSeconds}s ;`
        if (s.comment !== undefined) out += ` comment ${goQuote(s.comment)} ;`
        out += " }"
      }
      return out
    }
    case "rule": {
      const r = op.rule
      let out = `add rule ${family} ${table} ${r.chain} ${r.rule}`
      if (r.comment !== undefined) out += ` comment ${goQuote(r.comment)}`
      return out
    }
    case "element": {
      const e = op.element
      let out = `${op.verb} element ${family} ${table} ${e.container} { ${e.key.join(" . ")}`
      if (op.verb === "add") {
        if (e.comment !== undefined) out += ` comment ${goQuote(e.comment)}`
        if (e.value.length > 0) out += ` : ${e.value.join(" . ")}`
      }
      return out + " }"
    }
  }
}

/** `nft -f` input of a transaction: one operation a line (knftables writes exactly this to nft's stdin). */
export function formatTransaction(ops: readonly NftOperation[], family: NftFamily, table: string): string {
  let out = ""
  for (const op of ops) out += formatOperation(op, family, table) + "\n"
  return out
}

interface ChainState {
  readonly spec: NftChainSpec
  rules: NftRuleSpec[]
}

interface SetState {
  readonly spec: NftSetSpec
  readonly isMap: boolean
  /** Keyed by the " . "-joined key; insertion order kept (knftables Fake appends). */
  readonly elements: Map<string, NftElementSpec>
}

/**
 * The rule, chain and element specs the proxiers' tables hold, one object per distinct content
 * for the whole cluster (issue 10): every node's kube-proxy compiles nearly the same transaction,
 * and its table keeps the pool's equal object instead of its own (same fields, same text; only
 * memory changes). A generation of at most `generationSize` entries per kind is kept, then the
 * previous one is dropped (a later equal spec is then simply not shared).
 */
export class NftSpecPool {
  private rulesNow = new Map<string, NftRuleSpec>()
  private rulesOld = new Map<string, NftRuleSpec>()
  private elementsNow = new Map<string, NftElementSpec>()
  private elementsOld = new Map<string, NftElementSpec>()
  /** Specs looked up, and how many were replaced by an equal pooled one. */
  seen = 0
  shared = 0
  constructor(private readonly generationSize = 1 << 16) {}

  /** The pooled spec each spec object was last given (same object: same answer, no key built). */
  private readonly ruleOf = new WeakMap<NftRuleSpec, NftRuleSpec>()

  rule(spec: NftRuleSpec): NftRuleSpec {
    const known = this.ruleOf.get(spec)
    if (known !== undefined) {
      this.seen++
      this.shared++
      return known
    }
    const pooled = this.ruleByKey(spec)
    this.ruleOf.set(spec, pooled)
    return pooled
  }

  private ruleByKey(spec: NftRuleSpec): NftRuleSpec {
    const key = `${spec.chain}\u0000${spec.rule}\u0000${spec.comment === undefined ? "\u0001" : spec.comment}`
    this.seen++
    let hit = this.rulesNow.get(key)
    if (hit === undefined) {
      hit = this.rulesOld.get(key)
      if (hit === undefined) hit = spec
      else this.shared++
      if (this.rulesNow.size >= this.generationSize) {
        this.rulesOld = this.rulesNow
        this.rulesNow = new Map()
      }
      this.rulesNow.set(key, hit)
      return hit
    }
    this.shared++
    return hit
  }

  element(spec: NftElementSpec, keyText: string): NftElementSpec {
    const key =
      `${spec.container}\u0000${spec.isMap ? 1 : 0}\u0000${keyText}\u0000${spec.value.join(" . ")}` +
      `\u0000${spec.comment === undefined ? "\u0001" : spec.comment}`
    this.seen++
    let hit = this.elementsNow.get(key)
    if (hit === undefined) {
      hit = this.elementsOld.get(key)
      if (hit === undefined) hit = spec
      else this.shared++
      if (this.elementsNow.size >= this.generationSize) {
        this.elementsOld = this.elementsNow
        this.elementsNow = new Map()
      }
      this.elementsNow.set(key, hit)
      return hit
    }
    this.shared++
    return hit
  }
}

export class NftTableError extends Error {}

/** What a rule names (checkRuleRefs), in its order: a set, a map (after `map`/`vmap`), a chain. */
interface RuleRef {
  readonly kind: "set" | "map" | "chain"
  readonly name: string
}

/**
 * The names a rule refers to, read from its text once per spec object (specs are immutable; every
 * node applying the cluster's shared transaction applies the same objects).
 */
const ruleRefsOf = new WeakMap<NftRuleSpec, readonly RuleRef[]>()

function ruleRefs(rule: NftRuleSpec): readonly RuleRef[] {
  let refs = ruleRefsOf.get(rule)
  if (refs !== undefined) return refs
  const out: RuleRef[] = []
  const words = rule.rule.split(" ")
  for (let i = 0; i < words.length; i++) {
    const word = words[i]
    if (word.startsWith("@") && !word.includes(",")) {
      const wantMap = i > 0 && (words[i - 1] === "map" || words[i - 1] === "vmap")
      out.push({ kind: wantMap ? "map" : "set", name: word.slice(1) })
    } else if ((word === "goto" || word === "jump") && i < words.length - 1) {
      out.push({ kind: "chain", name: words[i + 1] })
    }
  }
  refs = out
  ruleRefsOf.set(rule, refs)
  return refs
}

const NO_LOCAL_SETS: ReadonlySet<string> = new Set()
/** A committed map is never modified (apply copies), so every new table may start from these. */
const EMPTY_CHAINS = new Map<string, ChainState>()
const EMPTY_SETS = new Map<string, SetState>()

/** objectCount of shared maps (nodes in the same state count them once). */
const sharedCounts = new WeakMap<
  Map<string, ChainState>,
  { chains: Map<string, ChainState>; sets: Map<string, SetState>; objects: number }
>()

function sameLocal(a: Map<string, Map<string, NftElementSpec>>, b: Map<string, Map<string, NftElementSpec>>): boolean {
  if (a.size !== b.size) return false
  for (const [name, elements] of a) if (b.get(name) !== elements) return false
  return true
}

/** A table's shared state: its maps (never modified once committed), existence and comment. */
interface SharedTableState {
  readonly chains: Map<string, ChainState>
  readonly sets: Map<string, SetState>
  readonly exists: boolean
  readonly comment: string | undefined
}

/** How many starting states NftTableTransitions remembers (nodes of one state sync around the same time). */
const TRANSITION_STATES_KEPT = 16

/**
 * The cluster's memo of proxier table transitions (issue 10): (shared state, ops array) -> the
 * shared state after applying it. Keyed by identity, so a hit is the same input exactly. The last
 * TRANSITION_STATES_KEPT starting states are kept (a miss only costs applying the transaction).
 */
export class NftTableTransitions {
  private readonly byChains = new Map<
    Map<string, ChainState>,
    { before: SharedTableState; ops: readonly NftOperation[]; after: SharedTableState }[]
  >()
  /** Transactions applied, and taken from another node's application. */
  applied = 0
  shared = 0

  find(
    chains: Map<string, ChainState>,
    sets: Map<string, SetState>,
    exists: boolean,
    comment: string | undefined,
    ops: readonly NftOperation[],
  ): SharedTableState | undefined {
    const list = this.byChains.get(chains)
    if (list !== undefined)
      for (const t of list)
        if (t.ops === ops && t.before.sets === sets && t.before.exists === exists && t.before.comment === comment) {
          this.shared++
          return t.after
        }
    return undefined
  }

  remember(before: SharedTableState, ops: readonly NftOperation[], after: SharedTableState): void {
    this.applied++
    let list = this.byChains.get(before.chains)
    if (list === undefined) {
      if (this.byChains.size >= TRANSITION_STATES_KEPT) this.byChains.delete(this.byChains.keys().next().value!)
      list = []
      this.byChains.set(before.chains, list)
    }
    if (list.length >= 4) list.shift()
    list.push({ before, ops, after })
  }
}

/**
 * The table's contents. `apply` is all-or-nothing like an nft transaction: on error nothing
 * changes. Lookups are by name (hash maps), so applying a transaction costs O(operations).
 */
export class NftTable {
  exists = false
  comment: string | undefined = undefined
  // Every table starts from the same (empty, never modified) maps: nodes starting alike share
  // their first transition (applyShared).
  private chains: Map<string, ChainState> = EMPTY_CHAINS
  private sets: Map<string, SetState> = EMPTY_SETS
  /**
   * During `apply`: the chains and sets this draft copied (copy on write). A committed ChainState
   * or SetState is never modified, so a snapshot (`snapshot`) and the live table share them.
   */
  private ownedChains: Set<string> | null = null
  private ownedSets: Set<string> | null = null
  /** The cluster's pool of specs (NftSpecPool): null, this table's own objects. */
  pool: NftSpecPool | null = null
  /**
   * Sets whose elements are the node's own (kube-proxy's `nodeport-ips`: the node's IPs), kept
   * beside the shared maps (`local`) so that nodes applying the same transactions hold the same
   * chain and set maps (applyShared). Empty: every set lives in `sets` (a table of its own).
   */
  localSetNames: ReadonlySet<string> = NO_LOCAL_SETS
  /**
   * Elements of the local sets, by set (insertion order kept); absent: empty. The declaration
   * (type, flags, comment) stays in `sets` with no elements. Copy on write as the maps.
   */
  private local: Map<string, Map<string, NftElementSpec>> = new Map()
  private ownedLocal: Set<string> | null = null

  constructor(
    readonly family: NftFamily,
    readonly name: string,
  ) {}

  /**
   * The table as it is now, in O(1): applying a transaction replaces the table's maps rather than
   * changing them, so the snapshot stays as it was (for restoreFrom after a failed transaction).
   */
  snapshot(): NftTable {
    const copy = new NftTable(this.family, this.name)
    copy.exists = this.exists
    copy.comment = this.comment
    copy.chains = this.chains
    copy.sets = this.sets
    copy.local = this.local
    copy.localSetNames = this.localSetNames
    return copy
  }

  private chainForWrite(name: string): ChainState | undefined {
    const chain = this.chains.get(name)
    if (chain === undefined || this.ownedChains === null || this.ownedChains.has(name)) return chain
    const copy = { spec: chain.spec, rules: chain.rules.slice() }
    this.chains.set(name, copy)
    this.ownedChains.add(name)
    return copy
  }

  private setForWrite(name: string): SetState | undefined {
    const set = this.sets.get(name)
    if (set === undefined || this.ownedSets === null || this.ownedSets.has(name)) return set
    const copy = { spec: set.spec, isMap: set.isMap, elements: new Map(set.elements) }
    this.sets.set(name, copy)
    this.ownedSets.add(name)
    return copy
  }

  clone(): NftTable {
    const copy = new NftTable(this.family, this.name)
    copy.exists = this.exists
    copy.comment = this.comment
    copy.chains = new Map()
    copy.sets = new Map()
    copy.local = new Map()
    for (const [name, chain] of this.chains) copy.chains.set(name, { spec: chain.spec, rules: [...chain.rules] })
    for (const [name, set] of this.sets)
      copy.sets.set(name, { spec: set.spec, isMap: set.isMap, elements: new Map(set.elements) })
    for (const [name, elements] of this.local) copy.local.set(name, new Map(elements))
    copy.localSetNames = this.localSetNames
    return copy
  }

  /** Replaces this table's contents with `other`'s (a snapshot taken with clone()). */
  restoreFrom(other: NftTable): void {
    const copy = other.clone()
    this.exists = copy.exists
    this.comment = copy.comment
    this.chains = copy.chains
    this.sets = copy.sets
    this.local = copy.local
  }

  /** objectCount of the maps it was counted for (a transaction replaces the maps: copy on write). */
  private counted: { chains: Map<string, ChainState>; sets: Map<string, SetState>; objects: number } | null = null

  /** Chains, rules and set/map elements the table holds (what nft's cache fetch reads). */
  objectCount(): number {
    let local = 0
    for (const elements of this.local.values()) local += elements.size
    const counted = this.counted ?? sharedCounts.get(this.chains) ?? null
    if (counted !== null && counted.chains === this.chains && counted.sets === this.sets) return counted.objects + local
    let n = 0
    for (const chain of this.chains.values()) n += 1 + chain.rules.length
    for (const set of this.sets.values()) n += set.elements.size
    this.counted = { chains: this.chains, sets: this.sets, objects: n }
    // Nodes applying the same transactions hold the same maps (applyShared): counted once.
    sharedCounts.set(this.chains, this.counted)
    return n + local
  }

  /**
   * The identity of the table's shared state (its chain map; with applyShared, nodes in the same
   * state hold the same one). For shape tests and benchmarks.
   */
  get sharedState(): object {
    return this.chains
  }

  chainNames(): string[] {
    return [...this.chains.keys()]
  }

  hasChain(name: string): boolean {
    return this.chains.has(name)
  }

  /** Set names (not maps). */
  setNames(): string[] {
    const out: string[] = []
    for (const [name, set] of this.sets) if (!set.isMap) out.push(name)
    return out
  }

  /** Sets and maps in creation order (the kernel's handle order, which `nft list` follows). */
  setsInOrder(): { readonly spec: NftSetSpec; readonly isMap: boolean }[] {
    return [...this.sets.values()].map((s) => ({ spec: s.spec, isMap: s.isMap }))
  }

  rules(chain: string): readonly NftRuleSpec[] {
    return this.chains.get(chain)?.rules ?? []
  }

  chainSpec(chain: string): NftChainSpec | undefined {
    return this.chains.get(chain)?.spec
  }

  /** Elements of a set or map (knftables ListElements), or undefined when it does not exist. */
  elements(container: string): readonly NftElementSpec[] | undefined {
    const set = this.sets.get(container)
    if (set === undefined) return undefined
    if (this.localSetNames.has(container)) return [...(this.local.get(container)?.values() ?? [])]
    return [...set.elements.values()]
  }

  /** Applies a transaction atomically; throws NftTableError (and changes nothing) on failure. */
  apply(ops: readonly NftOperation[]): void {
    // Copy on write: new maps holding the same chain and set states; a state is copied the first
    // time an operation changes it (chainForWrite / setForWrite).
    const next = new NftTable(this.family, this.name)
    next.exists = this.exists
    next.comment = this.comment
    // Operations on local sets' elements only (a node's `nodeport-ips`) write neither map: the
    // table keeps its (shared) maps.
    const localOnly = this.localSetNames.size > 0 && ops.every((op) => this.isLocalOp(op))
    next.chains = localOnly ? this.chains : new Map(this.chains)
    next.sets = localOnly ? this.sets : new Map(this.sets)
    next.ownedChains = new Set()
    next.ownedSets = new Set()
    next.pool = this.pool
    next.localSetNames = this.localSetNames
    next.local = new Map(this.local)
    next.ownedLocal = new Set()
    for (const op of ops) next.applyOne(op)
    this.exists = next.exists
    this.comment = next.comment
    this.chains = next.chains
    this.sets = next.sets
    this.local = next.local
  }

  /**
   * `apply(ops)` for a transaction other nodes apply too (the cluster's shared compile: the same
   * `ops` array): a table whose shared state (maps, existence, comment) is one another node
   * already took through `ops` takes that node's resulting maps (they are never modified), so
   * nodes in the same state hold one set of maps and the transaction runs once per distinct
   * (state, ops). `ops` must not touch the local sets (their elements are the node's own).
   */
  applyShared(ops: readonly NftOperation[], transitions: NftTableTransitions): void {
    const hit = transitions.find(this.chains, this.sets, this.exists, this.comment, ops)
    if (hit !== undefined) {
      this.chains = hit.chains
      this.sets = hit.sets
      this.exists = hit.exists
      this.comment = hit.comment
      return
    }
    const before = { chains: this.chains, sets: this.sets, exists: this.exists, comment: this.comment }
    const local = this.local
    this.apply(ops)
    if (this.local !== local && !sameLocal(this.local, local))
      throw new Error("nftables table: a shared transaction changed the node's local sets")
    transitions.remember(before, ops, {
      chains: this.chains,
      sets: this.sets,
      exists: this.exists,
      comment: this.comment,
    })
  }

  private requireTable(): void {
    if (!this.exists) throw new NftTableError(`no such table "${this.family}" "${this.name}"`)
  }

  private applyOne(op: NftOperation): void {
    switch (op.kind) {
      case "table":
        if (op.verb === "add") {
          if (!this.exists) {
            this.exists = true
            this.comment = op.comment
          }
        } else {
          this.exists = false
          this.comment = undefined
          this.chains.clear()
          this.sets.clear()
          this.local.clear()
        }
        return
      case "chain": {
        this.requireTable()
        const existing = this.chains.get(op.chain.name)
        if (op.verb === "add") {
          if (existing === undefined) {
            this.chains.set(op.chain.name, { spec: op.chain, rules: [] })
            this.ownedChains?.add(op.chain.name)
          }
        } else if (existing === undefined) {
          throw new NftTableError(`no such chain "${op.chain.name}"`)
        } else if (op.verb === "flush") {
          if (existing.rules.length > 0) {
            this.chains.set(op.chain.name, { spec: existing.spec, rules: [] })
            this.ownedChains?.add(op.chain.name)
          }
        } else {
          this.chains.delete(op.chain.name)
        }
        return
      }
      case "set":
      case "map": {
        this.requireTable()
        const existing = this.sets.get(op.set.name)
        if (op.verb === "add") {
          if (existing === undefined) {
            this.sets.set(op.set.name, { spec: op.set, isMap: op.kind === "map", elements: new Map() })
            this.ownedSets?.add(op.set.name)
          }
        } else if (existing === undefined) {
          throw new NftTableError(`no such ${op.kind} "${op.set.name}"`)
        } else if (op.verb === "flush") {
          if (this.localSetNames.has(op.set.name)) this.local.delete(op.set.name)
          else if (existing.elements.size > 0) {
            this.sets.set(op.set.name, { spec: existing.spec, isMap: existing.isMap, elements: new Map() })
            this.ownedSets?.add(op.set.name)
          }
        } else {
          this.sets.delete(op.set.name)
          this.local.delete(op.set.name)
        }
        return
      }
      case "rule": {
        this.requireTable()
        const chain = this.chainForWrite(op.rule.chain)
        if (chain === undefined) throw new NftTableError(`no such chain "${op.rule.chain}"`)
        this.checkRuleRefs(op.rule)
        chain.rules.push(this.pool === null ? op.rule : this.pool.rule(op.rule))
        return
      }
      case "element": {
        this.requireTable()
        const e = op.element
        const set = this.localSetNames.has(e.container)
          ? this.localForWrite(e.container)
          : this.setForWrite(e.container)
        if (set === undefined) throw new NftTableError(`no such ${e.isMap ? "map" : "set"} "${e.container}"`)
        const key = e.key.join(" . ")
        if (op.verb === "add") {
          if (e.value.length === 1) {
            const words = e.value[0].split(" ")
            if (words.length === 2 && (words[0] === "goto" || words[0] === "jump") && !this.chains.has(words[1]))
              throw new NftTableError(`no such chain "${words[1]}"`)
          }
          set.elements.set(key, this.pool === null ? e : this.pool.element(e, key))
        } else if (!set.elements.delete(key)) {
          throw new NftTableError(`no such element "${key}"`)
        }
        return
      }
    }
  }

  /** Whether `op` writes only a local set's elements (an element, or a flush of the set). */
  private isLocalOp(op: NftOperation): boolean {
    return (
      (op.kind === "element" && this.localSetNames.has(op.element.container)) ||
      (op.kind === "set" && op.verb === "flush" && this.localSetNames.has(op.set.name))
    )
  }

  /** A local set's element map for writing (as setForWrite), undefined when the set does not exist. */
  private localForWrite(name: string): { elements: Map<string, NftElementSpec> } | undefined {
    if (!this.sets.has(name)) return undefined
    let elements = this.local.get(name)
    if (elements === undefined || this.ownedLocal === null || !this.ownedLocal.has(name)) {
      elements = new Map(elements)
      this.local.set(name, elements)
      this.ownedLocal?.add(name)
    }
    return { elements }
  }

  /** knftables fake.go `checkRuleRefs`: chains, sets and maps a rule names must exist. */
  private checkRuleRefs(rule: NftRuleSpec): void {
    for (const ref of ruleRefs(rule)) {
      if (ref.kind === "chain") {
        if (!this.chains.has(ref.name)) throw new NftTableError(`no such chain "${ref.name}"`)
      } else {
        const target = this.sets.get(ref.name)
        const wantMap = ref.kind === "map"
        if (target === undefined || (wantMap && !target.isMap))
          throw new NftTableError(`no such ${wantMap ? "map" : "set"} "${ref.name}"`)
      }
    }
  }

  /**
   * knftables `Fake.Dump()`: the table, then chains, sets and maps sorted by name, then every
   * chain's rules (chains sorted), then set elements, then map elements; one `add` line each.
   */
  dump(): string {
    if (!this.exists) return ""
    const lines: string[] = []
    const f = this.family
    const t = this.name
    lines.push(formatOperation({ verb: "add", kind: "table", comment: this.comment }, f, t))
    const chainNames = [...this.chains.keys()].sort(compareStrings)
    const setNames: string[] = []
    const mapNames: string[] = []
    for (const [name, set] of this.sets) (set.isMap ? mapNames : setNames).push(name)
    setNames.sort(compareStrings)
    mapNames.sort(compareStrings)
    for (const name of chainNames)
      lines.push(formatOperation({ verb: "add", kind: "chain", chain: this.chains.get(name)!.spec }, f, t))
    for (const name of setNames)
      lines.push(formatOperation({ verb: "add", kind: "set", set: this.sets.get(name)!.spec }, f, t))
    for (const name of mapNames)
      lines.push(formatOperation({ verb: "add", kind: "map", set: this.sets.get(name)!.spec }, f, t))
    for (const name of chainNames)
      for (const rule of this.chains.get(name)!.rules)
        lines.push(formatOperation({ verb: "add", kind: "rule", rule }, f, t))
    for (const name of [...setNames, ...mapNames])
      for (const element of (this.localSetNames.has(name)
        ? this.local.get(name)
        : this.sets.get(name)!.elements
      )?.values() ?? [])
        lines.push(formatOperation({ verb: "add", kind: "element", element }, f, t))
    return lines.join("\n") + "\n"
  }

  /**
   * knftables `Fake.ParseDump`: loads `add …` lines (a dump, or a transaction of adds) into the
   * table. Blank lines and `#` comments are skipped. Used to start from a pre-existing table.
   */
  parseDump(text: string): void {
    const ops: NftOperation[] = []
    const lines = text.split("\n")
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim()
      if (line === "" || line.startsWith("#")) continue
      ops.push(parseAddLine(line, this.family, this.name, i + 1))
    }
    this.apply(ops)
  }
}

const QUOTED = String.raw`"((?:[^"\\]|\\.)*)"`
const CHAIN_RE = new RegExp(
  String.raw`^(\S+)(?: \{(?: type (\S+) hook (\S+) priority (-?\d+) ;)?(?: comment ${QUOTED} ;)? \})?$`,
)
const SET_RE = new RegExp(
  String.raw`^(\S+) \{ type ([^;]*) ;(?: flags ([^;]*) ;)?(?: timeout (\d+)s ;)?(?: comment ${QUOTED} ;)? \}$`,
)
const RULE_RE = new RegExp(String.raw`^(\S+) ([^"]*?)(?: comment ${QUOTED})?$`)
const ELEMENT_RE = new RegExp(String.raw`^(\S+) \{ ([^":]*?)(?: comment ${QUOTED})?(?: : (.*))? \}$`)
const TABLE_RE = new RegExp(String.raw`^(?:\{ comment ${QUOTED} ; \})?$`)

function unquote(text: string | undefined): string | undefined {
  return text === undefined ? undefined : text.replace(/\\(.)/g, "$1")
}

function parseAddLine(line: string, family: NftFamily, table: string, lineNumber: number): NftOperation {
  const fail = (): never => {
    throw new NftTableError(`line ${lineNumber}: cannot parse: ${line}`)
  }
  const parts = /^add (\S+) (\S+) (\S+)(?: (.*))?$/.exec(line) ?? fail()
  const [, kind, lineFamily, rest0] = parts
  if (lineFamily !== family) fail()
  if (kind === "table") {
    if (rest0 !== table) fail()
    const m = TABLE_RE.exec(parts[4] ?? "") ?? fail()
    return { verb: "add", kind: "table", ...(m[1] !== undefined ? { comment: unquote(m[1]) } : {}) }
  }
  if (rest0 !== table) fail()
  const rest = parts[4] ?? fail()
  switch (kind) {
    case "chain": {
      const m = CHAIN_RE.exec(rest) ?? fail()
      const spec: NftChainSpec = {
        name: m[1],
        ...(m[2] !== undefined
          ? { type: m[2] as "filter" | "nat", hook: m[3] as NftChainSpec["hook"], priority: Number(m[4]) }
          : {}),
        ...(m[5] !== undefined ? { comment: unquote(m[5]) } : {}),
      }
      return { verb: "add", kind: "chain", chain: spec }
    }
    case "set":
    case "map": {
      const m = SET_RE.exec(rest) ?? fail()
      const spec: NftSetSpec = {
        name: m[1],
        type: m[2],
        ...(m[3] !== undefined ? { flags: m[3].split(",") } : {}),
        ...(m[4] !== undefined ? { timeoutSeconds: Number(m[4]) } : {}),
        ...(m[5] !== undefined ? { comment: unquote(m[5]) } : {}),
      }
      return { verb: "add", kind, set: spec }
    }
    case "rule": {
      const m = RULE_RE.exec(rest) ?? fail()
      return {
        verb: "add",
        kind: "rule",
        rule: { chain: m[1], rule: m[2], ...(m[3] !== undefined ? { comment: unquote(m[3]) } : {}) },
      }
    }
    case "element": {
      const m = ELEMENT_RE.exec(rest) ?? fail()
      return {
        verb: "add",
        kind: "element",
        element: {
          container: m[1],
          isMap: m[4] !== undefined,
          key: m[2].split(" . "),
          value: m[4] === undefined ? [] : m[4].split(" . "),
          ...(m[3] !== undefined ? { comment: unquote(m[3]) } : {}),
        },
      }
    }
  }
  return fail()
}
