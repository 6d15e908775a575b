/**
 * NetfilterStack: the PacketFilter of one network namespace — tables, conntrack, NAT.
 *
 * Hook traversal: the ops registered in `hooks` (hook-entries.ts), in kernel priority order
 * (raw -300, conntrack -200, mangle -150, nat DNAT -100, filter 0, nat SNAT +100, conntrack confirm
 * last); other components (nftables base chains, IPVS) register their own ops in between. Built in:
 *
 *   PREROUTING : raw -> conntrack in -> mangle -> nat (DNAT)
 *   INPUT      : mangle -> filter -> nat (SNAT) -> confirm
 *   FORWARD    : mangle -> filter
 *   OUTPUT     : raw -> conntrack in -> mangle -> nat (DNAT) -> filter
 *   POSTROUTING: mangle -> nat (SNAT) -> confirm
 *
 * nat chains run only for a connection's first packet (ctstate NEW and that NAT type not yet set
 * up, nf_nat_inet_fn); if no rule binds, a null binding is set up (nf_nat_alloc_null_binding), which
 * for SNAT still picks a new source port when the tuple is taken. Every packet of a NATed connection
 * is then rewritten from the conntrack entry (nf_nat_packet); ICMP errors RELATED to a connection
 * get their outer and inner headers translated (nf_nat_icmp_reply_translation).
 */
import type { Rng } from "../sim/rng.ts"
import type { Distribution } from "../sim/distribution.ts"
import type { Packet } from "../wire/packet.ts"
import { DropReason } from "../wire/drop-reason.ts"
import { Protocol } from "../wire/protocol.ts"
import type { FilterHost, PacketFilter } from "../net/hooks.ts"
import { Hook, RejectWith, Verdict } from "../net/hooks.ts"
import { CtState, CtStatus, Policy, TABLE_NAMES, TableId, TargetKind } from "./constants.ts"
import type { NfHookHandler } from "./hook-entries.ts"
import { NfHookEntries, NfHookState, NfPriority } from "./hook-entries.ts"
import type { ConntrackOptions } from "./conntrack.ts"
import { Conntrack, isIcmpError } from "./conntrack.ts"
import type { Rule } from "./rule.ts"
import type { RuleEnvironment, Target } from "./xt.ts"
import { MatchContext, NfacctCounter } from "./xt.ts"
import { Manip, NfNat } from "./nat.ts"
import type { IpSet } from "./ipset.ts"
import { IpSetTable } from "./ipset.ts"
import { SetMatch } from "./ext/xt_set.ts"
import { redirectAddress } from "./ext/xt_REDIRECT.ts"
import { NatParams, readsNatParams } from "./ext/xt_nat.ts"
import { RecentTable } from "./recent.ts"
import type { Chain, RestoreOptions, SaveOptions, Table } from "./table.ts"
import { lowerBound, pristineTables, restoreTables, saveTables } from "./table.ts"
import { RuleCounters } from "./counters.ts"
import type { RuleParseCache } from "./rule-cache.ts"
import { WalkMemo } from "./walk-memo.ts"

// Hot-path copies of imported constants (used by the per-packet methods below): an imported
// binding is read through the module's import cell, then the object's property, on every use
// (tsx runs these files as ES modules); a module-local const is one load of the same value.
const CT_STATE_NEW = CtState.NEW
const CT_STATE_RELATED = CtState.RELATED
const CT_STATUS_DST_NAT_DONE = CtStatus.DST_NAT_DONE
const CT_STATUS_SRC_NAT_DONE = CtStatus.SRC_NAT_DONE
const CT_STATUS_USED = CtStatus.USED
const CT_STATUS_NAT = CtStatus.SRC_NAT | CtStatus.DST_NAT
const CT_STATE_NEW_OR_RELATED = CtState.NEW | CtState.RELATED
const DROP_REASON_CONNTRACK_INSERT_FAILED = DropReason.CONNTRACK_INSERT_FAILED
const DROP_REASON_NETFILTER_DROP = DropReason.NETFILTER_DROP
const DROP_REASON_NETFILTER_REJECT = DropReason.NETFILTER_REJECT
const HOOK_OUTPUT = Hook.OUTPUT
const HOOK_PREROUTING = Hook.PREROUTING
const POLICY_DROP = Policy.DROP
const PROTOCOL_ICMP = Protocol.ICMP
const TABLE_ID_NAT = TableId.NAT
const TARGET_KIND_ACCEPT = TargetKind.ACCEPT
const TARGET_KIND_DNAT = TargetKind.DNAT
const TARGET_KIND_DROP = TargetKind.DROP
const TARGET_KIND_GOTO = TargetKind.GOTO
const TARGET_KIND_JUMP = TargetKind.JUMP
const TARGET_KIND_LOG = TargetKind.LOG
const TARGET_KIND_MARK = TargetKind.MARK
const TARGET_KIND_MASQUERADE = TargetKind.MASQUERADE
const TARGET_KIND_NONE = TargetKind.NONE
const TARGET_KIND_NOTRACK = TargetKind.NOTRACK
const TARGET_KIND_REDIRECT = TargetKind.REDIRECT
const TARGET_KIND_REJECT = TargetKind.REJECT
const TARGET_KIND_RETURN = TargetKind.RETURN
const TARGET_KIND_SNAT = TargetKind.SNAT
const VERDICT_ACCEPT = Verdict.ACCEPT
const VERDICT_DROP = Verdict.DROP
const VERDICT_REJECT = Verdict.REJECT
const VERDICT_STOLEN = Verdict.STOLEN

export interface NetfilterOptions {
  readonly rng: Rng
  readonly conntrack?: ConntrackOptions
  /** Simulated CPU per rule a linear walk evaluates (default 50 ns; see MODEL notes in README). */
  readonly ruleCostNs?: number
  /** Simulated CPU of the conntrack lookup at PREROUTING/OUTPUT (default 100 ns). */
  readonly conntrackLookupCostNs?: number
  /** Extra simulated CPU to create, NAT and confirm a new entry (default 400 ns). */
  readonly conntrackNewCostNs?: number
  /**
   * Cost distributions of a calibration profile (sim/costs.ts), drawn from `costRng`; when given
   * they replace the constants above: per-rule cost of the filter-side tables (raw, mangle,
   * filter) and of the nat table, drawn once per hook pass and multiplied by the rules walked;
   * conntrack lookup and new-entry costs drawn per event.
   */
  readonly costs?: NetfilterCostDraws
  /** Chains with at least this many rules are indexed (default 32). */
  readonly indexThreshold?: number
  /** xt_recent ip_list_tot (default 100) and ip_pkt_list_tot (default 20). */
  readonly recentListTotal?: number
  readonly recentPacketListTotal?: number
  /** Parsed rules shared with the cluster's other stacks (rule-cache.ts); absent = none shared. */
  readonly ruleCache?: RuleParseCache
}

export interface NetfilterCostDraws {
  readonly filterRule: Distribution
  readonly natRule: Distribution
  readonly conntrackLookup: Distribution
  readonly conntrackNew: Distribution
  readonly rng: Rng
}

export const ConntrackEvent = { NEW: 0, NAT: 1, CONFIRM: 2, INSERT_FAILED: 3, TABLE_FULL: 4, RELEASED: 5 } as const
export type ConntrackEvent = (typeof ConntrackEvent)[keyof typeof ConntrackEvent]

/** Optional observer for a `trace` command. Costs one null check per event when unset. */
export interface NetfilterTracer {
  /**
   * A rule matched (ruleIndex >= 0, rule set) or a built-in policy applied (ruleIndex -1,
   * rule null; `kind` is then TargetKind.ACCEPT or DROP), as the kernel's TRACE target reports.
   */
  rule(hook: Hook, table: TableId, chain: Chain, ruleIndex: number, rule: Rule | null, kind: TargetKind): void
  conntrack(event: ConntrackEvent, ctId: number, packet: Packet): void
}

/** How runHook calls an op (see buildRunOrder): the built-in ops directly, others by hookFn. */
const RUN_KIND_OTHER = 0
const RUN_KIND_TABLE = 1
const RUN_KIND_NAT = 2
const RUN_KIND_CONNTRACK_IN = 3
const RUN_KIND_CONFIRM = 4
/** An op whose hookFn only acts on ICMP (NfHookHandler.icmpOnly): called for ICMP packets only. */
const RUN_KIND_ICMP_ONLY = 5
/** An op that passes the packet IPVS is sending on (NfHookHandler.skipsIpvsProperty) untouched. */
const RUN_KIND_SKIPS_IPVS_PROPERTY = 6
/** A run code is kind | arg << RUN_ARG_SHIFT (arg: a table id or a NAT manip, small and >= 0). */
const RUN_KIND_MASK = 7
const RUN_ARG_SHIFT = 3

const MANIP_SRC = Manip.SRC
const MANIP_DST = Manip.DST
const JUMP_STACK_MAX = 1024

export class NetfilterStack implements PacketFilter, RuleEnvironment {
  lastCostNs = 0
  lastDropReason: number = DropReason.NETFILTER_DROP
  lastRejectWith: RejectWith = RejectWith.ICMP_PORT_UNREACHABLE
  tracer: NetfilterTracer | null = null
  // Fields read per packet are `declare`d and assigned in the constructor rather than declared
  // without a value or as parameter properties: those are first defined as undefined, so V8
  // tracks them as any value (see sim/empty.ts); assigned once, a field keeps the type it holds.
  declare readonly conntrack: Conntrack
  /** Immutable and shared with other stacks (table.ts); this stack's counters are `counters`. */
  tables: Table[] = pristineTables()
  /** This node's packet and byte counters of its rules and policies (sparse: counters.ts). */
  readonly counters = new RuleCounters()
  /** Order tables were first restored in; save() prints them in this order. */
  readonly tableOrder: number[] = []
  readonly recentTables = new Map<string, RecentTable>()
  readonly nfacctCounters = new Map<string, NfacctCounter>()
  /** This namespace's ipsets (`-m set --match-set`). */
  readonly ipsets = new IpSetTable()
  logCount = 0
  /** Rules a linear walk would have evaluated, over the stack's life. */
  rulesEvaluated = 0
  /**
   * Exact memo of pure filter-side walks (walk-memo.ts), made at the namespace's first walk: some
   * 80 KB of slots and masks, which at thousands of nodes most never use (a node no packet
   * crosses). A memo made later starts as the one made at once would be at its first walk.
   */
  private memo: WalkMemo | null = null
  /** False: every packet walks its rules (`walkMemo = null`, the tests' reference). */
  private memoEnabled = true

  /** The walk memo (made now if it was not yet), or null when disabled. */
  get walkMemo(): WalkMemo | null {
    if (!this.memoEnabled) return null
    return (this.memo ??= new WalkMemo())
  }

  /** Whether the memo was made (at the first walk; reading `walkMemo` makes it too). */
  get walkMemoMade(): boolean {
    return this.memo !== null
  }

  set walkMemo(memo: WalkMemo | null) {
    this.memoEnabled = memo !== null
    this.memo = memo
  }
  /** This node's values of the NAT node parameters its (shared) rules may name (ext/xt_nat.ts). */
  readonly natParams = new NatParams()

  declare readonly ruleCostNs: number
  declare readonly conntrackLookupCostNs: number
  declare readonly conntrackNewCostNs: number
  declare readonly indexThreshold: number
  declare private readonly recentListTotal: number
  declare private readonly recentPacketListTotal: number
  declare private readonly ruleCache: RuleParseCache | null
  declare private readonly rng: Rng
  declare private readonly ctx: MatchContext
  private readonly stackChains: (Chain | null)[] = new Array<Chain | null>(JUMP_STACK_MAX).fill(null)
  private readonly stackPositions = new Int32Array(JUMP_STACK_MAX)
  private costRules = 0
  /** Of costRules, those walked in the nat table (charged at the nat per-rule cost). */
  private costNatRules = 0
  /** Per-rule costs of the current hook pass (drawn at its start when a profile varies them). */
  private ruleCostNowNs = 0
  private natRuleCostNowNs = 0
  declare private readonly costs: NetfilterCostDraws | null
  /** True when a per-rule cost varies (drawn per hook pass). */
  declare private readonly ruleCostsVary: boolean
  private ruleCostsDrawn = false
  /**
   * Simulated CPU the current packet was charged at this namespace's earlier hooks (since its
   * PREROUTING or OUTPUT): with the current hook's charge so far, how far along its hooks it is.
   */
  private packetCostNs = 0
  private hook: Hook = Hook.PREROUTING
  private tableId: TableId = TableId.RAW
  /** The hook host of this namespace: every op at every hook, in run order. */
  readonly hooks = new NfHookEntries()
  private readonly state = new NfHookState()
  /** This PREROUTING packet came over lo with OUTPUT's conntrack entry (see runHook). */
  private loopback = false
  private stolenBy: NfHookHandler | null = null
  /**
   * The packet IPVS is sending on right now (skb->ipvs_property; ipvs/hooks.ts sets it while the
   * stolen packet runs LOCAL_OUT), or null: the IPVS ops pass it untouched.
   */
  ipvsPropertyPacket: Packet | null = null
  /** NAT core (nf_nat_core.c) over this namespace's conntrack table; shared with nft and IPVS. */
  declare readonly nat: NfNat
  /**
   * NAT-type chains the NAT core runs for a connection's first packet, per hook in priority order
   * (`nf_nat_lookup_hook_priv.entries`, filled by nf_nat_register_fn): the iptables nat table and
   * nft `type nat` base chains. They are not hook ops of their own: the NAT core's op at
   * NF_IP_PRI_NAT_DST / NF_IP_PRI_NAT_SRC runs them (nf_nat_inet_fn), whatever their priority, and
   * stops at the first one that sets up a binding. A lookup binds with `nat.setupInfo`.
   */
  readonly natLookups = new NfHookEntries()

  declare readonly host: FilterHost

  constructor(host: FilterHost, options: NetfilterOptions) {
    this.host = host
    this.rng = options.rng
    this.conntrack = new Conntrack(options.conntrack)
    this.nat = new NfNat(this.conntrack, this.rng)
    this.ruleCostNs = options.ruleCostNs ?? 50
    this.conntrackLookupCostNs = options.conntrackLookupCostNs ?? 100
    this.conntrackNewCostNs = options.conntrackNewCostNs ?? 400
    this.costs = options.costs ?? null
    this.ruleCostNowNs = this.ruleCostNs
    this.natRuleCostNowNs = this.ruleCostNs
    this.ruleCostsVary = false
    if (this.costs !== null) {
      this.ruleCostNowNs = this.costs.filterRule.drawReal(this.costs.rng)
      this.natRuleCostNowNs = this.costs.natRule.drawReal(this.costs.rng)
      this.ruleCostsVary = !this.costs.filterRule.isFixed || !this.costs.natRule.isFixed
    }
    this.indexThreshold = options.indexThreshold ?? 32
    this.recentListTotal = options.recentListTotal ?? 100
    this.recentPacketListTotal = options.recentPacketListTotal ?? 20
    this.ruleCache = options.ruleCache ?? null
    this.ctx = new MatchContext(host, this.rng)
    this.registerBuiltinOps()
  }

  /**
   * The ops the kernel registers for conntrack (nf_conntrack_proto.c ipv4_conntrack_ops), NAT
   * (nf_nat_proto.c nf_nat_ipv4_ops) and the iptables tables (iptable_raw.c, iptable_mangle.c,
   * iptable_filter.c, iptable_nat.c: each table's valid_hooks at its NF_IP_PRI_*). The security
   * table (NF_IP_PRI_SECURITY) is not modelled: kube-proxy writes none of it.
   */
  private registerBuiltinOps(): void {
    const h = this.hooks
    const ct = new ConntrackInOp(this)
    h.register({ hook: Hook.PREROUTING, priority: NfPriority.CONNTRACK, handler: ct, name: "conntrack in" })
    h.register({ hook: Hook.OUTPUT, priority: NfPriority.CONNTRACK, handler: ct, name: "conntrack local" })
    const confirm = new ConfirmOp(this)
    h.register({
      hook: Hook.INPUT,
      priority: NfPriority.CONNTRACK_CONFIRM,
      handler: confirm,
      name: "conntrack confirm",
    })
    h.register({
      hook: Hook.POSTROUTING,
      priority: NfPriority.CONNTRACK_CONFIRM,
      handler: confirm,
      name: "conntrack confirm",
    })
    const table = (id: TableId, priority: number, hooks: readonly Hook[]): void => {
      const op = new IptTableOp(this, id)
      for (const hook of hooks) h.register({ hook, priority, handler: op, name: `iptables ${TABLE_NAMES[id]}` })
    }
    table(TableId.RAW, NfPriority.RAW, [Hook.PREROUTING, Hook.OUTPUT])
    table(TableId.MANGLE, NfPriority.MANGLE, [Hook.PREROUTING, Hook.INPUT, Hook.FORWARD, Hook.OUTPUT, Hook.POSTROUTING])
    table(TableId.FILTER, NfPriority.FILTER, [Hook.INPUT, Hook.FORWARD, Hook.OUTPUT])
    const dnat = new IptNatOp(this, MANIP_DST)
    const snat = new IptNatOp(this, MANIP_SRC)
    h.register({ hook: Hook.PREROUTING, priority: NfPriority.NAT_DST, handler: dnat, name: "iptables nat" })
    h.register({ hook: Hook.OUTPUT, priority: NfPriority.NAT_DST, handler: dnat, name: "iptables nat" })
    h.register({ hook: Hook.INPUT, priority: NfPriority.NAT_SRC, handler: snat, name: "iptables nat" })
    h.register({ hook: Hook.POSTROUTING, priority: NfPriority.NAT_SRC, handler: snat, name: "iptables nat" })
    // iptable_nat.c registers its table as a lookup of the NAT core (nf_nat_ipv4_register_fn),
    // with the priorities of nf_nat_ipv4_ops.
    const lookup = new IptNatLookup(this)
    const l = this.natLookups
    l.register({ hook: Hook.PREROUTING, priority: NfPriority.NAT_DST, handler: lookup, name: "iptables nat" })
    l.register({ hook: Hook.OUTPUT, priority: NfPriority.NAT_DST, handler: lookup, name: "iptables nat" })
    l.register({ hook: Hook.INPUT, priority: NfPriority.NAT_SRC, handler: lookup, name: "iptables nat" })
    l.register({ hook: Hook.POSTROUTING, priority: NfPriority.NAT_SRC, handler: lookup, name: "iptables nat" })
  }

  // -------------------------------------------------------------------------------------------
  // RuleEnvironment

  recentTable(name: string): RecentTable {
    let t = this.recentTables.get(name)
    if (t === undefined) {
      t = new RecentTable(name, this.recentListTotal, this.recentPacketListTotal)
      this.recentTables.set(name, t)
    }
    return t
  }

  ipSet(name: string): IpSet | undefined {
    return this.ipsets.get(name)
  }

  /** Rules of the live tables that use set `name` (`ipset list`'s References; destroy refuses while > 0). */
  ipSetReferences(name: string): number {
    let n = 0
    for (const table of this.tables)
      for (const chain of table.chains)
        for (const rule of chain.rules)
          for (const m of rule.matches) if (m instanceof SetMatch && m.set !== null && m.set.name === name) n++
    return n
  }

  /** `ipset restore` into this namespace's sets (all or nothing; throws IpSetError with the line). */
  ipsetRestore(text: string, options: { exist?: boolean } = {}): void {
    this.ipsets.restore(text, { ...options, references: (name) => this.ipSetReferences(name) })
  }

  /** `ipset list [NAME]`. */
  ipsetList(options: { name?: string; sorted?: boolean } = {}): string {
    return this.ipsets.list({ ...options, references: (name) => this.ipSetReferences(name) })
  }

  nfacctCounter(name: string): NfacctCounter {
    let c = this.nfacctCounters.get(name)
    if (c === undefined) {
      c = new NfacctCounter(name)
      if (name !== "") this.nfacctCounters.set(name, c)
    }
    return c
  }

  // -------------------------------------------------------------------------------------------
  // Configuration

  /** iptables-restore [--noflush]. Throws RestoreError (line number) and changes nothing on error. */
  restore(text: string | readonly string[], options: RestoreOptions = {}): void {
    const { tables, committed, carries } = restoreTables(
      this.tables,
      text,
      options,
      this,
      this.indexThreshold,
      this.ruleCache ?? undefined,
    )
    this.tables = tables
    this.counters.carry(carries, tables)
    for (const id of committed) if (!this.tableOrder.includes(id)) this.tableOrder.push(id)
  }

  /** iptables-save. */
  save(options: SaveOptions = {}): string {
    return saveTables(
      this.tables,
      this.tableOrder,
      options,
      (chain) => this.counters.of(chain),
      (rule) => (readsNatParams(rule.target) ? this.natParams.tokens(rule.tokens) : rule.tokens),
    )
  }

  table(id: TableId): Table {
    return this.tables[id]
  }

  /** Frees the unconfirmed conntrack entry of a packet that net/ dropped between hooks. */
  discard(packet: Packet): void {
    const id = packet.ctId
    if (id >= 0 && !this.conntrack.isConfirmed(id) && (this.conntrack.status[id] & CT_STATUS_USED) !== 0) {
      this.conntrack.release(id)
      this.tracer?.conntrack(ConntrackEvent.RELEASED, id, packet)
    }
    packet.ctId = -1
  }

  // -------------------------------------------------------------------------------------------
  // PacketFilter

  runHook(hook: Hook, packet: Packet, inIfIndex: number, outIfIndex: number, nowNs: number): Verdict {
    // The match context (ctx) is filled by traverse, the only reader: most passes walk no table.
    const state = this.state
    state.hook = hook
    state.inIfIndex = inIfIndex
    state.outIfIndex = outIfIndex
    state.nowNs = nowNs
    state.extraNs = 0
    this.hook = hook
    this.costRules = 0
    this.costNatRules = 0
    this.ruleCostsDrawn = false
    if (hook === HOOK_PREROUTING || hook === HOOK_OUTPUT) {
      // A packet that already carries a conntrack entry keeps it and conntrack in leaves it alone
      // (nf_conntrack_in: an skb with a non-template ct is accepted as is): one looped back over lo
      // with the entry OUTPUT gave it (skb->_nfct survives the loopback xmit), or a stolen packet its
      // owner sends on through OUTPUT (ip_vs_nat_xmit keeps the skb's ct). Every other packet reaches
      // PREROUTING scrubbed and OUTPUT fresh (ctId -1).
      this.loopback =
        packet.ctId >= 0 && (hook === HOOK_OUTPUT || (inIfIndex >= 0 && this.host.interfaceName(inIfIndex) === "lo"))
      if (!this.loopback) packet.untracked = false
      this.packetCostNs = 0
    }
    if (this.tables !== this.runTables || this.hooks.version !== this.runVersion) this.buildRunOrder()
    const codes = this.runCodes[hook]
    const handlers = this.runHandlers[hook]
    let v: Verdict = VERDICT_ACCEPT
    for (let i = 0; i < codes.length; i++) {
      // The built-in ops are called directly (one switch instead of a megamorphic hookFn call);
      // what they run is exactly their hookFn.
      const code = codes[i]
      switch (code & RUN_KIND_MASK) {
        case RUN_KIND_TABLE:
          v = this.traverse(this.tables[code >> RUN_ARG_SHIFT], packet)
          break
        case RUN_KIND_NAT: {
          // natHook's own answer, without the call, for a packet it leaves alone: untracked, or
          // neither NEW nor RELATED on an entry with no NAT set up (nf_nat_packet applies nothing).
          const id = packet.ctId
          if (
            id < 0 ||
            ((packet.ctState & CT_STATE_NEW_OR_RELATED) === 0 && (this.conntrack.status[id] & CT_STATUS_NAT) === 0)
          )
            v = VERDICT_ACCEPT
          else v = this.natHook(code >> RUN_ARG_SHIFT, packet, state)
          break
        }
        case RUN_KIND_CONNTRACK_IN:
          v = this.conntrackIn(packet, state, nowNs)
          break
        case RUN_KIND_CONFIRM:
          v = this.confirm(packet, state)
          break
        case RUN_KIND_ICMP_ONLY:
          // Its hookFn would return ACCEPT at once for any other protocol.
          v = packet.protocol === PROTOCOL_ICMP ? handlers[i].hookFn(packet, state) : VERDICT_ACCEPT
          break
        case RUN_KIND_SKIPS_IPVS_PROPERTY:
          // Its hookFn would return ACCEPT at once for the packet IPVS is sending on.
          v = packet === this.ipvsPropertyPacket ? VERDICT_ACCEPT : handlers[i].hookFn(packet, state)
          break
        default:
          v = handlers[i].hookFn(packet, state)
      }
      if (v !== VERDICT_ACCEPT) {
        this.stolenBy = v === VERDICT_STOLEN ? handlers[i] : null
        break
      }
    }
    // NF_STOLEN: the op owns the packet now, conntrack entry included (nf_hook_slow neither frees
    // nor continues it).
    if (v !== VERDICT_ACCEPT && v !== VERDICT_STOLEN) this.discard(packet)
    this.rulesEvaluated += this.costRules
    this.lastCostNs = this.rulesCostNs() + state.extraNs
    this.packetCostNs += this.lastCostNs
    return v
  }

  // Run order of each hook (rebuilt when the ops or the tables change): per op a code, its RunKind
  // with its argument (table id, NAT manip) above RUN_ARG_SHIFT, and its handler. The codes are a
  // plain array of small integers: one load per op, and no typed array's length, detach and
  // external-pointer checks in the per-pass loop. An iptables table with no built-in chain at a
  // hook, or never restored (kube-proxy leaves raw and mangle so), accepts without walking or
  // counting anything (traverse's first line), so it is left out: its simulated cost is zero
  // either way (no rule is evaluated). Tables are replaced, never changed in place, by restore
  // (copy-on-write, table.ts), so the tables array's identity tells when to rebuild.
  private runCodes: number[][] = []
  private runHandlers: NfHookHandler[][] = []
  private runTables: Table[] | null = null
  private runVersion = -1

  private buildRunOrder(): void {
    const tables = this.tables
    this.runCodes = []
    this.runHandlers = []
    for (let hook = 0; hook < this.hooks.ops.length; hook++) {
      const codes: number[] = []
      const handlers: NfHookHandler[] = []
      for (const op of this.hooks.ops[hook]) {
        const handler = op.handler
        let kind: number = RUN_KIND_OTHER
        let arg = 0
        if (handler instanceof IptTableOp) {
          const table = tables[handler.tableId]
          if (table.hookChains[hook] === null || !table.shown) continue
          kind = RUN_KIND_TABLE
          arg = handler.tableId
        } else if (handler instanceof IptNatOp) {
          kind = RUN_KIND_NAT
          arg = handler.manip
        } else if (handler instanceof ConntrackInOp) kind = RUN_KIND_CONNTRACK_IN
        else if (handler instanceof ConfirmOp) kind = RUN_KIND_CONFIRM
        else if (handler.icmpOnly === true) kind = RUN_KIND_ICMP_ONLY
        else if (handler.skipsIpvsProperty === true) kind = RUN_KIND_SKIPS_IPVS_PROPERTY
        codes.push(kind | (arg << RUN_ARG_SHIFT))
        handlers.push(handler)
      }
      this.runCodes.push(codes)
      this.runHandlers.push(handlers)
    }
    this.runTables = tables
    this.runVersion = this.hooks.version
  }

  /** The network hands over the handle of the packet the last runHook returned STOLEN for. */
  takeStolen(handle: number, packet: Packet, readyNs: number): void {
    const by = this.stolenBy
    this.stolenBy = null
    if (by === null || by.takeStolen === undefined)
      throw new Error("netfilter: a hook returned STOLEN but its handler takes no stolen packets")
    by.takeStolen(handle, packet, readyNs)
  }

  // -------------------------------------------------------------------------------------------
  // Built-in hook functions (the ops registered in the constructor)

  /**
   * ipv4_conntrack_in / ipv4_conntrack_local (nf_conntrack_proto.c) at PREROUTING and OUTPUT.
   * `nowNs` is state.nowNs; runHook passes its own argument on: a time above 2^31 ns read from the
   * state's field would be boxed into a new heap number for the call, once per packet.
   */
  conntrackIn(packet: Packet, state: NfHookState, nowNs: number = state.nowNs): Verdict {
    if (this.loopback) return VERDICT_ACCEPT
    const costs = this.costs
    state.extraNs += costs === null ? this.conntrackLookupCostNs : costs.conntrackLookup.sample(costs.rng)
    const before = this.conntrack.created
    const drop = this.conntrack.packetIn(packet, nowNs)
    if (drop >= 0) {
      this.lastDropReason = drop
      this.tracer?.conntrack(ConntrackEvent.TABLE_FULL, -1, packet)
      return VERDICT_DROP
    }
    if (this.conntrack.created !== before) {
      state.extraNs += costs === null ? this.conntrackNewCostNs : costs.conntrackNew.sample(costs.rng)
      this.tracer?.conntrack(ConntrackEvent.NEW, packet.ctId, packet)
    }
    return VERDICT_ACCEPT
  }

  // -------------------------------------------------------------------------------------------
  // Rule traversal (ipt_do_table)

  /** ipt_do_table; called by the table ops (IptTableOp). */
  traverse(table: Table, packet: Packet): Verdict {
    const start = table.hookChains[this.hook]
    if (start === null || !table.shown) return VERDICT_ACCEPT
    this.tableId = table.id
    // An empty built-in chain (userspace mode's filter OUTPUT and FORWARD, every packet): its
    // policy, counted, with no rule evaluated; what the walk below does for it, without the walk.
    if (start.rules.length === 0) return this.policy(start, packet)
    // The current pass's packet and hook for the matches (runHook leaves ctx to the walks).
    const ctx = this.ctx
    const state = this.state
    ctx.packet = packet
    ctx.inIfIndex = state.inIfIndex
    ctx.outIfIndex = state.outIfIndex
    ctx.nowNs = state.nowNs
    ctx.hook = this.hook
    if (this.memoEnabled && this.tracer === null) {
      let memo = this.memo
      if (memo === null) memo = this.memo = new WalkMemo()
      // A pure walk's outcome for this packet class (walk-memo.ts): counted and charged as walked.
      const v = memo.walk(table, this.hook, start, packet, ctx, this.counters)
      if (v >= 0) {
        this.chargeRules(memo.rules)
        if (v !== Verdict.ACCEPT) {
          this.lastDropReason = memo.dropReason
          if (v === Verdict.REJECT) this.lastRejectWith = memo.rejectWith
        }
        return v as Verdict
      }
    }
    let chain: Chain = start
    let pos = 0
    let depth = 0
    for (;;) {
      const i = this.firstMatch(chain, pos, packet)
      let kind: TargetKind
      let rule: Rule | null = null
      if (i < 0) {
        if (chain.builtin || depth === 0) return this.policy(start, packet)
        depth--
        chain = this.stackChains[depth] as Chain
        pos = this.stackPositions[depth]
        continue
      }
      rule = chain.rules[i]
      this.counters.rule(chain, i, packet.totalBytes)
      const target = rule.target
      kind = target.kind
      if (this.tracer !== null) this.tracer.rule(this.hook, table.id, chain, i, rule, kind)
      switch (kind) {
        case TARGET_KIND_NONE:
          pos = i + 1
          continue
        case TARGET_KIND_LOG:
          this.logCount++
          pos = i + 1
          continue
        case TARGET_KIND_ACCEPT:
          return VERDICT_ACCEPT
        case TARGET_KIND_DROP:
          this.lastDropReason = DROP_REASON_NETFILTER_DROP
          return VERDICT_DROP
        case TARGET_KIND_REJECT:
          this.lastDropReason = DROP_REASON_NETFILTER_REJECT
          this.lastRejectWith = target.rejectWith
          return VERDICT_REJECT
        case TARGET_KIND_RETURN:
          if (chain.builtin || depth === 0) return this.policy(start, packet)
          depth--
          chain = this.stackChains[depth] as Chain
          pos = this.stackPositions[depth]
          continue
        case TARGET_KIND_JUMP:
          if (depth >= JUMP_STACK_MAX) {
            this.lastDropReason = DROP_REASON_NETFILTER_DROP
            return VERDICT_DROP
          }
          this.stackChains[depth] = chain
          this.stackPositions[depth] = i + 1
          depth++
          chain = table.chains[chain.jumps[i]]
          pos = 0
          continue
        case TARGET_KIND_GOTO:
          chain = table.chains[chain.jumps[i]]
          pos = 0
          continue
        case TARGET_KIND_MARK:
          packet.mark = ((packet.mark & ~target.markMask) ^ target.markValue) >>> 0
          pos = i + 1
          continue
        case TARGET_KIND_NOTRACK:
          packet.untracked = true
          pos = i + 1
          continue
        case TARGET_KIND_DNAT:
        case TARGET_KIND_SNAT:
        case TARGET_KIND_MASQUERADE:
        case TARGET_KIND_REDIRECT:
          return this.natTarget(target, packet)
      }
    }
  }

  private policy(chain: Chain, packet: Packet): Verdict {
    this.counters.policy(chain, packet.totalBytes)
    if (this.tracer !== null)
      this.tracer.rule(
        this.hook,
        this.tableId,
        chain,
        -1,
        null,
        chain.policy === POLICY_DROP ? TARGET_KIND_DROP : TARGET_KIND_ACCEPT,
      )
    if (chain.policy === POLICY_DROP) {
      this.lastDropReason = DROP_REASON_NETFILTER_DROP
      return VERDICT_DROP
    }
    return VERDICT_ACCEPT
  }

  /**
   * Index of the first rule at or after `start` that matches, or -1. Charges, in `costRules`, the
   * rules a linear walk evaluates: up to and including the match, or to the end of the chain.
   */
  firstMatch(chain: Chain, start: number, packet: Packet): number {
    const rules = chain.rules
    const index = chain.index
    const ctx = this.ctx
    if (index === null) {
      for (let i = start; i < rules.length; i++) {
        if (rules[i].evaluate(ctx)) {
          this.chargeRules(i - start + 1)
          return i
        }
      }
      this.chargeRules(rules.length - start)
      return -1
    }
    const a = index.exactBucket(packet.dstAddr, packet.protocol, packet.dstPort)
    const b = index.portBucket(packet.protocol, packet.dstPort)
    const c = index.rest
    let ia = a.length === 0 ? 0 : lowerBound(a, start)
    let ib = b.length === 0 ? 0 : lowerBound(b, start)
    let ic = lowerBound(c, start)
    for (;;) {
      const va = ia < a.length ? a[ia] : 0x7fffffff
      const vb = ib < b.length ? b[ib] : 0x7fffffff
      const vc = ic < c.length ? c[ic] : 0x7fffffff
      let i: number
      if (va <= vb && va <= vc) {
        i = va
        ia++
      } else if (vb <= vc) {
        i = vb
        ib++
      } else {
        i = vc
        ic++
      }
      if (i === 0x7fffffff) break
      if (rules[i].evaluate(ctx)) {
        this.chargeRules(i - start + 1)
        return i
      }
    }
    this.chargeRules(rules.length - start)
    return -1
  }

  // -------------------------------------------------------------------------------------------
  /** Counts rules a linear walk evaluates (nat-table rules also apart: they cost differently). */
  private chargeRules(n: number): void {
    this.costRules += n
    if (this.tableId === TABLE_ID_NAT) this.costNatRules += n
  }

  // NAT

  /**
   * nf_nat_ipv4_fn / nf_nat_inet_fn (called by IptNatOp): for a NEW connection whose manip is not
   * set up yet, the hook's NAT lookups in priority order until one binds (else a null binding);
   * then nf_nat_packet.
   */
  natHook(manip: number, packet: Packet, state: NfHookState): Verdict {
    const outIfIndex = state.outIfIndex
    const nowNs = state.nowNs
    const id = packet.ctId
    if (id < 0) return VERDICT_ACCEPT
    const ct = this.conntrack
    if ((packet.ctState & CT_STATE_RELATED) !== 0) {
      if (packet.protocol === PROTOCOL_ICMP && isIcmpError(packet.icmpType))
        this.nat.icmpReplyTranslation(manip, packet)
      return VERDICT_ACCEPT
    }
    const doneBit = manip === MANIP_SRC ? CT_STATUS_SRC_NAT_DONE : CT_STATUS_DST_NAT_DONE
    if ((packet.ctState & CT_STATE_NEW) !== 0 && (ct.status[id] & doneBit) === 0) {
      this.natManip = manip
      this.natOutIf = outIfIndex
      this.natNowNs = nowNs
      // The packet's own clock for a racing entry's tuple-in-use tests (Conntrack.tupleTaken).
      ct.raceClockNs = nowNs + this.elapsedNs(state)
      const lookups = this.natLookups.ops[this.hook]
      for (let i = 0; i < lookups.length; i++) {
        const v = lookups[i].handler.hookFn(packet, state)
        if (v !== VERDICT_ACCEPT) return v
        if ((ct.status[id] & doneBit) !== 0) break
      }
      // nf_nat_alloc_null_binding: no rule bound this manip.
      if ((ct.status[id] & doneBit) === 0) this.nat.setupInfo(id, manip, null, -1, nowNs)
      packet.ctState |= ct.natStateBits(id)
      if (this.tracer !== null) this.tracer.conntrack(ConntrackEvent.NAT, id, packet)
    }
    this.nat.manipPacket(packet, id, packet.ctDirection, manip)
    return VERDICT_ACCEPT
  }

  private natManip: number = MANIP_DST
  private natOutIf = -1
  private natNowNs = 0

  private natTarget(target: Target, packet: Packet): Verdict {
    const id = packet.ctId
    const ct = this.conntrack
    const doneBit = this.natManip === MANIP_SRC ? CT_STATUS_SRC_NAT_DONE : CT_STATUS_DST_NAT_DONE
    if (id < 0 || (ct.status[id] & doneBit) !== 0) return VERDICT_ACCEPT
    const wantSrc = target.kind !== TARGET_KIND_DNAT && target.kind !== TARGET_KIND_REDIRECT
    if (wantSrc !== (this.natManip === MANIP_SRC)) return VERDICT_ACCEPT
    let address = -1
    if (target.kind === TARGET_KIND_MASQUERADE) {
      // masquerade_tg -> nf_nat_masquerade_ipv4: the out interface's primary address; none: drop.
      address = this.natOutIf >= 0 ? this.host.interfaceAddress(this.natOutIf) : 0
      if (address === 0) {
        this.lastDropReason = DROP_REASON_NETFILTER_DROP
        return VERDICT_DROP
      }
    } else if (target.kind === TARGET_KIND_REDIRECT) {
      // redirect_tg4 -> nf_nat_redirect_ipv4: 127.0.0.1 at OUTPUT, else the in interface's address.
      address = redirectAddress(this.host, this.hook, this.ctx.inIfIndex)
      if (address === 0) {
        this.lastDropReason = DROP_REASON_NETFILTER_DROP
        return VERDICT_DROP
      }
    }
    // A rule naming node parameters (ext/xt_nat.ts) binds with this node's values.
    const range = target.natPortParam >= 0 || target.natHostParam ? this.natParams.range(target) : target
    this.nat.setupInfo(id, this.natManip, range, address, this.natNowNs)
    return VERDICT_ACCEPT
  }

  /** Simulated CPU charged to the current packet in this namespace so far (earlier hooks + this one). */
  private elapsedNs(state: NfHookState): number {
    return this.packetCostNs + this.rulesCostNs() + state.extraNs
  }

  /** The rules walked in this hook pass so far, at this pass's per-rule costs (integer ns). */
  private rulesCostNs(): number {
    if (this.costRules === 0) return 0
    if (this.ruleCostsVary && !this.ruleCostsDrawn) {
      // Drawn once per hook pass, on first use: a pass that walks no rule draws nothing.
      const c = this.costs as NetfilterCostDraws
      this.ruleCostNowNs = c.filterRule.drawReal(c.rng)
      this.natRuleCostNowNs = c.natRule.drawReal(c.rng)
      this.ruleCostsDrawn = true
    }
    const nat = this.costNatRules
    return Math.round((this.costRules - nat) * this.ruleCostNowNs + nat * this.natRuleCostNowNs)
  }

  /**
   * ipv4_confirm / nf_conntrack_confirm (called by ConfirmOp at INPUT and POSTROUTING). The entry is
   * in the hash, in the kernel's time, once the hook costs charged so far have elapsed; a UDP clash
   * is resolved or dropped by Conntrack.confirm at the kernel's fix level (drop: insert_failed).
   */
  confirm(packet: Packet, state: NfHookState): Verdict {
    const id = packet.ctId
    if (id < 0 || this.conntrack.isConfirmed(id)) return VERDICT_ACCEPT
    const nowNs = state.nowNs
    const got = this.conntrack.confirm(id, nowNs, nowNs + this.elapsedNs(state))
    if (got < 0) {
      packet.ctId = -1
      this.lastDropReason = DROP_REASON_CONNTRACK_INSERT_FAILED
      this.tracer?.conntrack(ConntrackEvent.INSERT_FAILED, id, packet)
      return VERDICT_DROP
    }
    packet.ctId = got
    this.tracer?.conntrack(ConntrackEvent.CONFIRM, got, packet)
    return VERDICT_ACCEPT
  }
}

/** An iptables table's hook function at each of its hooks (iptable_*_hook -> ipt_do_table). */
// The hook ops' fields are read per packet: `declare`d and assigned in the constructor rather than
// parameter properties, which are first defined as undefined (see NetfilterStack's fields).
class IptTableOp implements NfHookHandler {
  declare private readonly stack: NetfilterStack
  declare readonly tableId: TableId
  constructor(stack: NetfilterStack, tableId: TableId) {
    this.stack = stack
    this.tableId = tableId
  }
  hookFn(packet: Packet): Verdict {
    // stack.tables is replaced by every restore: look the table up per call.
    return this.stack.traverse(this.stack.tables[this.tableId], packet)
  }
}

/** nf_nat_ipv4_in/out/local_fn: the nat table plus nf_nat_packet, DNAT (-100) or SNAT (+100). */
class IptNatOp implements NfHookHandler {
  declare private readonly stack: NetfilterStack
  declare readonly manip: number
  constructor(stack: NetfilterStack, manip: number) {
    this.stack = stack
    this.manip = manip
  }
  hookFn(packet: Packet, state: NfHookState): Verdict {
    return this.stack.natHook(this.manip, packet, state)
  }
}

/** The iptables nat table as a NAT core lookup (iptable_nat_do_chain -> ipt_do_table). */
class IptNatLookup implements NfHookHandler {
  declare private readonly stack: NetfilterStack
  constructor(stack: NetfilterStack) {
    this.stack = stack
  }
  hookFn(packet: Packet): Verdict {
    return this.stack.traverse(this.stack.tables[TableId.NAT], packet)
  }
}

class ConntrackInOp implements NfHookHandler {
  declare private readonly stack: NetfilterStack
  constructor(stack: NetfilterStack) {
    this.stack = stack
  }
  hookFn(packet: Packet, state: NfHookState): Verdict {
    return this.stack.conntrackIn(packet, state)
  }
}

class ConfirmOp implements NfHookHandler {
  declare private readonly stack: NetfilterStack
  constructor(stack: NetfilterStack) {
    this.stack = stack
  }
  hookFn(packet: Packet, state: NfHookState): Verdict {
    return this.stack.confirm(packet, state)
  }
}
