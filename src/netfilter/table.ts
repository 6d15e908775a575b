/**
 * Tables and chains, the chain index, and iptables-restore / iptables-save text.
 *
 * Built-in chains per table (as registered by iptable_{raw,mangle,nat,filter}.c):
 *   raw: PREROUTING OUTPUT   mangle: all five   nat: PREROUTING INPUT OUTPUT POSTROUTING
 *   filter: INPUT FORWARD OUTPUT
 *
 * Chain index. The kernel walks a chain linearly; the simulator charges that walk in simulated time
 * but finds the first match through an index when a chain is long (KUBE-SERVICES, KUBE-NODEPORTS):
 * rules keyed by (exact /32 destination, protocol, destination port), rules keyed by (protocol,
 * destination port), and the ordered list of rules the index cannot key. A packet's candidates are
 * the merge of its two buckets and that list, in rule order, so the first candidate that matches is
 * the first rule a linear walk would match (a rule outside the candidates cannot match the packet).
 * Rules with side-effecting matches before their port check are never keyed (rule.ts).
 */
import { Hook } from "../net/hooks.ts"
import type { Rule } from "./rule.ts"
import { formatTokens, parseRule, tokenize } from "./rule.ts"
import type { RuleEnvironment } from "./xt.ts"
import { stateless } from "./stateless.ts"
import { RuleParseError } from "./xt.ts"
import { Policy, TABLE_NAMES, TableId, TargetKind } from "./constants.ts"

export const BUILTIN_CHAINS: readonly (readonly Hook[])[] = [
  [Hook.PREROUTING, Hook.OUTPUT],
  [Hook.PREROUTING, Hook.INPUT, Hook.FORWARD, Hook.OUTPUT, Hook.POSTROUTING],
  [Hook.PREROUTING, Hook.INPUT, Hook.OUTPUT, Hook.POSTROUTING],
  [Hook.INPUT, Hook.FORWARD, Hook.OUTPUT],
]
const HOOK_CHAIN_NAMES = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]

const EMPTY: readonly number[] = []

export function exactKey(dst: number, protocol: number, dport: number): number {
  return (dst ^ Math.imul((protocol << 16) | dport, 0x9e3779b1)) >>> 0
}

export function portKey(protocol: number, dport: number): number {
  return (protocol << 16) | dport
}

export class ChainIndex {
  readonly exact = new Map<number, number[]>()
  readonly port = new Map<number, number[]>()
  readonly rest: number[] = []

  constructor(rules: readonly Rule[]) {
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]
      if (r.keyDport < 0) this.rest.push(i)
      else if (r.keyDst >= 0) push(this.exact, exactKey(r.keyDst, r.keyProtocol, r.keyDport), i)
      else push(this.port, portKey(r.keyProtocol, r.keyDport), i)
    }
  }

  exactBucket(dst: number, protocol: number, dport: number): readonly number[] {
    return this.exact.get(exactKey(dst, protocol, dport)) ?? EMPTY
  }

  portBucket(protocol: number, dport: number): readonly number[] {
    return this.port.get(portKey(protocol, dport)) ?? EMPTY
  }
}

function push(map: Map<number, number[]>, key: number, value: number): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

/** First position in ascending `list` whose value is >= `value`. */
export function lowerBound(list: readonly number[], value: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (list[mid] < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

let nextChainUid = 0

export class Chain {
  /**
   * The rules, in order. Rules are immutable and shared (between the chains of one node's successive
   * tables and, through the parse cache and the restore memo, between nodes); a committed chain is
   * never changed again (a restore changes a copy, `RestoreTransaction.writable`), so every node
   * whose table holds this chain shares it. Per-node packet and byte counters live in the node's
   * RuleCounters (counters.ts), keyed by chain, allocated on a chain's first counted packet.
   */
  rules: Rule[] = []
  policy: Policy = Policy.ACCEPT
  /** Built-in chain shown by save() (declared, has rules, or a non-default policy). */
  declared = false
  index: ChainIndex | null = null
  indexDirty = true
  /**
   * jumps[i]: for a JUMP/GOTO rule i, the index of its target chain in Table.chains; -1 otherwise.
   * Set by Table.commit; a committed chain whose targets move is copied, not changed (commit).
   */
  jumps: Int32Array = new Int32Array(0)
  /** Distinct per Chain object (creation order): picks its slot in RuleCounters' small memo. */
  readonly uid = nextChainUid++

  constructor(
    readonly name: string,
    readonly builtinHook: number,
  ) {}

  get builtin(): boolean {
    return this.builtinHook >= 0
  }

  copy(): Chain {
    const c = new Chain(this.name, this.builtinHook)
    c.rules = this.rules.slice()
    c.policy = this.policy
    c.declared = this.declared
    return c
  }

  /** The same chain with other jump positions (its rules and index shared). */
  withJumps(jumps: Int32Array): Chain {
    const c = new Chain(this.name, this.builtinHook)
    c.rules = this.rules
    c.policy = this.policy
    c.declared = this.declared
    c.index = this.index
    c.indexDirty = false
    c.jumps = jumps
    return c
  }
}

/**
 * How a node's counters carry into a chain a restore committed (RuleCounters.carry): the kernel
 * keeps the counters of the rules a `--noflush` restore leaves in place and zeroes (or, with
 * `--counters`, sets) the rest.
 */
export interface CounterCarry {
  readonly chain: Chain
  /** The committed chain this one replaces (rule i keeps the counters of its rule origin[i]), or null. */
  readonly source: Chain | null
  /** origin[i]: position in `source` of rule i, or -1 for a rule the restore added; null = same positions. */
  readonly origin: Int32Array | null
  /** Counters the input gave (`[p:b]` with --counters): two per rule, then the policy's; null = none. */
  readonly initial: Float64Array | null
  /** The input set the policy counters (`:CHAIN POLICY [p:b]` with --counters). */
  readonly policyFromInput: boolean
}

/**
 * The four empty tables every stack starts from, one set per process: tables are immutable once
 * committed, so stacks share them until their first restore (and a restore memoized by the parse
 * cache, keyed by the table it starts from, then hits on every node's first sync).
 */
let pristine: readonly Table[] | null = null

export function pristineTables(): Table[] {
  if (pristine === null)
    pristine = [new Table(TableId.RAW), new Table(TableId.MANGLE), new Table(TableId.NAT), new Table(TableId.FILTER)]
  return pristine.slice()
}

export class Table {
  chains: Chain[] = []
  readonly byName = new Map<string, Chain>()
  /** Built-in chain per hook (null where the table has none). */
  readonly hookChains: (Chain | null)[] = [null, null, null, null, null]
  /** Restored at least once: printed by save(). */
  shown = false

  constructor(
    readonly id: TableId,
    empty = false,
  ) {
    if (empty) return
    for (const hook of BUILTIN_CHAINS[id]) {
      const chain = new Chain(HOOK_CHAIN_NAMES[hook], hook)
      this.addChain(chain)
      this.hookChains[hook] = chain
    }
  }

  get name(): string {
    return TABLE_NAMES[this.id]
  }

  addChain(chain: Chain): void {
    this.chains.push(chain)
    this.byName.set(chain.name, chain)
  }

  chain(name: string): Chain | undefined {
    return this.byName.get(name)
  }

  /**
   * A copy for a restore transaction that shares every chain with this table: the transaction
   * copies a chain before its first change (`RestoreTransaction.writable`), so a partial restore
   * costs what it changes, not the table's size.
   */
  shareChains(): Table {
    const t = new Table(this.id, true)
    t.chains = this.chains.slice()
    for (const [name, chain] of this.byName) t.byName.set(name, chain)
    for (let hook = 0; hook < this.hookChains.length; hook++) t.hookChains[hook] = this.hookChains[hook]
    t.shown = this.shown
    return t
  }

  /**
   * Resolves jump targets, rejects loops; throws RuleParseError. `fresh`: the chains this
   * transaction created or copied (the others are committed chains, shared and never changed: they
   * keep their jumps and index unless a chain was deleted (`moved`) and their targets' positions
   * changed, in which case they are replaced by copies, recorded in `carries`).
   */
  commit(indexThreshold: number, fresh: ReadonlySet<Chain>, moved: boolean, carries: CounterCarry[]): void {
    const position = new Map<Chain, number>()
    this.chains.forEach((c, i) => position.set(c, i))
    const resolve = (chain: Chain): Int32Array => {
      const jumps = new Int32Array(chain.rules.length).fill(-1)
      chain.rules.forEach((rule, i) => {
        const t = rule.target
        if (t.kind !== TargetKind.JUMP && t.kind !== TargetKind.GOTO) return
        const target = this.byName.get(t.chainName)
        if (target === undefined)
          throw new RuleParseError(`chain ${chain.name}: unknown target or chain "${t.chainName}"`)
        if (target.builtin)
          throw new RuleParseError(`chain ${chain.name}: cannot jump to built-in chain ${target.name}`)
        jumps[i] = position.get(target) as number
      })
      return jumps
    }
    const changed: Chain[] = []
    for (const chain of fresh) {
      if (!position.has(chain)) continue
      changed.push(chain)
      chain.indexDirty = true
      chain.index = null
      chain.jumps = resolve(chain)
      if (chain.rules.length >= indexThreshold) chain.index = new ChainIndex(chain.rules)
      chain.indexDirty = false
    }
    if (moved) {
      for (let p = 0; p < this.chains.length; p++) {
        const chain = this.chains[p]
        if (fresh.has(chain)) continue
        const jumps = resolve(chain)
        if (sameJumps(jumps, chain.jumps)) continue
        const copy = chain.withJumps(jumps)
        this.chains[p] = copy
        this.byName.set(copy.name, copy)
        if (copy.builtin) this.hookChains[copy.builtinHook] = copy
        carries.push({ chain: copy, source: chain, origin: null, initial: null, policyFromInput: false })
      }
    }
    // Loop detection (the kernel's mark_source_chains refuses loops with ELOOP).
    const state = new Map<Chain, number>()
    const visit = (c: Chain, depth: number): void => {
      if (depth > 1024) throw new RuleParseError("chain nesting too deep")
      const s = state.get(c)
      if (s === 1) throw new RuleParseError(`loop detected through chain ${c.name}`)
      if (s === 2) return
      state.set(c, 1)
      for (const j of c.jumps) if (j >= 0) visit(this.chains[j], depth + 1)
      state.set(c, 2)
    }
    // A new loop goes through a changed chain.
    for (const c of changed) visit(c, 0)
  }

  /** Rules over every chain (computed once per committed table: tables are immutable). */
  get ruleCount(): number {
    if (this.rulesTotal < 0) {
      let n = 0
      for (const c of this.chains) n += c.rules.length
      this.rulesTotal = n
    }
    return this.rulesTotal
  }
  private rulesTotal = -1
}

function sameJumps(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export interface RestoreOptions {
  /** iptables-restore --noflush: only the chains declared (`:CHAIN`) are flushed. */
  readonly noflush?: boolean
  /** iptables-restore --counters: take `[p:b]` counters from the input. */
  readonly counters?: boolean
}

export class RestoreError extends Error {
  override readonly name = "RestoreError"
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`)
  }
}

function parseCounters(text: string): [number, number] | undefined {
  const m = /^\[(\d+):(\d+)\]$/.exec(text)
  return m === null ? undefined : [Number(m[1]), Number(m[2])]
}

/** One restored block (rule-cache.ts keeps them): `before` + its lines gave `table`. */
export interface RestoredBlock {
  readonly before: Table
  /** The input the block was read from, and its first (`*table`) and last (`COMMIT`) lines. */
  readonly source: readonly string[]
  readonly start: number
  readonly end: number
  readonly noflush: boolean
  readonly counters: boolean
  readonly indexThreshold: number
  readonly table: Table
  readonly carries: readonly CounterCarry[]
}

/** What a restore shares with other stacks' restores (rule-cache.ts RuleParseCache). */
export interface RestoreCache {
  lookup(line: string): { readonly chain: string; readonly rule: Rule } | undefined
  store(line: string, chain: string, rule: Rule): void
  restored(
    before: Table,
    lines: readonly string[],
    start: number,
    options: { readonly noflush?: boolean; readonly counters?: boolean },
    indexThreshold: number,
  ): RestoredBlock | undefined
  remember(block: RestoredBlock): void
}

/** What a restore did: the new tables, the ones it committed, and how counters carry into them. */
export interface RestoreResult {
  readonly tables: Table[]
  readonly committed: TableId[]
  /** Per committed chain whose counters do not start at zero (see CounterCarry). */
  readonly carries: CounterCarry[]
}

/** A chain this transaction created or copied, with where its rules' counters come from. */
interface Draft {
  readonly source: Chain | null
  /** Parallel to chain.rules: position of the rule in `source`, or -1 for a rule added here. */
  origin: number[]
  /** Parallel to chain.rules, two per rule: counters from the input (null while all are zero). */
  initial: number[] | null
  /** Policy counters from the input, or null (kept from `source`). */
  policy: [number, number] | null
}

/**
 * iptables-restore: parses `text` and applies each `*table ... COMMIT` block atomically. Throws
 * RestoreError (with the 1-based line number) and leaves the tables unchanged on any error in the
 * input (the whole input is parsed before anything is committed).
 *
 * Committed tables and chains are immutable: a block starts from the committed table's chains and
 * copies a chain before its first change, so unchanged chains stay shared. With `cache`, a block
 * whose rules hold no per-node state (rule-cache.ts `stateless`) is memoized by (table before,
 * block lines): another node restoring the same lines onto the same table gets the same table
 * object, and only its own counters (CounterCarry) are per node.
 */
export function restoreTables(
  current: Table[],
  text: string | readonly string[],
  options: RestoreOptions,
  env: RuleEnvironment,
  indexThreshold: number,
  cache?: RestoreCache,
): RestoreResult {
  const staged = current.slice()
  const committed: TableId[] = []
  const carries: CounterCarry[] = []
  // Lines, or the text to split into them.
  const lines = typeof text === "string" ? text.split("\n") : text
  let table: Table | null = null
  let tableLine = 0
  /** First line of the current block, and whether its result may be shared (memoized). */
  let blockStart = 0
  let shareable = true
  let blockCarries: CounterCarry[] = []
  let blockBefore: Table = staged[0]
  /** Chains of `table` this transaction created or copied (the rest are the committed table's). */
  let fresh = new Map<Chain, Draft>()
  /** Position of each chain in table.chains (built on the first copy; null = stale). */
  let positions: Map<Chain, number> | null = null
  /** A chain was deleted: positions moved, every chain's jumps are resolved again. */
  let moved = false
  const added = (t: Table, chain: Chain, draft: Draft): void => {
    t.addChain(chain)
    fresh.set(chain, draft)
    if (positions !== null) positions.set(chain, t.chains.length - 1)
  }
  const identity = (n: number): number[] => {
    const origin = new Array<number>(n)
    for (let i = 0; i < n; i++) origin[i] = i
    return origin
  }
  /** The chain to change: the committed table's chain is copied first (it stays as it was). */
  const writable = (t: Table, chain: Chain): Chain => {
    if (fresh.has(chain)) return chain
    if (positions === null) {
      positions = new Map()
      for (let i = 0; i < t.chains.length; i++) positions.set(t.chains[i], i)
    }
    const at = positions.get(chain) as number
    const copy = chain.copy()
    t.chains[at] = copy
    positions.set(copy, at)
    t.byName.set(copy.name, copy)
    if (copy.builtin) t.hookChains[copy.builtinHook] = copy
    fresh.set(copy, { source: chain, origin: identity(copy.rules.length), initial: null, policy: null })
    return copy
  }
  const draftOf = (chain: Chain): Draft => fresh.get(chain) as Draft
  const clearRules = (chain: Chain): void => {
    chain.rules = []
    const d = draftOf(chain)
    d.origin = []
    d.initial = null
  }
  const insertRule = (chain: Chain, at: number, rule: Rule, counters: [number, number] | undefined): void => {
    const d = draftOf(chain)
    chain.rules.splice(at, 0, rule)
    d.origin.splice(at, 0, -1)
    if (d.initial !== null) d.initial.splice(2 * at, 0, 0, 0)
    if (counters !== undefined && (counters[0] !== 0 || counters[1] !== 0)) {
      if (d.initial === null) d.initial = new Array<number>(2 * chain.rules.length).fill(0)
      d.initial[2 * at] = counters[0]
      d.initial[2 * at + 1] = counters[1]
    }
  }
  const deleteRule = (chain: Chain, at: number): void => {
    const d = draftOf(chain)
    chain.rules.splice(at, 1)
    d.origin.splice(at, 1)
    if (d.initial !== null) d.initial.splice(2 * at, 2)
  }
  /** The carries of the block's fresh chains that do not start from zero. */
  const draftCarries = (t: Table): void => {
    for (const [chain, d] of fresh) {
      if (t.byName.get(chain.name) !== chain) continue
      let carried = d.source !== null && chain.builtin
      if (d.source !== null && !carried) for (const o of d.origin) if (o >= 0) carried = true
      if (!carried && d.initial === null && d.policy === null) continue
      const n = chain.rules.length
      let initial: Float64Array | null = null
      if (d.initial !== null || d.policy !== null) {
        initial = new Float64Array(2 * n + 2)
        if (d.initial !== null) initial.set(d.initial)
        if (d.policy !== null) [initial[2 * n], initial[2 * n + 1]] = d.policy
      }
      blockCarries.push({
        chain,
        source: d.source,
        origin: d.source === null ? null : Int32Array.from(d.origin),
        initial,
        policyFromInput: d.policy !== null,
      })
    }
  }
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1
    const line = lines[n].replace(/\r$/, "")
    const trimmed = line.trim()
    if (trimmed === "" || trimmed.startsWith("#")) continue
    try {
      if (trimmed.startsWith("*")) {
        if (table !== null) throw new RuleParseError("table without COMMIT")
        const name = trimmed.slice(1)
        const id = TABLE_NAMES.indexOf(name as (typeof TABLE_NAMES)[number])
        if (id < 0) throw new RuleParseError(`unknown table "${name}"`)
        if (cache !== undefined) {
          // Another node restored these lines onto this very table: take its result.
          const memo = cache.restored(staged[id], lines, n, options, indexThreshold)
          if (memo !== undefined) {
            staged[id] = memo.table
            committed.push(memo.table.id)
            for (const c of memo.carries) carries.push(c)
            n += memo.end - memo.start
            continue
          }
        }
        blockBefore = staged[id]
        table = blockBefore.shareChains()
        fresh = new Map()
        positions = null
        moved = false
        blockStart = n
        shareable = true
        blockCarries = []
        if (options.noflush !== true) {
          // Legacy iptables-restore flushes every chain and deletes the user chains; built-in
          // policies are kept unless redeclared.
          const builtins = table.chains.filter((c) => c.builtin)
          table.chains = []
          table.byName.clear()
          for (const c of builtins) {
            const copy = c.copy()
            copy.rules = []
            added(table, copy, { source: c, origin: [], initial: null, policy: null })
            table.hookChains[copy.builtinHook] = copy
          }
          moved = true
        }
        table.shown = true
        tableLine = lineNo
        continue
      }
      if (trimmed === "COMMIT") {
        if (table === null) throw new RuleParseError("COMMIT outside a table")
        draftCarries(table)
        table.commit(indexThreshold, new Set(fresh.keys()), moved, blockCarries)
        staged[table.id] = table
        committed.push(table.id)
        for (const c of blockCarries) carries.push(c)
        if (cache !== undefined && shareable)
          cache.remember({
            before: blockBefore,
            source: lines,
            start: blockStart,
            end: n,
            noflush: options.noflush === true,
            counters: options.counters === true,
            indexThreshold,
            table,
            carries: blockCarries,
          })
        table = null
        continue
      }
      if (table === null) throw new RuleParseError("rule outside a table (missing *table)")
      if (trimmed.startsWith(":")) {
        const parts = trimmed.slice(1).split(/\s+/)
        const name = parts[0]
        const policy = parts[1] ?? "-"
        if (name === "" || name.length > 28) throw new RuleParseError(`bad chain name "${name}"`)
        let chain = table.chain(name)
        if (chain === undefined) {
          if (policy !== "-") throw new RuleParseError(`chain ${name}: only built-in chains have a policy`)
          chain = new Chain(name, -1)
          added(table, chain, { source: null, origin: [], initial: null, policy: null })
        } else {
          chain = writable(table, chain)
          clearRules(chain)
        }
        if (chain.builtin) {
          if (policy !== "ACCEPT" && policy !== "DROP") throw new RuleParseError(`bad policy "${policy}" for ${name}`)
          chain.policy = policy === "DROP" ? Policy.DROP : Policy.ACCEPT
          chain.declared = true
          const counters = parts[2] === undefined ? undefined : parseCounters(parts[2])
          if (counters !== undefined && options.counters === true) draftOf(chain).policy = counters
        }
        continue
      }
      // The common line, `-A CHAIN ...` without counters: a rule another stack already parsed.
      const cached = cache !== undefined && trimmed.startsWith("-A ") ? cache.lookup(trimmed) : undefined
      if (cached !== undefined) {
        const existing = table.chain(cached.chain)
        if (existing === undefined) throw new RuleParseError(`no chain named "${cached.chain}"`)
        const chain = writable(table, existing)
        if (chain.builtin) chain.declared = true
        insertRule(chain, chain.rules.length, cached.rule, undefined)
        continue
      }
      let tokens = tokenize(trimmed)
      let counters: [number, number] | undefined
      if (tokens[0]?.startsWith("[")) {
        counters = parseCounters(tokens[0])
        if (counters === undefined) throw new RuleParseError(`bad counters "${tokens[0]}"`)
        tokens = tokens.slice(1)
      }
      // `-c p b` counters after the command are also accepted.
      const command = tokens[0]
      const chainName = tokens[1]
      if (chainName === undefined && command !== "-F" && command !== "-X")
        throw new RuleParseError(`${command} needs a chain`)
      switch (command) {
        case "-A":
        case "--append":
        case "-I":
        case "--insert":
        case "-D":
        case "--delete": {
          const existing = table.chain(chainName)
          if (existing === undefined) throw new RuleParseError(`no chain named "${chainName}"`)
          const chain = writable(table, existing)
          let args = tokens.slice(2)
          let position = 1
          if ((command === "-I" || command === "--insert") && args.length > 0 && /^\d+$/.test(args[0])) {
            position = Number(args[0])
            args = args.slice(1)
          }
          const c = args.indexOf("-c")
          if (c >= 0 && args.length > c + 2) {
            counters = [Number(args[c + 1]), Number(args[c + 2])]
            args = [...args.slice(0, c), ...args.slice(c + 3)]
          }
          const rule = parseRule(args, env)
          if (cache !== undefined && command === "-A" && counters === undefined && trimmed.startsWith("-A "))
            cache.store(trimmed, chainName, rule)
          if (!stateless(rule)) shareable = false
          const given = options.counters === true ? counters : undefined
          if (chain.builtin) chain.declared = true
          if (command === "-A" || command === "--append") insertRule(chain, chain.rules.length, rule, given)
          else if (command === "-I" || command === "--insert") {
            if (position < 1 || position > chain.rules.length + 1)
              throw new RuleParseError(`index of insertion too big`)
            insertRule(chain, position - 1, rule, given)
          } else {
            const text = rule.text()
            const i = chain.rules.findIndex((r) => r.text() === text)
            if (i < 0) throw new RuleParseError("bad rule (does a matching rule exist in that chain?)")
            deleteRule(chain, i)
          }
          continue
        }
        case "-N":
        case "--new-chain": {
          if (table.chain(chainName) !== undefined) throw new RuleParseError(`chain ${chainName} already exists`)
          added(table, new Chain(chainName, -1), { source: null, origin: [], initial: null, policy: null })
          continue
        }
        case "-F":
        case "--flush": {
          const targets = chainName === undefined ? table.chains.slice() : [table.chain(chainName)]
          for (const chain of targets) {
            if (chain === undefined) throw new RuleParseError(`no chain named "${chainName}"`)
            clearRules(writable(table, chain))
          }
          continue
        }
        case "-X":
        case "--delete-chain": {
          const victims = chainName === undefined ? table.chains.filter((c) => !c.builtin) : [table.chain(chainName)]
          for (const chain of victims) {
            if (chain === undefined) throw new RuleParseError(`no chain named "${chainName}"`)
            if (chain.builtin) throw new RuleParseError(`cannot delete built-in chain ${chain.name}`)
            if (chain.rules.length > 0) throw new RuleParseError(`chain ${chain.name} is not empty`)
            for (const other of table.chains) {
              if (
                other !== chain &&
                !victims.includes(other) &&
                other.rules.some(
                  (r) =>
                    r.target.chainName === chain.name &&
                    (r.target.kind === TargetKind.JUMP || r.target.kind === TargetKind.GOTO),
                )
              ) {
                throw new RuleParseError(`chain ${chain.name} is referenced by ${other.name}`)
              }
            }
          }
          table.chains = table.chains.filter((c) => !victims.includes(c))
          for (const chain of victims) if (chain !== undefined) table.byName.delete(chain.name)
          positions = null
          moved = true
          continue
        }
        case "-P":
        case "--policy": {
          const existing = table.chain(chainName)
          if (existing === undefined || !existing.builtin) throw new RuleParseError(`bad built-in chain "${chainName}"`)
          const chain = writable(table, existing)
          const policy = tokens[2]
          if (policy !== "ACCEPT" && policy !== "DROP") throw new RuleParseError(`bad policy "${policy}"`)
          chain.policy = policy === "DROP" ? Policy.DROP : Policy.ACCEPT
          chain.declared = true
          continue
        }
        default:
          throw new RuleParseError(`unknown command "${command}"`)
      }
    } catch (error) {
      if (error instanceof RuleParseError) throw new RestoreError(lineNo, error.message)
      throw error
    }
  }
  if (table !== null) throw new RestoreError(tableLine, `table ${table.name} has no COMMIT`)
  return { tables: staged, committed, carries }
}

export interface SaveOptions {
  /** Print `[packets:bytes]` before each rule (iptables-save -c). */
  readonly counters?: boolean
  /** Print the `# Generated by` / `# Completed on` comment lines (without dates). */
  readonly header?: boolean
}

/**
 * iptables-save text for the tables that were restored, in the order given by `order`; `counters`:
 * the node's counters of a chain (two per rule, then the policy's), undefined when all are zero.
 */
export function saveTables(
  tables: readonly Table[],
  order: readonly number[],
  options: SaveOptions = {},
  counters: (chain: Chain) => Float64Array | undefined = () => undefined,
  /** The rule's tokens as this node prints them (rules naming node parameters: ext/xt_nat.ts). */
  tokensOf: (rule: Rule) => readonly string[] = (rule) => rule.tokens,
): string {
  const out: string[] = []
  for (const id of order) {
    const table = tables[id]
    if (!table.shown) continue
    if (options.header === true) out.push("# Generated by kube-netsim")
    out.push(`*${table.name}`)
    const shown = table.chains.filter(
      (c) => !c.builtin || c.declared || c.rules.length > 0 || c.policy !== Policy.ACCEPT,
    )
    for (const c of shown) {
      const policy = c.builtin ? (c.policy === Policy.DROP ? "DROP" : "ACCEPT") : "-"
      const k = c.builtin ? counters(c) : undefined
      const n = 2 * c.rules.length
      const policyCounters = k === undefined ? "[0:0]" : `[${k[n]}:${k[n + 1]}]`
      out.push(`:${c.name} ${policy} ${policyCounters}`)
    }
    for (const c of shown) {
      const k = options.counters === true ? counters(c) : undefined
      for (let i = 0; i < c.rules.length; i++) {
        const r = c.rules[i]
        const prefix = options.counters !== true ? "" : k === undefined ? "[0:0] " : `[${k[2 * i]}:${k[2 * i + 1]}] `
        const args = formatTokens(tokensOf(r))
        out.push(args === "" ? `${prefix}-A ${c.name}` : `${prefix}-A ${c.name} ${args}`)
      }
    }
    out.push("COMMIT")
    if (options.header === true) out.push("# Completed")
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`
}
