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
import type { RuleParseCache } from "./rule-cache.ts"
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

export class Chain {
  rules: Rule[] = []
  policy: Policy = Policy.ACCEPT
  policyPackets = 0
  policyBytes = 0
  /** Built-in chain shown by save() (declared, has rules, or a non-default policy). */
  declared = false
  index: ChainIndex | null = null
  indexDirty = true
  /**
   * jumps[i]: for a JUMP/GOTO rule i, the index of its target chain in Table.chains; -1 otherwise.
   * Set by Table.commit; per chain because chains are copied per restore and rules are shared.
   */
  jumps: Int32Array = new Int32Array(0)

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
    c.policyPackets = this.policyPackets
    c.policyBytes = this.policyBytes
    c.declared = this.declared
    return c
  }
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

  /** Deep-enough copy for a --noflush restore transaction (rules are shared, chains are not). */
  copy(): Table {
    const t = new Table(this.id)
    t.chains = []
    t.byName.clear()
    for (const c of this.chains) {
      const copy = c.copy()
      t.addChain(copy)
      if (copy.builtin) t.hookChains[copy.builtinHook] = copy
    }
    t.shown = this.shown
    return t
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
   * Resolves jump targets, rejects loops; throws RuleParseError. `changed`: the only chains that
   * differ from the committed table this one was copied from, when no chain moved (none deleted);
   * the others keep their resolved jumps and index. Omitted = every chain.
   */
  commit(indexThreshold: number, changed?: ReadonlySet<Chain>): void {
    const position = new Map<Chain, number>()
    this.chains.forEach((c, i) => position.set(c, i))
    for (const chain of changed ?? this.chains) {
      chain.indexDirty = true
      chain.index = null
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
      chain.jumps = jumps
      if (chain.rules.length >= indexThreshold) {
        chain.index = new ChainIndex(chain.rules)
      }
      chain.indexDirty = false
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
    for (const c of changed ?? this.chains) visit(c, 0)
  }
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

/**
 * iptables-restore: parses `text` and applies each `*table ... COMMIT` block atomically. Throws
 * RestoreError (with the 1-based line number) and leaves the tables unchanged on any error in the
 * input (the whole input is parsed before anything is committed).
 */
export function restoreTables(
  current: Table[],
  text: string | readonly string[],
  options: RestoreOptions,
  env: RuleEnvironment,
  indexThreshold: number,
  cache?: RuleParseCache,
): { tables: Table[]; committed: TableId[] } {
  const staged = current.slice()
  const committed: TableId[] = []
  // Lines, or the text to split into them.
  const lines = typeof text === "string" ? text.split("\n") : text
  let table: Table | null = null
  let tableLine = 0
  /** Chains of `table` this transaction created or copied (the rest are the committed table's). */
  let fresh = new Set<Chain>()
  /** Position of each chain in table.chains (built on the first copy; null = stale). */
  let positions: Map<Chain, number> | null = null
  /** A chain was deleted: positions moved, every chain's jumps are resolved again. */
  let moved = false
  const added = (t: Table, chain: Chain): void => {
    t.addChain(chain)
    fresh.add(chain)
    if (positions !== null) positions.set(chain, t.chains.length - 1)
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
    fresh.add(copy)
    return copy
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
        table = staged[id].shareChains()
        fresh = new Set()
        positions = null
        moved = false
        if (options.noflush !== true) {
          // Legacy iptables-restore flushes every chain and deletes the user chains; built-in
          // policies are kept unless redeclared.
          const builtins = table.chains.filter((c) => c.builtin)
          table.chains = []
          table.byName.clear()
          for (const c of builtins) {
            const copy = c.copy()
            copy.rules = []
            added(table, copy)
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
        table.commit(indexThreshold, moved ? undefined : fresh)
        staged[table.id] = table
        committed.push(table.id)
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
          added(table, chain)
        } else {
          chain = writable(table, chain)
          chain.rules = []
        }
        if (chain.builtin) {
          if (policy !== "ACCEPT" && policy !== "DROP") throw new RuleParseError(`bad policy "${policy}" for ${name}`)
          chain.policy = policy === "DROP" ? Policy.DROP : Policy.ACCEPT
          chain.declared = true
          const counters = parts[2] === undefined ? undefined : parseCounters(parts[2])
          if (counters !== undefined && options.counters === true) [chain.policyPackets, chain.policyBytes] = counters
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
        chain.rules.push(cached.rule.copy())
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
          if (counters !== undefined && options.counters === true) [rule.packets, rule.bytes] = counters
          if (chain.builtin) chain.declared = true
          if (command === "-A" || command === "--append") chain.rules.push(rule)
          else if (command === "-I" || command === "--insert") {
            if (position < 1 || position > chain.rules.length + 1)
              throw new RuleParseError(`index of insertion too big`)
            chain.rules.splice(position - 1, 0, rule)
          } else {
            const text = rule.text()
            const i = chain.rules.findIndex((r) => r.text() === text)
            if (i < 0) throw new RuleParseError("bad rule (does a matching rule exist in that chain?)")
            chain.rules.splice(i, 1)
          }
          continue
        }
        case "-N":
        case "--new-chain": {
          if (table.chain(chainName) !== undefined) throw new RuleParseError(`chain ${chainName} already exists`)
          added(table, new Chain(chainName, -1))
          continue
        }
        case "-F":
        case "--flush": {
          const targets = chainName === undefined ? table.chains.slice() : [table.chain(chainName)]
          for (const chain of targets) {
            if (chain === undefined) throw new RuleParseError(`no chain named "${chainName}"`)
            writable(table, chain).rules = []
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
  return { tables: staged, committed }
}

export interface SaveOptions {
  /** Print `[packets:bytes]` before each rule (iptables-save -c). */
  readonly counters?: boolean
  /** Print the `# Generated by` / `# Completed on` comment lines (without dates). */
  readonly header?: boolean
}

/** iptables-save text for the tables that were restored, in the order given by `order`. */
export function saveTables(tables: readonly Table[], order: readonly number[], options: SaveOptions = {}): string {
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
      const counters = c.builtin ? `[${c.policyPackets}:${c.policyBytes}]` : "[0:0]"
      out.push(`:${c.name} ${policy} ${counters}`)
    }
    for (const c of shown) {
      for (const r of c.rules) {
        const prefix = options.counters === true ? `[${r.packets}:${r.bytes}] ` : ""
        const args = formatTokens(r.tokens)
        out.push(args === "" ? `${prefix}-A ${c.name}` : `${prefix}-A ${c.name} ${args}`)
      }
    }
    out.push("COMMIT")
    if (options.header === true) out.push("# Completed")
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`
}
