/**
 * How long one kube-proxy sync takes in simulated time, per proxy mode.
 *
 * A sync's duration is what the node's CPU spends between syncProxyRules starting and the kernel
 * holding the new rules; the rules take effect at the END of it (cluster/kube-proxy.ts applies the
 * restore then), and the BoundedFrequencyRunner does not start another sync before it ends
 * (proxy/sync.ts). Each mode's model is a pure function of the sync's size, so the published
 * growth curves (iptables: O(total rules) per sync; nftables and IPVS: O(changed)) come out of the
 * same inputs. Parameters, defaults and sources are listed in MODEL.md ("Sync cost").
 *
 * Not modelled: kube-proxy's own Go work (computing the service map, writing the buffers), the
 * xtables lock wait against other writers, CPU contention with the data plane, and the
 * superlinear growth libiptc shows past ~20,000 input lines (the per-line coefficient is a fit).
 */

import { Distribution, type DistributionSpec } from "../sim/distribution.ts"
import type { Rng } from "../sim/rng.ts"

/** The size of one sync, as each mode's cost model reads it. Fields a mode does not use are 0. */
export interface SyncWork {
  /**
   * Objects the kernel holds after the sync in what the sync replaces or reads back: iptables:
   * rules of the tables the restore writes (legacy iptables-restore reads the whole current table
   * and the kernel's translate_table walks the whole new one); nftables: rules, chains and set/map
   * elements of the `kube-proxy` table (nft's cache fetch); IPVS: virtual + real servers (the
   * proxier lists them over netlink every sync).
   */
  readonly objectsTotal: number
  /** iptables: lines of the iptables-restore input (chain declarations, -A and -X lines). */
  readonly objectsChanged: number
  /** nftables: commands in the `nft -f` transaction (add/flush/delete of chains, rules, elements). */
  readonly transactionCommands: number
  /** IPVS: netlink operations the sync issues (virtual/real server add, edit, delete; addresses). */
  readonly netlinkOperations: number
}

export type SyncCostMode = "iptables" | "nftables" | "ipvs"

export interface SyncCostModel {
  readonly mode: SyncCostMode
  /** Simulated duration of a sync of this size, integer ns (>= 0). */
  durationNs(work: SyncWork): number
}

/** iptables (legacy backend: the kernel replaces whole tables, IPT_SO_SET_REPLACE). */
export interface IptablesSyncCost {
  /** Per restore: process start, socket setup, commit. */
  readonly fixedNs: number
  /** Per rule of the written tables after the restore (read back + translate_table). */
  readonly perTableRuleNs: number
  /** Per line of the restore input (parse, libiptc chain edits). */
  readonly perInputLineNs: number
  /**
   * A calibration profile's distributions of fixedNs (iptablesRestoreBaseNs) and perTableRuleNs
   * (iptablesRestorePerRuleNs), drawn once per sync from the model's stream; the numbers above are
   * then their medians. Absent: the numbers are constants.
   */
  readonly fixedDistribution?: DistributionSpec
  readonly perTableRuleDistribution?: DistributionSpec
}

/**
 * Measured on this project's development machine (2-core VM, Debian kernel, iptables v1.8.9
 * legacy backend; figures and method in MODEL.md "Sync cost"): a 4-line --noflush
 * restore into a kube-proxy-shaped nat table of N rules (one user chain per ~2 rules) takes
 * 11 ms + 13.5 us x N (N = 10,000 .. 40,000: 147 / 281 / 553 ms); a full replace of 40,001 rules
 * (60,000 input lines) 983 ms, i.e. ~7 us per input line on top. Consistent with the published
 * order: "seconds per sync at 10k-20k Services" (proxy-modes.md §5, KEP-3453).
 */
export const DEFAULT_IPTABLES_SYNC_COST: IptablesSyncCost = {
  fixedNs: 11_000_000,
  perTableRuleNs: 13_500,
  perInputLineNs: 7_000,
}

/** nftables (`nft -f` transactions into the private `kube-proxy` table). */
export interface NftablesSyncCost {
  readonly fixedNs: number
  /** Per command of the transaction. */
  readonly perCommandNs: number
  /** Per object already in the table (nft's cache fetch before the transaction). */
  readonly perTableObjectNs: number
  /** Profile distributions of fixedNs (nftApplyBaseNs) and perCommandNs (nftApplyPerElementNs), drawn per sync. */
  readonly fixedDistribution?: DistributionSpec
  readonly perCommandDistribution?: DistributionSpec
}

/**
 * Measured on the same machine with `nft -f` (nftables v1.0.6, kernel 6.18): kube-proxy-shaped
 * transactions (per service: 2 chains, 4 rules, 1 verdict-map element = 7 commands). A first
 * transaction of 7,004 commands takes 0.29 s (~40 us per command); a 7-command transaction into a
 * table of 7,004 / 17,504 / 35,004 objects 45 / 68 / 113 ms (~2.4 us per object already in the
 * table: nft's cache fetch; ~28 ms fixed). Not modelled: nft 1.0.6's superlinear growth past
 * ~20,000 commands in one transaction (35,004: 3.3 s; 70,004: 48 s).
 */
export const DEFAULT_NFTABLES_SYNC_COST: NftablesSyncCost = {
  fixedNs: 28_000_000,
  perCommandNs: 40_000,
  perTableObjectNs: 2_400,
}

/** IPVS (netlink operations on the kernel's IPVS tables, plus ipset and iptables syncs). */
export interface IpvsSyncCost {
  readonly fixedNs: number
  /** Per netlink operation (IPVS_CMD_NEW_SERVICE / NEW_DEST / DEL_DEST ..., address add/del). */
  readonly perNetlinkOperationNs: number
  /** Per virtual/real server listed back (GetVirtualServers / GetRealServers every sync). */
  readonly perObjectNs: number
}

/**
 * Derived from the one published IPVS curve (proxy-modes.md §5, a secondary source reproducing a
 * vendor table, UNVERIFIED): adding a service costs 0.8 ms with 1 service and 1.52 ms with 20,000
 * (80,000 objects): ~9 ns per object listed back; the 0.8 ms for a one-service add (~8 netlink
 * operations: virtual server, real servers, kube-ipvs0 address, ipset entries) gives ~100 us per
 * operation. IPVS is not in this machine's kernel, so nothing here is measured.
 */
export const DEFAULT_IPVS_SYNC_COST: IpvsSyncCost = {
  fixedNs: 0,
  perNetlinkOperationNs: 100_000,
  perObjectNs: 9,
}

function checkParameters(mode: SyncCostMode, parameters: Readonly<Record<string, unknown>>): void {
  for (const [name, value] of Object.entries(parameters))
    if (typeof value !== "object" && !(Number.isSafeInteger(value) && (value as number) >= 0))
      throw new Error(`${mode} sync cost: ${name} must be a non-negative integer ns, got ${value}`)
}

function checkWork(work: SyncWork): void {
  for (const [name, value] of Object.entries(work))
    if (!(Number.isSafeInteger(value) && value >= 0))
      throw new Error(`sync work: ${name} must be a non-negative integer, got ${value}`)
}

/**
 * A sync's fixed part and per-unit cost: the constants, or draws (one per sync) from a profile's
 * distributions when the model has a stream. Fixed distributions draw nothing.
 */
class SyncDraws {
  private readonly fixed: Distribution | null
  private readonly perUnit: Distribution | null
  constructor(
    fixedSpec: DistributionSpec | undefined,
    perUnitSpec: DistributionSpec | undefined,
    private readonly rng: Rng | undefined,
  ) {
    this.fixed = rng !== undefined && fixedSpec !== undefined ? new Distribution(fixedSpec) : null
    this.perUnit = rng !== undefined && perUnitSpec !== undefined ? new Distribution(perUnitSpec) : null
  }
  fixedNs(constantNs: number): number {
    return this.fixed === null ? constantNs : this.fixed.sample(this.rng as Rng)
  }
  /** units x per-unit cost, rounded once (a per-unit draw may have a fraction of a ns). */
  unitsNs(units: number, constantNs: number): number {
    return this.perUnit === null ? units * constantNs : Math.round(units * this.perUnit.drawReal(this.rng as Rng))
  }
}

export class IptablesSyncCostModel implements SyncCostModel {
  readonly mode = "iptables"
  private readonly draws: SyncDraws
  /** `rng`: the stream profile distributions are drawn from (without it the numbers are constants). */
  constructor(
    readonly parameters: IptablesSyncCost = DEFAULT_IPTABLES_SYNC_COST,
    rng?: Rng,
  ) {
    checkParameters(this.mode, { ...parameters })
    this.draws = new SyncDraws(parameters.fixedDistribution, parameters.perTableRuleDistribution, rng)
  }
  durationNs(work: SyncWork): number {
    checkWork(work)
    const p = this.parameters
    return (
      this.draws.fixedNs(p.fixedNs) +
      this.draws.unitsNs(work.objectsTotal, p.perTableRuleNs) +
      p.perInputLineNs * work.objectsChanged
    )
  }
}

export class NftablesSyncCostModel implements SyncCostModel {
  readonly mode = "nftables"
  private readonly draws: SyncDraws
  constructor(
    readonly parameters: NftablesSyncCost = DEFAULT_NFTABLES_SYNC_COST,
    rng?: Rng,
  ) {
    checkParameters(this.mode, { ...parameters })
    this.draws = new SyncDraws(parameters.fixedDistribution, parameters.perCommandDistribution, rng)
  }
  durationNs(work: SyncWork): number {
    checkWork(work)
    const p = this.parameters
    return (
      this.draws.fixedNs(p.fixedNs) +
      this.draws.unitsNs(work.transactionCommands, p.perCommandNs) +
      p.perTableObjectNs * work.objectsTotal
    )
  }
}

export class IpvsSyncCostModel implements SyncCostModel {
  readonly mode = "ipvs"
  constructor(readonly parameters: IpvsSyncCost = DEFAULT_IPVS_SYNC_COST) {
    checkParameters(this.mode, { ...parameters })
  }
  durationNs(work: SyncWork): number {
    checkWork(work)
    const p = this.parameters
    return p.fixedNs + p.perNetlinkOperationNs * work.netlinkOperations + p.perObjectNs * work.objectsTotal
  }
}

/** Rules a table holds now, and rules a chain of it holds now (0 for a chain it does not have). */
export interface IptablesTableSizes {
  tableRules(table: string): number
  chainRules(table: string, chain: string): number
}

/**
 * The iptables model's inputs for restoring `restoreInput` with --noflush into tables of the given
 * sizes: `objectsTotal` is the rules the written tables hold AFTER the restore (a declared chain
 * is flushed and refilled by its -A lines, a -X chain goes, other chains keep theirs),
 * `objectsChanged` the input lines. Exact for kube-proxy's input, which declares every chain it
 * writes (nothing is inserted with -I or deleted with -D).
 */
export function iptablesSyncWork(restoreInput: string | readonly string[], current: IptablesTableSizes): SyncWork {
  let total = 0
  let lines = 0
  let table = ""
  let tableTotal = 0
  const flushed = new Set<string>()
  // Lines as the compiler produced them (no text to split), or the restore text.
  const allLines = typeof restoreInput === "string" ? restoreInput.split("\n") : restoreInput
  for (const line of allLines) {
    if (line.startsWith("*")) {
      table = line.slice(1).trim()
      tableTotal = current.tableRules(table)
      flushed.clear()
    } else if (line === "COMMIT") {
      total += tableTotal
    } else if (line.startsWith(":")) {
      lines++
      const chain = line.slice(1).split(" ")[0] as string
      if (!flushed.has(chain)) {
        flushed.add(chain)
        tableTotal -= current.chainRules(table, chain)
      }
    } else if (line.startsWith("-X ")) {
      lines++
      const chain = line.slice(3).trim()
      // A declared chain was flushed already; otherwise its rules go with it.
      if (!flushed.has(chain)) tableTotal -= current.chainRules(table, chain)
      flushed.add(chain)
    } else if (line.startsWith("-A ")) {
      lines++
      tableTotal++
    }
  }
  return { objectsTotal: total, objectsChanged: lines, transactionCommands: 0, netlinkOperations: 0 }
}

/**
 * The nftables model's inputs from an `nft -f` transaction (as knftables writes it, one command a
 * line; blank lines and comments are not commands) and the objects the `kube-proxy` table holds
 * before it (rules, chains, set/map elements; what nft's cache fetch reads).
 */
export function nftablesSyncWork(transaction: string, tableObjects: number): SyncWork {
  // A line is a command when its first character String.prototype.trim keeps is not "#": each
  // line's first characters are read, then indexOf finds the next line feed; no line is copied
  // (a character-by-character loop was 2x slower than split and trim on a 33 MB text, this is
  // about 15x faster).
  let commands = 0
  let i = 0
  while (i < transaction.length) {
    const c = transaction.charCodeAt(i)
    // A line feed here ends an empty or all-whitespace line; leading whitespace is skipped.
    if (c === NEWLINE || isTrimmedSpace(c)) {
      i++
      continue
    }
    if (c !== HASH) commands++
    const end = transaction.indexOf("\n", i)
    if (end === -1) break
    i = end + 1
  }
  return { objectsTotal: tableObjects, objectsChanged: commands, transactionCommands: commands, netlinkOperations: 0 }
}

const NEWLINE = 0x0a
const HASH = 0x23

/**
 * Whether String.prototype.trim removes this UTF-16 code unit: ECMAScript's WhiteSpace (tab,
 * vertical tab, form feed, space, no-break space, the byte order mark, Unicode's Zs) and
 * LineTerminator (line feed, carriage return, line and paragraph separators).
 */
function isTrimmedSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d)
  if (c < 0xa0) return false
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  )
}

/** What one changed Service costs the IPVS proxier in netlink operations. */
export interface IpvsServiceChange {
  /** IPVS_CMD_NEW_SERVICE / SET_SERVICE / DEL_SERVICE for its virtual servers. */
  readonly virtualServerOps: number
  /** IPVS_CMD_NEW_DEST / SET_DEST / DEL_DEST (weight 0 on graceful termination is a SET). */
  readonly realServerOps: number
  /** RTM_NEWADDR / RTM_DELADDR of its IPs on kube-ipvs0. */
  readonly addressOps: number
  /** ipset entries added or removed (IPSET_CMD_ADD / DEL). */
  readonly ipsetEntryOps: number
}

/**
 * The IPVS model's inputs: the netlink operations summed over the changed Services, and the
 * virtual + real servers the node holds (listed back every sync). The iptables rules IPVS mode
 * still writes are a separate iptables-restore: charge them with the iptables model and add.
 */
export function ipvsSyncWork(serversTotal: number, changes: readonly IpvsServiceChange[]): SyncWork {
  let operations = 0
  for (const c of changes) operations += c.virtualServerOps + c.realServerOps + c.addressOps + c.ipsetEntryOps
  return {
    objectsTotal: serversTotal,
    objectsChanged: changes.length,
    transactionCommands: 0,
    netlinkOperations: operations,
  }
}
