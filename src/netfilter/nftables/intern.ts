/**
 * Hash-consing of committed nftables objects between the nodes of one cluster (issue 10, "share
 * what nodes share"): every node's kube-proxy writes nearly the same `kube-proxy` table (the nodes
 * differ in `nodeport-ips`, in Local-policy chains for the endpoints they host, and in the
 * affinity sets' elements packets add), so a committed chain, rule or set whose contents equal one
 * another node already committed is replaced by that node's object. Only the simulator's memory
 * changes: a committed object is immutable (a transaction writes to copies, ruleset.ts Draft), so
 * two nodes holding the same object see exactly what each would see in its own copy.
 *
 * With node-local sets (NftRuleset.localSetNames, kube-proxy's `nodeport-ips` in a cluster), the
 * table holds only their empty declaration and nodes with the same transactions share whole
 * tables: the pool also remembers which table applying a text to a table gave (`transition`).
 *
 * What stays per node (never pooled): sets with the `dynamic` or `timeout` flag (kube-proxy's
 * affinity sets: packets add elements and restart their timeouts, nft_dynset.c) and elements with
 * an expiry; the rules that read or update such a set, and the chains holding such a rule. The
 * ruleset (which table object a node holds), the interpreter's per-node state (numgen stream,
 * counters of expressions evaluated) and the base-chain registrations are the node's own.
 *
 * Keys are the objects' full contents (rule text and comment, the identities of the named sets a
 * rule reads, a chain's name, spec, comment, creation sequence and rule identities, a set's
 * declaration and its elements in order), so a hit is an exact equality, never a guess. The pool
 * keeps two generations of a bounded number of entries per kind: an object nobody looked up for
 * two generations is dropped from the pool (nodes still holding it keep it; a later equal object
 * simply is not shared with it). Sharing never changes results, only memory.
 */
import type { NftChain, NftObjectPool, NftRule, NftSet, NftTable, NftTransition } from "./ruleset.ts"
import { SET_FLAG } from "./ruleset.ts"
import { parseTransaction } from "./parse.ts"
import type { Transaction } from "./parse.ts"

/** Parsed transactions the pool keeps for other nodes. */
const PARSED_KEPT = 4
/** Starting tables whose transitions the pool keeps (nodes of one state sync around the same time). */
const TRANSITION_TABLES_KEPT = 16
/** Transitions kept per starting table (texts applied to it). */
const TRANSITIONS_PER_TABLE = 8

class Generations<V> {
  private current = new Map<string, V>()
  private previous = new Map<string, V>()
  constructor(private readonly generationSize: number) {}

  get(key: string): V | undefined {
    const hit = this.current.get(key)
    if (hit !== undefined) return hit
    const old = this.previous.get(key)
    if (old !== undefined) this.put(key, old)
    return old
  }

  put(key: string, value: V): void {
    if (this.current.size >= this.generationSize) {
      this.previous = this.current
      this.current = new Map()
    }
    this.current.set(key, value)
  }

  get size(): number {
    return this.current.size + this.previous.size
  }
}

/** Counts of what the pool saw (shape tests and the scale benchmark read them). */
export interface NftInternStats {
  /** Committed objects looked up, and how many of them were replaced by an equal pooled one. */
  setsSeen: number
  setsShared: number
  chainsSeen: number
  chainsShared: number
  rulesSeen: number
  rulesShared: number
  /** Objects left per node because they hold per-node state (dynamic/timeout sets and their users). */
  perNodeObjects: number
}

/** One cluster's pool of committed nftables objects, shared by every node's NftRuleset. */
export class NftInternPool implements NftObjectPool {
  private readonly sets: Generations<NftSet>
  private readonly chains: Generations<NftChain>
  private readonly rules: Generations<NftRule>
  /** Pool identity of each pooled set (rule keys name sets by it). */
  private readonly setIds = new WeakMap<NftSet, number>()
  /** Pool identity of each pooled rule (chain keys name rules by it). */
  private readonly ruleIds = new WeakMap<NftRule, number>()
  private nextId = 1
  readonly stats: NftInternStats = {
    setsSeen: 0,
    setsShared: 0,
    chainsSeen: 0,
    chainsShared: 0,
    rulesSeen: 0,
    rulesShared: 0,
    perNodeObjects: 0,
  }

  /**
   * Generation sizes: chains and rules, enough for a whole table of ~10,000 Services; sets, a few
   * versions (a set's key is its whole contents, and each element change makes a new version,
   * so a long run with churn would otherwise keep every old version of `service-ips`).
   */
  constructor(generationSize = 1 << 16, setGenerationSize = 64) {
    this.sets = new Generations(setGenerationSize)
    this.chains = new Generations(generationSize)
    this.rules = new Generations(generationSize)
  }

  /** The pooled set equal to `set` (itself when it is the first), or `set` when it holds per-node state. */
  set(set: NftSet): NftSet {
    if (this.setIds.has(set)) return set
    this.stats.setsSeen++
    const key = setKey(set)
    if (key === null) {
      this.stats.perNodeObjects++
      return set
    }
    const hit = this.sets.get(key)
    if (hit !== undefined) {
      this.stats.setsShared++
      return hit
    }
    this.sets.put(key, set)
    this.setIds.set(set, this.nextId++)
    return set
  }

  /**
   * The pooled chain equal to `chain` (its rules pooled first), or `chain` itself when it holds a
   * rule with per-node state; `chain` is not modified (a chain with pooled rules is a new object).
   */
  chain(chain: NftChain, withRules: (rules: NftRule[]) => NftChain): NftChain {
    if (this.chainIds.has(chain)) return chain
    this.stats.chainsSeen++
    const rules: NftRule[] = []
    let key = `${chain.name}\u0000${chain.seq}\u0000${chain.comment}\u0000`
    if (chain.spec !== null) key += `${chain.spec.type} ${chain.spec.hook} ${chain.spec.priority} ${chain.spec.policy}`
    key += "\u0000"
    let changed = false
    for (const r of chain.rules) {
      const pooled = this.rule(r)
      if (pooled === null) {
        this.stats.perNodeObjects++
        return chain
      }
      if (pooled !== r) changed = true
      rules.push(pooled)
      key += `${this.ruleIds.get(pooled)},`
    }
    const hit = this.chains.get(key)
    if (hit !== undefined) {
      this.stats.chainsShared++
      return hit
    }
    const out = changed ? withRules(rules) : chain
    this.chains.put(key, out)
    this.chainIds.add(out)
    return out
  }

  private readonly chainIds = new WeakSet<NftChain>()

  /** The pooled rule equal to `rule`, or null when it reads or updates a set with per-node state. */
  private rule(rule: NftRule): NftRule | null {
    if (this.ruleIds.has(rule)) return rule
    this.stats.rulesSeen++
    let key = `${rule.ast.text}\u0000${rule.ast.comment}\u0000`
    for (const st of rule.statements) {
      const set = st.set
      if (set === null || set.anonymous) continue
      const id = this.setIds.get(set)
      if (id === undefined) return null
      key += `${id},`
    }
    const hit = this.rules.get(key)
    if (hit !== undefined) {
      this.stats.rulesShared++
      return hit
    }
    this.rules.put(key, rule)
    this.ruleIds.set(rule, this.nextId++)
    return rule
  }

  /** The last transactions parsed, by file and text (nodes applying the same partial sync). */
  private readonly parsedRecent: { readonly file: string; readonly text: string; readonly tx: Transaction }[] = []
  /** Transactions parsed, and how many of them were another node's same text. */
  transactionsParsed = 0
  transactionsShared = 0

  /**
   * `parseTransaction(text, file)`, shared by the nodes that apply the same text (a parsed
   * transaction is never modified; its rules' ASTs are what committed rules point at). The last
   * PARSED_KEPT texts are kept: nodes syncing the same change do it at about the same time.
   */
  parse(text: string, file: string): Transaction {
    for (const entry of this.parsedRecent)
      if (entry.file === file && entry.text === text) {
        this.transactionsShared++
        return entry.tx
      }
    const tx = parseTransaction(text, file)
    this.transactionsParsed++
    if (this.parsedRecent.length >= PARSED_KEPT) this.parsedRecent.shift()
    this.parsedRecent.push({ file, text, tx })
    return tx
  }

  /**
   * Tables reached by applying a text to a table (NftRuleset.applyText), by starting table
   * (identity; `null` key: no table yet) then file and text. Only the last TRANSITION_TABLES_KEPT
   * starting tables are kept: a miss only costs applying the transaction.
   */
  private readonly transitions = new Map<
    NftTable | null,
    Map<string, { readonly file: string; readonly transition: NftTransition }>
  >()
  /** Transactions applied to a table, and taken from another node's application. */
  transitionsApplied = 0
  transitionsShared = 0

  transition(base: NftTable | null, file: string, text: string): NftTransition | undefined {
    // Keyed by the text itself (not a concatenation): nodes pass the same string object, whose
    // hash V8 computes once.
    const hit = this.transitions.get(base)?.get(text)
    if (hit === undefined || hit.file !== file) return undefined
    this.transitionsShared++
    return hit.transition
  }

  rememberTransition(base: NftTable | null, file: string, text: string, transition: NftTransition): void {
    this.transitionsApplied++
    let byText = this.transitions.get(base)
    if (byText === undefined) {
      if (this.transitions.size >= TRANSITION_TABLES_KEPT)
        this.transitions.delete(this.transitions.keys().next().value as NftTable | null)
      byText = new Map()
      this.transitions.set(base, byText)
    }
    if (byText.size >= TRANSITIONS_PER_TABLE) byText.delete(byText.keys().next().value as string)
    byText.set(text, { file, transition })
  }

  /** Distinct objects the pool holds (both generations). */
  get pooled(): { readonly sets: number; readonly chains: number; readonly rules: number } {
    return { sets: this.sets.size, chains: this.chains.size, rules: this.rules.size }
  }
}

/** A named set's full contents, or null when it holds per-node state (dynamic, timeouts, expiries). */
function setKey(set: NftSet): string | null {
  if (set.anonymous || (set.flags & (SET_FLAG.DYNAMIC | SET_FLAG.TIMEOUT)) !== 0 || set.timeoutS >= 0) return null
  let key =
    `${set.name}\u0000${set.isMap ? 1 : 0}\u0000${set.keyTypes.join(",")}\u0000${set.flags}\u0000${set.size}` +
    `\u0000${set.comment}\u0000${set.declaredFlags.join(",")}\u0000`
  for (const e of set.elements()) {
    if (e.expiresNs >= 0 || e.timeoutS >= 0) return null
    key += `${e.key.join(".")}/${e.prefixLength}`
    if (e.comment !== "") key += `#${JSON.stringify(e.comment)}`
    if (e.verdict !== null) key += `:${e.verdict.kind}${e.verdict.chain}`
    key += ";"
  }
  return key
}
