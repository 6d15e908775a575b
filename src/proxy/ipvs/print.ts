/**
 * Printers for IPVS mode's node state as the real tools print it: `ipvsadm -Ln` (and `--stats`,
 * `--rate`, `--exact`), `ipset list` / `ipset save`, and the iptables-save view of the chains
 * kube-proxy writes.
 *
 * ipvsadm: ipvsadm.c `list_all`, `print_title`, `print_service_entry`, `print_largenum`, and
 * libipvs.c `ipvs_cmp_services` / `ipvs_cmp_dests` (ipvsadm 1.26, Distrotech/ipvsadm @ 30528e6;
 * the "SCTP" protocol label is the one later ipvsadm releases print, 1.26 prints "UDP" for any
 * non-TCP service). ipvsadm sorts with glibc `qsort`, i.e. a top-down merge sort (msort.c), with
 * comparators that subtract unsigned addresses into an `int`: reproduced below, wrap-around included.
 * Not printed: the scheduler-flag suffix newer ipvsadm releases add (e.g. "(mh-port)" for mh).
 */
import { parseIpv4 } from "../../wire/ipv4.ts"
import type { IpsetContents, IpvsIptablesRule, IpvsJumpRule, IpvsProtocol, IpvsVirtualServer } from "./compile.ts"
import { FLAG_PERSISTENT, IPSET_HASH_SIZE, IPSET_MAX_ELEM, IPSET_PORT_RANGE, IPTABLES_CHAINS } from "./names.ts"
import type { IptablesTableName } from "./names.ts"
import type { IpvsNodeState } from "./reconcile.ts"

/** struct ip_vs_stats_user (ipvsadm --stats / --rate columns). */
export interface IpvsStats {
  readonly conns: number
  readonly inPackets: number
  readonly outPackets: number
  readonly inBytes: number
  readonly outBytes: number
  readonly connsPerSecond: number
  readonly inPacketsPerSecond: number
  readonly outPacketsPerSecond: number
  readonly inBytesPerSecond: number
  readonly outBytesPerSecond: number
}

export const ZERO_STATS: IpvsStats = {
  conns: 0,
  inPackets: 0,
  outPackets: 0,
  inBytes: 0,
  outBytes: 0,
  connsPerSecond: 0,
  inPacketsPerSecond: 0,
  outPacketsPerSecond: 0,
  inBytesPerSecond: 0,
  outBytesPerSecond: 0,
}

/** A destination as the kernel reports it (ip_vs_dest_entry). */
export interface IpvsadmDest {
  readonly address: string
  readonly port: number
  readonly weight: number
  readonly activeConns: number
  readonly inactiveConns: number
  readonly stats?: IpvsStats | undefined
}

/** A virtual service as the kernel reports it (ip_vs_service_entry), with its destinations. */
export interface IpvsadmService {
  readonly address: string
  readonly port: number
  readonly protocol: IpvsProtocol
  readonly scheduler: string
  readonly flags: number
  readonly timeoutSeconds: number
  readonly stats?: IpvsStats | undefined
  /** In kernel list order; ipvsadm sorts them unless --nosort. */
  readonly dests: readonly IpvsadmDest[]
}

export type IpvsadmFormat = "list" | "stats" | "rate"

export interface IpvsadmOptions {
  readonly format?: IpvsadmFormat
  /** --exact: full numbers instead of K/M/G/T. */
  readonly exact?: boolean
  /** --nosort: kernel order. */
  readonly noSort?: boolean
  /** ip_vs_conn_tab_size = 1 << CONFIG_IP_VS_TAB_BITS (default 12). */
  readonly connTabSize?: number
}

/** IP_VS_VERSION_CODE 0x010201 (include/net/ip_vs.h) as ipvsadm prints NVERSION(). */
const IPVS_VERSION = "1.2.1"
const DEFAULT_CONN_TAB_SIZE = 4096
const PROTO_NUMBER: Record<IpvsProtocol, number> = { TCP: 6, UDP: 17, SCTP: 132 }

function addressValue(text: string): number {
  return parseIpv4(text) ?? 0
}

/** libipvs.c `ipvs_cmp_services` (fwmark and af equal here): `int r = ntohl(a) - ntohl(b)` wraps. */
function compareServices(a: IpvsadmService, b: IpvsadmService): number {
  const protocol = PROTO_NUMBER[a.protocol] - PROTO_NUMBER[b.protocol]
  if (protocol !== 0) return protocol
  const address = (addressValue(a.address) - addressValue(b.address)) | 0
  if (address !== 0) return address
  return a.port - b.port
}

/** libipvs.c `ipvs_cmp_dests`. */
function compareDests(a: IpvsadmDest, b: IpvsadmDest): number {
  const address = (addressValue(a.address) - addressValue(b.address)) | 0
  if (address !== 0) return address
  return a.port - b.port
}

/**
 * glibc qsort's merge sort (stdlib/msort.c `msort_with_tmp`): split n/2, sort both halves, merge
 * taking from the left run while cmp <= 0. With ipvsadm's non-transitive comparators the result
 * depends on this exact algorithm, so it is reproduced rather than using Array.prototype.sort.
 */
export function glibcMergeSort<T>(items: readonly T[], compare: (a: T, b: T) => number): T[] {
  const out = [...items]
  const tmp: T[] = new Array<T>(out.length)
  const sort = (start: number, n: number): void => {
    if (n <= 1) return
    const n1 = n >>> 1
    const n2 = n - n1
    sort(start, n1)
    sort(start + n1, n2)
    let i = start
    let j = start + n1
    const iEnd = start + n1
    const jEnd = start + n
    let k = 0
    while (i < iEnd && j < jEnd) {
      if (compare(out[i], out[j]) <= 0) tmp[k++] = out[i++]
      else tmp[k++] = out[j++]
    }
    while (i < iEnd) tmp[k++] = out[i++]
    // The rest of the right run is already in place.
    for (let m = 0; m < k; m++) out[start + m] = tmp[m]
  }
  sort(0, out.length)
  return out
}

function padRight(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length)
}

function padLeft(text: string, width: number): string {
  return text.length >= width ? text : " ".repeat(width - text.length) + text
}

/** ipvsadm.c `print_largenum`: "%9llu" below 100 million, else "%8llu" plus K/M/G/T. */
export function largeNumber(value: number, exact: boolean): string {
  const n = Math.max(0, Math.floor(value))
  const text = String(n)
  if (exact) return padLeft(text, text.length <= 8 ? 9 : text.length + 1)
  if (n < 100_000_000) return padLeft(text, 9)
  if (n < 1_000_000_000) return `${padLeft(String(Math.floor(n / 1000)), 8)}K`
  if (n < 100_000_000_000) return `${padLeft(String(Math.floor(n / 1_000_000)), 8)}M`
  if (n < 100_000_000_000_000) return `${padLeft(String(Math.floor(n / 1_000_000_000)), 8)}G`
  return `${padLeft(String(Math.floor(n / 1_000_000_000_000)), 8)}T`
}

/** `ipvsadm -Ln` (format "list"), `-Ln --stats`, `-Ln --rate`. */
export function printIpvsadm(services: readonly IpvsadmService[], options: IpvsadmOptions = {}): string {
  const format = options.format ?? "list"
  const exact = options.exact === true
  const lines: string[] = []
  lines.push(`IP Virtual Server version ${IPVS_VERSION} (size=${options.connTabSize ?? DEFAULT_CONN_TAB_SIZE})`)
  if (format === "stats" || format === "rate") {
    const columns =
      format === "stats"
        ? ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"]
        : ["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"]
    lines.push(`${padRight("Prot LocalAddress:Port", 33)} ${columns.map((c) => padLeft(c, 8)).join(" ")}`)
    lines.push("  -> RemoteAddress:Port")
  } else {
    lines.push("Prot LocalAddress:Port Scheduler Flags")
    lines.push("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn")
  }
  const sorted = options.noSort === true ? services : glibcMergeSort(services, compareServices)
  for (const service of sorted) {
    // sprintf("%s  %s", proto, vname), truncated at 33 characters for IPv4.
    const name = `${service.protocol}  ${service.address}:${service.port}`.slice(0, 33)
    const stats = service.stats ?? ZERO_STATS
    if (format === "stats") {
      lines.push(
        padRight(name, 33) +
          [stats.conns, stats.inPackets, stats.outPackets, stats.inBytes, stats.outBytes]
            .map((v) => largeNumber(v, exact))
            .join(""),
      )
    } else if (format === "rate") {
      lines.push(
        padRight(name, 33) +
          [
            stats.connsPerSecond,
            stats.inPacketsPerSecond,
            stats.outPacketsPerSecond,
            stats.inBytesPerSecond,
            stats.outBytesPerSecond,
          ]
            .map((v) => largeNumber(v, exact))
            .join(""),
      )
    } else {
      // Netmask is 0xffffffff for every kube-proxy service (util/ipvs_linux.go toIPVSService), so no "mask".
      const persistent = (service.flags & FLAG_PERSISTENT) !== 0 ? ` persistent ${service.timeoutSeconds}` : ""
      lines.push(`${name} ${service.scheduler}${persistent}`)
    }
    const dests = options.noSort === true ? service.dests : glibcMergeSort(service.dests, compareDests)
    for (const dest of dests) {
      const dname = `${dest.address}:${dest.port}`.slice(0, 28)
      const d = dest.stats ?? ZERO_STATS
      if (format === "stats") {
        lines.push(
          `  -> ${padRight(dname, 28)}` +
            [d.conns, d.inPackets, d.outPackets, d.inBytes, d.outBytes].map((v) => largeNumber(v, exact)).join(""),
        )
      } else if (format === "rate") {
        // "  -> %-28s %8u %8u %8u" then print_largenum for the byte rates.
        const rates = [d.connsPerSecond, d.inPacketsPerSecond, d.outPacketsPerSecond]
          .map((v) => padLeft(String(Math.floor(v) >>> 0), 8))
          .join(" ")
        lines.push(
          `  -> ${padRight(dname, 28)} ${rates}${largeNumber(d.inBytesPerSecond, exact)}${largeNumber(d.outBytesPerSecond, exact)}`,
        )
      } else {
        // "  -> %-28s %-7s %-6d %-10u %-10u"; kube-proxy's real servers all forward with Masq (NAT).
        lines.push(
          `  -> ${padRight(dname, 28)} ${padRight("Masq", 7)} ${padRight(String(dest.weight), 6)} ${padRight(String(dest.activeConns), 10)} ${padRight(String(dest.inactiveConns), 10)}`,
        )
      }
    }
  }
  return `${lines.join("\n")}\n`
}

/** ipset create options kube-proxy passes (pkg/proxy/ipvs/ipset/ipset.go `createSet`). */
function createOptions(set: IpsetContents): string {
  return set.info.type === "bitmap:port"
    ? `range ${IPSET_PORT_RANGE}`
    : `family inet hashsize ${IPSET_HASH_SIZE} maxelem ${IPSET_MAX_ELEM}`
}

/** `ipset save` / the `ipset restore` input that recreates the sets. */
export function printIpsetSave(sets: readonly IpsetContents[]): string {
  const lines: string[] = []
  for (const set of sets) {
    lines.push(`create ${set.info.name} ${set.info.type} ${createOptions(set)}`)
    for (const entry of set.entries) lines.push(`add ${set.info.name} ${entry}`)
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`
}

/**
 * `ipset list`. References = the iptables rules that match on the set (each xt_set match holds one).
 * Omitted: the kernel-dependent `Revision:`, `Size in memory:` lines and the `bucketsize`/`initval`
 * header fields of kernels >= 5.11 (hash seed and allocation sizes are not modelled).
 */
export function printIpsetList(sets: readonly IpsetContents[], rules: readonly IpvsIptablesRule[]): string {
  const references = new Map<string, number>()
  for (const r of rules) {
    // A rule can name a set once per `--match-set`; kube-proxy's rules name at most one.
    if (r.matchSet !== "") references.set(r.matchSet, (references.get(r.matchSet) ?? 0) + 1)
  }
  const blocks: string[] = []
  for (const set of sets) {
    const lines = [
      `Name: ${set.info.name}`,
      `Type: ${set.info.type}`,
      `Header: ${createOptions(set)}`,
      `References: ${references.get(set.info.name) ?? 0}`,
      `Number of entries: ${set.entries.length}`,
      "Members:",
      ...set.entries,
    ]
    blocks.push(lines.join("\n"))
  }
  return blocks.length === 0 ? "" : `${blocks.join("\n\n")}\n`
}

const BUILTIN: Record<IptablesTableName, readonly string[]> = {
  nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
  filter: ["INPUT", "FORWARD", "OUTPUT"],
}

/**
 * The iptables-save view of the nat and filter tables as IPVS mode leaves them on an otherwise empty
 * node: built-in chains (policy ACCEPT) with kube-proxy's jump rules (each inserted at position 1,
 * so the last one ensured comes first), then the kube-proxy chains sorted by name as libiptc keeps
 * user chains, then their rules. Rule arguments are printed as kube-proxy wrote them (the project's
 * iptables-save keeps tokens as given, see src/netfilter/rule.ts). Tables in the order the restore
 * payload commits them (nat, then filter). Counters are all zero.
 */
export function printIptablesSave(rules: readonly IpvsIptablesRule[], jumpRules: readonly IpvsJumpRule[]): string {
  const out: string[] = []
  for (const table of ["nat", "filter"] as const) {
    out.push(`*${table}`)
    const chains = IPTABLES_CHAINS.filter((c) => c.table === table)
      .map((c) => c.chain)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    for (const builtin of BUILTIN[table]) out.push(`:${builtin} ACCEPT [0:0]`)
    for (const chain of chains) out.push(`:${chain} - [0:0]`)
    for (const builtin of BUILTIN[table]) {
      const jumps = jumpRules.filter((j) => j.table === table && j.chain === builtin).reverse()
      for (const jump of jumps) out.push(`-A ${builtin} ${jump.spec}`)
    }
    for (const chain of chains) {
      for (const r of rules) if (r.table === table && r.chain === chain) out.push(`-A ${chain} ${r.spec}`)
    }
    out.push("COMMIT")
  }
  return `${out.join("\n")}\n`
}

/** Live counters for `ipvsadm` columns, keyed by VirtualServer.String() and "IP:port". */
export interface IpvsCounterSource {
  service(key: string): IpvsStats | undefined
  dest(
    serviceKey: string,
    dest: string,
  ): { activeConns: number; inactiveConns: number; stats?: IpvsStats | undefined } | undefined
}

/** The services a compile result programs, as ipvsadm would list them (counters from `counters`, else zero). */
export function ipvsadmServices(
  virtualServers: readonly IpvsVirtualServer[],
  counters?: IpvsCounterSource,
): IpvsadmService[] {
  return virtualServers.map((vs) => ({
    address: vs.address,
    port: vs.port,
    protocol: vs.protocol,
    scheduler: vs.scheduler,
    flags: vs.flags,
    timeoutSeconds: vs.timeoutSeconds,
    stats: counters?.service(vs.key),
    dests: vs.realServers.map((rs) => {
      const live = counters?.dest(vs.key, `${rs.address}:${rs.port}`)
      return {
        address: rs.address,
        port: rs.port,
        weight: rs.weight,
        activeConns: live?.activeConns ?? 0,
        inactiveConns: live?.inactiveConns ?? 0,
        stats: live?.stats,
      }
    }),
  }))
}

export interface IpvsRulesOptions extends IpvsadmOptions {
  readonly counters?: IpvsCounterSource
  /** What the kernel holds (e.g. `ipvsadmFromNodeState`); default: the compiled virtual servers. */
  readonly services?: readonly IpvsadmService[]
}

/**
 * What `kube-netsim rules` prints for a node in IPVS mode: each tool's output under a `# <command>`
 * line: the kube-ipvs0 addresses (as `ip -4 -o addr show dev kube-ipvs0` would list them, one /32
 * each), `ipvsadm -Ln` (or `--stats` / `--rate`), `ipset list`, `iptables-save`.
 */
export function printIpvsRules(
  result: {
    readonly dummyAddresses: readonly string[]
    readonly virtualServers: readonly IpvsVirtualServer[]
    readonly ipsets: readonly IpsetContents[]
    readonly rules: readonly IpvsIptablesRule[]
    readonly jumpRules: readonly IpvsJumpRule[]
  },
  options: IpvsRulesOptions = {},
): string {
  const format = options.format ?? "list"
  const flag = format === "stats" ? " --stats" : format === "rate" ? " --rate" : ""
  const sections = [
    `# kube-ipvs0 addresses\n${result.dummyAddresses.map((a) => `${a}/32\n`).join("")}`,
    `# ipvsadm -Ln${flag}${options.exact === true ? " --exact" : ""}\n${printIpvsadm(options.services ?? ipvsadmServices(result.virtualServers, options.counters), options)}`,
    `# ipset list\n${printIpsetList(result.ipsets, result.rules)}`,
    `# iptables-save\n${printIptablesSave(result.rules, result.jumpRules)}`,
  ]
  return sections.join("\n")
}

/**
 * What ipvsadm lists on a node whose IPVS state is `state` (reconcile.ts): the programmed virtual
 * servers with the kernel's destination list, weight-0 (terminating) destinations included, and the
 * kernel's connection counts carried in the state (stats from `counters`).
 */
export function ipvsadmFromNodeState(state: IpvsNodeState, counters?: IpvsCounterSource): IpvsadmService[] {
  const out: IpvsadmService[] = []
  for (const vs of state.virtualServers.values()) {
    out.push({
      address: vs.address,
      port: vs.port,
      protocol: vs.protocol,
      scheduler: vs.scheduler,
      flags: vs.flags,
      timeoutSeconds: vs.timeoutSeconds,
      stats: counters?.service(vs.key),
      dests: vs.realServers.map((rs) => ({
        address: rs.address,
        port: rs.port,
        weight: rs.weight,
        activeConns: rs.activeConns,
        inactiveConns: rs.inactiveConns,
        stats: counters?.dest(vs.key, `${rs.address}:${rs.port}`)?.stats,
      })),
    })
  }
  return out
}
