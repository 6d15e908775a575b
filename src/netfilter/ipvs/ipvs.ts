/**
 * The kernel's IPVS for one network namespace, standalone: virtual services, real servers, the
 * connection table with its per-protocol state timeouts, persistence templates, and the decisions
 * ip_vs_in()/ip_vs_out() take for a packet (net/netfilter/ipvs/ip_vs_core.c, ip_vs_conn.c,
 * ip_vs_ctl.c, ip_vs_proto_tcp.c, ip_vs_proto_udp.c). Transmission (the NAT rewrite and the
 * nf_conntrack reply alteration) is the caller's: `packetIn` returns XMIT with the connection id
 * whose dest address/port the packet is to be DNATed to, which the netfilter hook host does at
 * LOCAL_IN / LOCAL_OUT in the next round.
 *
 * Connections live in typed-array columns indexed by integer ids, found through a chained hash of
 * (protocol, client addr:port, VIP:port) for the inbound direction and of (protocol, real server
 * addr:port, client addr:port) for replies. Expiry is exact and in time order: every connection has
 * at most one entry in a binary min-heap of deadlines; a popped entry whose connection was refreshed
 * since is pushed again at its new deadline (the kernel re-arms a timer, mod_timer, per packet).
 */
import { assert } from "../../sim/assert.ts"
import { NS_PER_S } from "../../sim/time.ts"
import { Protocol, TcpFlag } from "../../wire/protocol.ts"
import {
  DEST_F_AVAILABLE,
  DEST_F_OVERLOAD,
  DestColumns,
  DestCounts,
  ServiceCounts,
  STAT_CONNS,
  STAT_IN_BYTES,
  STAT_IN_PKTS,
  STAT_OUT_BYTES,
  STAT_OUT_PKTS,
  STAT_WORDS,
} from "./dest.ts"
import {
  type Scheduler,
  SchedState,
  SvcFlag,
  schedAddDest,
  schedDelDest,
  schedInit,
  initialSchedState,
  schedUpdDest,
  schedule,
  schedulesInPlace,
  MH_TAB_INDEX_DEFAULT,
} from "./schedulers.ts"

/** IP_VS_TCP_S_* (include/net/ip_vs.h); the column order of ip_vs_proto_tcp.c tcp_states[]. */
export const IpvsTcpState = {
  NONE: 0,
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT: 4,
  TIME_WAIT: 5,
  CLOSE: 6,
  CLOSE_WAIT: 7,
  LAST_ACK: 8,
  LISTEN: 9,
  SYNACK: 10,
} as const
export const IPVS_TCP_STATE_NAMES = [
  "NONE",
  "ESTABLISHED",
  "SYN_SENT",
  "SYN_RECV",
  "FIN_WAIT",
  "TIME_WAIT",
  "CLOSE",
  "CLOSE_WAIT",
  "LAST_ACK",
  "LISTEN",
  "SYNACK",
] as const
/** IP_VS_UDP_S_NORMAL: the only UDP state. */
export const IPVS_UDP_STATE_NORMAL = 0

/** ip_vs_proto_tcp.c tcp_timeouts[] and ip_vs_proto_udp.c udp_timeouts[] (seconds). */
export interface IpvsTimeouts {
  /** Indexed by IpvsTcpState. */
  readonly tcpNs: readonly number[]
  readonly udpNs: number
}

export const LINUX_IPVS_TIMEOUTS: IpvsTimeouts = {
  tcpNs: [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120].map((s) => s * NS_PER_S),
  udpNs: 300 * NS_PER_S,
}

/**
 * `ipvsadm --set tcp tcpfin udp` (ip_vs_ctl.c ip_vs_set_timeout): tcp -> ESTABLISHED, tcpfin ->
 * FIN_WAIT, udp -> UDP NORMAL; 0 keeps the current value. kube-proxy calls it with
 * ipvs.tcpTimeout/tcpFinTimeout/udpTimeout only when one of them is non-zero.
 */
export function withIpvsTimeouts(base: IpvsTimeouts, tcpS: number, tcpFinS: number, udpS: number): IpvsTimeouts {
  const tcpNs = base.tcpNs.slice()
  if (tcpS > 0) tcpNs[IpvsTcpState.ESTABLISHED] = tcpS * NS_PER_S
  if (tcpFinS > 0) tcpNs[IpvsTcpState.FIN_WAIT] = tcpFinS * NS_PER_S
  return { tcpNs, udpNs: udpS > 0 ? udpS * NS_PER_S : base.udpNs }
}

/** IP_VS_CONN_F_* bits this model uses (include/uapi/linux/ip_vs.h). */
export const ConnFlag = {
  /** IP_VS_CONN_F_MASQ: NAT forwarding (the only method kube-proxy uses). */
  MASQ: 0x0000,
  TEMPLATE: 0x1000,
  NOOUTPUT: 0x0400,
  INACTIVE: 0x0800,
  /** IP_VS_CONN_F_NFCT: "use netfilter conntrack" (sysctl conntrack=1 at creation). */
  NFCT: 0x100000,
} as const
/** Model-only bit: a template invalidated by ip_vs_check_template (unhashed, dies with its last user). */
const CONN_INVALID = 0x40000000

/**
 * The sysctls in Documentation/networking/ipvs-sysctl.rst that change packet handling. Defaults are
 * the kernel's; kube-proxy's IPVS mode sets conntrack=1, expire_nodest_conn=1,
 * expire_quiescent_template=1 at start (and conn_reuse_mode=0 only on kernels < 5.9).
 */
export interface IpvsOptions {
  /** net.ipv4.vs.conntrack (default 0). */
  readonly conntrack?: boolean
  /** net.ipv4.vs.conn_reuse_mode (default 1). */
  readonly connReuseMode?: number
  /** net.ipv4.vs.expire_nodest_conn (default 0). */
  readonly expireNodestConn?: boolean
  /** net.ipv4.vs.expire_quiescent_template (default 0). */
  readonly expireQuiescentTemplate?: boolean
  readonly timeouts?: IpvsTimeouts
  /**
   * Kernel has commit "ipvs: allow connection reuse for unconfirmed conntrack" (Linux 5.9,
   * ip_vs_conn_uses_old_conntrack): a reused port is rescheduled without dropping the SYN when the
   * packet's conntrack is new. Older kernels (false) drop that SYN whenever the connection uses
   * conntrack: the client's SYN retransmit gives the known 1 s delay (kubernetes#81775). Default true.
   */
  readonly kernelConnReuseFix?: boolean
  /**
   * Kernel has commit 04231e52d355 (Linux 5.9, "ipvs: queue delayed work to expire no destination
   * connections if expire_nodest_conn=1"): deleting a dest with expire_nodest_conn=1 queues
   * ip_vs_expire_nodest_conn_flush, which deletes every connection to an unavailable dest (and
   * templates left without users) without waiting for their next packet. The work runs a jiffy
   * later; here it runs at the deletion. Default true.
   */
  readonly kernelExpireNodestFlush?: boolean
  /** CONFIG_IP_VS_MH_TAB_INDEX (default 12 => Maglev table of 4093 entries). */
  readonly mhTabIndex?: number
}

/**
 * What the nf_conntrack side must do for IPVS connections with IP_VS_CONN_F_NFCT (ip_vs_nfct.c).
 * An object given once at construction; src/netfilter/conntrack.ts can implement it with
 * `deleteWhere` (drop) and `setReply` (alter reply) in the next round.
 */
export interface IpvsConntrackLink {
  /** ip_vs_conn_drop_conntrack: the IPVS connection expired, kill the matching conntrack entry. */
  dropConntrack(protocol: number, caddr: number, cport: number, vaddr: number, vport: number): void
}

/** What `packetIn` decided (the hook's verdict). */
export const IpvsVerdict = {
  /** Not an IPVS packet (no connection and no virtual service, or a TCP non-SYN): NF_ACCEPT. */
  ACCEPT: 0,
  /** Hand to the NAT transmitter: DNAT to the connection's dest (`lastConn`). NF_STOLEN. */
  XMIT: 1,
  /** Dropped: a reused/no-dest connection whose packet holds a confirmed (old) conntrack. */
  DROP_OLD_CONNTRACK: 2,
  /** Dropped: the connection's dest was deleted and expire_nodest_conn is 0. */
  DROP_NO_DEST: 3,
  /** Service without an available dest: ip_vs_leave sends ICMP port unreachable (TCP and UDP) and drops. */
  LEAVE_UNREACHABLE: 4,
} as const
export type IpvsVerdict = (typeof IpvsVerdict)[keyof typeof IpvsVerdict]

export interface VirtualServiceSpec {
  readonly protocol: number
  readonly addr: number
  readonly port: number
  readonly scheduler: Scheduler
  /** IP_VS_SVC_F_* (PERSISTENT 0x1, SCHED1 0x8, SCHED2 0x10 ...). */
  readonly flags?: number
  /** Persistence timeout in seconds (ipvsadm -p; kube-proxy: ClientIP timeoutSeconds). Default 300. */
  readonly timeoutS?: number
  /** Persistence netmask (ipvsadm -M), default 255.255.255.255. */
  readonly netmask?: number
}

/** ipvsadm -Ln --stats columns; also the Conns/InPkts... per real server. */
export interface IpvsStats {
  conns: number
  inPkts: number
  outPkts: number
  inBytes: number
  outBytes: number
}

/**
 * What defines a virtual service apart from its real servers (ip_vs_service's protocol, address,
 * port, scheduler, flags, persistence timeout and netmask): immutable and interned, so the nodes
 * programming the same Service hold one object (`virtualServiceDef`).
 */
export interface VirtualServiceDef {
  readonly protocol: number
  readonly addr: number
  readonly port: number
  readonly scheduler: Scheduler
  readonly flags: number
  readonly timeoutNs: number
  readonly netmask: number
}

/** A service's dest list before its first dest. */
const NO_DESTS: readonly number[] = []

const serviceDefs = new Map<string, WeakRef<VirtualServiceDef>>()

/** The one object for these values (a registry of weak references: unused ones are collected). */
function virtualServiceDef(
  protocol: number,
  addr: number,
  port: number,
  scheduler: Scheduler,
  flags: number,
  timeoutNs: number,
  netmask: number,
): VirtualServiceDef {
  const key = `${protocol}/${addr}/${port}/${scheduler}/${flags}/${timeoutNs}/${netmask}`
  const known = serviceDefs.get(key)?.deref()
  if (known !== undefined) return known
  const def: VirtualServiceDef = { protocol, addr, port, scheduler, flags, timeoutNs, netmask }
  serviceDefs.set(key, new WeakRef(def))
  return def
}

/**
 * A virtual service's per-node state: its ip_vs_stats and, for schedulers that write their state
 * when they schedule (rr, wrr), the node's own scheduler state (null until its first schedule).
 * Created when the node schedules its first connection to the service (Ipvs.serviceCounts).
 */
class NodeService extends ServiceCounts {
  sched: SchedState | null = null
}

/** The statistics of a service the node never scheduled to. */
const NO_SERVICE_COUNTS: IpvsStats = Object.freeze(new ServiceCounts())

/**
 * A virtual service of a kernel table state: the shared definition, the dest list (itself shared
 * where equal) and the scheduler state the control plane keeps (the shared initial one for rr, lc
 * and wlc). Shared by the nodes holding the same tables; packets never write it: statistics and
 * the rr/wrr position are the node's (Ipvs.serviceCounts, Ipvs.schedFor). The definition's fields
 * read as fields (accessors), as the packet path reads them.
 */
export class VirtualService {
  /**
   * svc->destinations in list order (index 0 = first after the head). Never modified in place: a
   * dest change replaces it (destListWith/destListWithout), so equal lists on nodes that made the
   * same changes are one array.
   */
  dests: readonly number[] = NO_DESTS
  deleted = false

  // `declare`d and assigned in the constructor rather than parameter properties, which are first
  // defined as undefined, so V8 tracks them as any value (see sim/empty.ts).
  declare readonly id: number
  declare def: VirtualServiceDef
  declare sched: SchedState

  constructor(id: number, def: VirtualServiceDef, sched: SchedState) {
    this.id = id
    this.def = def
    this.sched = sched
  }

  get protocol(): number {
    return this.def.protocol
  }
  get addr(): number {
    return this.def.addr
  }
  get port(): number {
    return this.def.port
  }
  get scheduler(): Scheduler {
    return this.def.scheduler
  }
  get flags(): number {
    return this.def.flags
  }
  get timeoutNs(): number {
    return this.def.timeoutNs
  }
  get netmask(): number {
    return this.def.netmask
  }

  /** This service in a node's own copy of shared tables (Ipvs.ownTables). */
  cloneForNode(): VirtualService {
    const c = new VirtualService(this.id, this.def, this.sched.clone())
    c.dests = this.dests
    c.deleted = this.deleted
    return c
  }
}

/** One `ipvsadm -Ln --stats` real-server row, for printers. */
export interface RealServerSnapshot extends IpvsStats {
  readonly addr: number
  readonly port: number
  readonly weight: number
  readonly activeConns: number
  readonly inactConns: number
  readonly persistConns: number
}

export interface VirtualServiceSnapshot extends IpvsStats {
  readonly protocol: number
  readonly addr: number
  readonly port: number
  readonly scheduler: Scheduler
  readonly flags: number
  readonly timeoutS: number
  readonly netmask: number
  readonly realServers: readonly RealServerSnapshot[]
}

/** One `ipvsadm -Lnc` row. */
export interface ConnectionSnapshot {
  readonly protocol: number
  readonly template: boolean
  readonly state: string
  readonly expiresInNs: number
  readonly caddr: number
  readonly cport: number
  readonly vaddr: number
  readonly vport: number
  readonly daddr: number
  readonly dport: number
}

// tcp_states[] of ip_vs_proto_tcp.c: [direction][event][state]; events syn, fin, ack, rst.
const sNO = 0,
  sES = 1,
  sSS = 2,
  sSR = 3,
  sFW = 4,
  sTW = 5,
  sCL = 6,
  sCW = 7,
  sLA = 8,
  sLI = 9,
  sSA = 10
void sNO
const TCP_STATES: readonly (readonly (readonly number[])[])[] = [
  // INPUT
  [
    /*syn*/ [sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR],
    /*fin*/ [sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW],
    /*ack*/ [sCL, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES],
    /*rst*/ [sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR],
  ],
  // OUTPUT
  [
    /*syn*/ [sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR],
    /*fin*/ [sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW],
    /*ack*/ [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES],
    /*rst*/ [sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL],
  ],
  // INPUT-ONLY
  [
    /*syn*/ [sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR],
    /*fin*/ [sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW],
    /*ack*/ [sCL, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES],
    /*rst*/ [sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL],
  ],
]
// Module-local copies of the imported constants the per-packet functions read (a property of an
// imported object, or an imported binding, is a load through the other module in every call V8
// does not inline).
const PROTOCOL_TCP = Protocol.TCP
const PROTOCOL_UDP = Protocol.UDP
const TCP_FLAG_FIN = TcpFlag.FIN
const TCP_FLAG_SYN = TcpFlag.SYN
const TCP_FLAG_RST = TcpFlag.RST
const TCP_FLAG_ACK = TcpFlag.ACK
const F_AVAILABLE = DEST_F_AVAILABLE
const S_IN_PKTS = STAT_IN_PKTS
const S_IN_BYTES = STAT_IN_BYTES
const S_OUT_PKTS = STAT_OUT_PKTS
const S_OUT_BYTES = STAT_OUT_BYTES

const DIR_INPUT = 0
const DIR_OUTPUT = 1
const DIR_INPUT_ONLY = 2

// Connection record layout (Ipvs.cw, int32 words; the float64 view cns at id * CN): the words a
// packet of an existing connection reads (keys, flags, protocol, dest, stats slot, timer) first.
/** float64 index of the connection's timeout (cp->timeout) and of its timer deadline. */
const N_TIMEOUT = 0
const N_EXPIRES = 1
const O_CADDR = 4
const O_VADDR = 5
/** cport << 16 | vport */
const O_CVPORTS = 6
const O_IN_NEXT = 7
const O_DADDR = 8
/** dport << 16 | cport */
const O_DCPORTS = 9
const O_OUT_NEXT = 10
const O_FLAGS = 11
const O_PROTO = 12
const O_DEST = 13
/** The connection's dest's slot in `counts` (valid while its dest is >= 0). */
const O_SLOT = 14
/** 1: the id has an entry in the timer heap; a released id is reused only after that entry pops. */
const O_IN_HEAP = 15
/** Where the id's heap entry sits (valid while O_IN_HEAP is 1), so a timer can move earlier. */
const O_HEAP_POS = 16
const O_STATE = 17
const O_CONTROL = 18
const O_N_CONTROL = 19
const O_IN_USE = 20
const O_IN_HASHED = 21
/** Words per record (88 bytes, a multiple of 8 for the float64 view). */
const CW = 22
const CN = CW / 2

/** tcp_state_idx: rst > syn > fin > ack; -1 for none. */
function tcpStateIdx(flags: number): number {
  if ((flags & TCP_FLAG_RST) !== 0) return 3
  if ((flags & TCP_FLAG_SYN) !== 0) return 0
  if ((flags & TCP_FLAG_FIN) !== 0) return 1
  if ((flags & TCP_FLAG_ACK) !== 0) return 2
  return -1
}

/** ip_vs_conn_new: a connection's timer before the first state transition. */
const NEW_CONN_TIMEOUT_NS = 3 * NS_PER_S
const DEFAULT_PERSIST_TIMEOUT_S = 300
/** FTPPORT in ip_vs_core.c. */
const FTP_PORT = 21
/**
 * Initial hash buckets (log2): few, since the table doubles as connections arrive and most nodes'
 * IPVS never holds many (4,096 were 32 KiB per node of empty heads at thousands of nodes).
 */
const HASH_BITS = 4
/**
 * Below this many buckets the table doubles at a quarter full, so a lookup that misses (every new
 * flow's ip_vs_conn_in_get) walks as little as in the 4,096 buckets every table used to start with;
 * from there it doubles when full, as before.
 */
const FULL_LOAD_BUCKETS = 4096
/** Slots of the out-lookup filter (Ipvs.outPorts): 4 KiB per namespace that has connections. */
const OUT_PORT_SLOTS = 1024
/** The filter of a namespace without connections: all zero, shared, never written. */
const NO_OUT_PORTS = new Int32Array(OUT_PORT_SLOTS)

/** The shared empty filter and dest list are still empty (a test's guard against a write to them). */
export function sharedIpvsStateIntact(): boolean {
  return NO_OUT_PORTS.every((v) => v === 0) && NO_DESTS.length === 0
}

/**
 * The out-lookup filter slot of a (real-server port, client address) pair: the two parts of the
 * out key that tell most packets apart from a node's connections (a reply routed through a node
 * towards a client of another node carries the real server's port but not one of this node's
 * clients).
 */
function outSlot(port: number, caddr: number): number {
  return Math.imul(caddr ^ (port << 16) ^ port, 0x9e3779b1) >>> 22
}

function protoIndex(protocol: number): number {
  if (protocol === PROTOCOL_TCP) return 0
  if (protocol === PROTOCOL_UDP) return 1
  if (protocol === 132) return 2 // SCTP: services accepted (kube-proxy programs them), traffic not modelled
  return -1
}

function serviceKey(protocol: number, addr: number, port: number): number {
  return (protoIndex(protocol) * 0x1_0000_0000 + (addr >>> 0)) * 0x10000 + port
}

function mix(a: number, b: number, c: number, d: number, e: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b)
  h = Math.imul(h ^ b ^ (h >>> 13), 0xc2b2ae35)
  h = Math.imul(h ^ c ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ d ^ (h >>> 13), 0xc2b2ae35)
  h = Math.imul(h ^ e ^ (h >>> 16), 0x85ebca6b)
  // Signed: every use takes `h & mask` (the bucket) and `h >>> 27` (the summary bit), the same
  // bits as the unsigned value's, and an int32 result stays a small integer where V8 does not
  // inline this (an unsigned one above 2^31 would be returned as a heap number).
  return h ^ (h >>> 15)
}

/** The in-table hash of (protocol, client addr:port, VIP:port): bucket in its low bits. */
function inHashOf(protocol: number, caddr: number, cport: number, vaddr: number, vport: number): number {
  return mix(protocol, caddr, cport, vaddr, vport)
}

/** The out-table hash of (protocol, real server addr:port, client addr:port). */
function outHashOf(protocol: number, daddr: number, dport: number, caddr: number, cport: number): number {
  return mix(protocol ^ 0x100, daddr, dport, caddr, cport)
}

/** Bucket heads for `buckets` empty chains: (-1, summary 0) pairs. */
function emptyHeads(buckets: number): Int32Array {
  const heads = new Int32Array(2 * buckets)
  for (let b = 0; b < buckets; b++) heads[2 * b] = -1
  return heads
}

/**
 * The lists each list became by one change (the dest id added at the head: key id; the dest at
 * index i removed: key -1 - i), so that nodes making the same changes to the same list share the
 * result (their dest ids are equal when their control-plane histories are). Weak both ways: an
 * entry lives as long as its list and does not keep the result alive.
 */
const destListNext = new WeakMap<readonly number[], Map<number, WeakRef<readonly number[]>>>()

function nextDestList(list: readonly number[], key: number, make: () => readonly number[]): readonly number[] {
  let next = destListNext.get(list)
  if (next === undefined) destListNext.set(list, (next = new Map()))
  const known = next.get(key)?.deref()
  if (known !== undefined) return known
  const made = make()
  next.set(key, new WeakRef(made))
  return made
}

/** list_add_rcu: `id` at the head. */
function destListWith(list: readonly number[], id: number): readonly number[] {
  return nextDestList(list, id, () => [id, ...list])
}

/** list_del_rcu of the dest at index `idx`. */
function destListWithout(list: readonly number[], idx: number): readonly number[] {
  return nextDestList(list, -1 - idx, () => {
    const out = list.slice()
    out.splice(idx, 1)
    return out
  })
}

/**
 * A node's control-plane tables (virtual services, their key map, the dest definition columns) as
 * nodes share them (issue 10): immutable while shared. Nodes that applied the same netlink
 * operations to the same tables, none of them having carried a connection, hold one IpvsTables
 * (the proxier's memo, cluster/backend-ipvs.ts); a node takes its own copy (Ipvs.ownTables) before
 * its first write, whether a netlink operation or a packet scheduled to a virtual service.
 */
export class IpvsTables {
  constructor(
    readonly services: readonly VirtualService[],
    readonly byKey: ReadonlyMap<number, number>,
    readonly dests: DestColumns,
  ) {}
}

export class Ipvs {
  // Fields read per packet are `declare`d and assigned in the constructor rather than declared
  // without a value: those are first defined as undefined, so V8 tracks them as any value (see
  // sim/empty.ts); assigned once, a field keeps the type of what it holds.
  declare readonly conntrack: boolean
  declare connReuseMode: number
  declare expireNodestConn: boolean
  declare expireQuiescentTemplate: boolean
  declare timeouts: IpvsTimeouts
  declare readonly kernelConnReuseFix: boolean
  declare readonly kernelExpireNodestFlush: boolean
  declare readonly mhTabIndex: number
  /** Dest columns (the shared tables' until ownTables). */
  dests = new DestColumns()
  /** Virtual services by id (the shared tables' until ownTables). */
  services: VirtualService[] = []
  /** This node's connection counts, references and statistics of dests, sparse (by dest id). */
  readonly counts = new DestCounts()
  /** This node's statistics and rr/wrr positions of the services it scheduled to, by service id. */
  private readonly serviceState = new Map<number, NodeService>()
  /** serviceCounts' last answer (records are never removed, so it stays valid). */
  private lastStateId = -1
  private lastState: NodeService | null = null
  /** The connection id of the last XMIT verdict (or -1). */
  lastConn = -1
  /** The dest removed-but-referenced ("trash", ip_vs_ctl.c) by (svc, addr, port), for revival. */
  private readonly trash = new Map<string, number>()
  private byKey = new Map<number, number>()
  /** The shared tables `services`, `byKey` and `dests` are (null: this node's own). */
  private sharedTables: IpvsTables | null = null
  /** A packet was scheduled here (the node holds traffic state: `counts`, `serviceState`). */
  private trafficOwned = false
  /**
   * The last findService answer (ip_vs_service_find's hash lookup, done for every new connection):
   * new flows mostly go to the same virtual service, and its 50-bit Map key hashes as a double.
   * Forgotten whenever a service is added or deleted.
   */
  private svcMemoProto = -1
  private svcMemoAddr = 0
  private svcMemoPort = 0
  private svcMemoId = -1
  declare private readonly link: IpvsConntrackLink | undefined

  // Connection records (grown by doubling: a node whose IPVS carries no traffic keeps 64 slots,
  // which matters at thousands of nodes; ids and lookups do not depend on the capacity). One
  // CW-word record per connection (layout at O_CADDR...), the two times as float64 over the same
  // buffer: creating a connection, or a packet of one, touches the cache lines of one record
  // rather than a line of each of twenty columns. The hash chains' keys are words of the record
  // (inbound: caddr, vaddr, cport << 16 | vport, next; outbound: daddr, caddr, dport << 16 | cport,
  // next); the protocol and the template flag are checked once the key words match.
  private cap = 64
  private cw: Int32Array = new Int32Array(this.cap * CW)
  private cns: Float64Array = new Float64Array(this.cw.buffer)
  /**
   * Out-hashed connections per (real-server port, client address) slot (outSlot(dport, caddr)).
   * ip_vs_out runs for every packet through the reply hooks, most of them not from a real server of
   * this node's connections (a client's request, a reply routed through towards a client on another
   * node); a packet whose (source port, destination address) has no connection in its slot cannot
   * match, so it skips the bucket walk. Wall time only: a lookup finds what it found before.
   */
  private outPorts = NO_OUT_PORTS
  /**
   * One bit per outPorts slot, set while its count is non-zero: the per-packet test reads this
   * 128-byte bitmap (two cache lines that stay warm) instead of a word of the 4 KiB counts.
   */
  private readonly outBits = new Int32Array(OUT_PORT_SLOTS >> 5)
  private cFree: number[] = []
  private cNext = 0
  /**
   * Buckets double when connections outnumber them (wall time only: lookups find the same entry, a
   * key being in a chain at most once). At most one entry per bucket on average keeps the walk of a
   * lookup that misses (every new flow's ip_vs_conn_in_get) short.
   */
  private hashMask = (1 << HASH_BITS) - 1
  /**
   * Per bucket b, [2b] the chain's first id (-1: empty) and [2b + 1] a summary of the hashes
   * linked there (bit `hash >>> 27` set for each; recomputed when one is unlinked), side by side
   * so one cache line answers most misses: a lookup whose bit is clear skips the chain walk (every
   * new flow's ip_vs_conn_in_get misses). Wall time only: a lookup finds what the walk finds.
   */
  private inHeads = emptyHeads(1 << HASH_BITS)
  private outHeads = emptyHeads(1 << HASH_BITS)
  private connCount = 0
  /** Most connections (templates included) the table held at once (results: IPVS table peak). */
  peakConnections = 0
  /** Connections and templates ip_vs_conn_new created, over the table's life. */
  connsCreated = 0
  // timer heap: (deadline, id) pairs, at most one per connection
  private heapAt: Float64Array = new Float64Array(this.cap)
  private heapId: Int32Array = new Int32Array(this.cap)
  private heapLen = 0
  /**
   * heapAt[0] while the heap holds an entry, else +Infinity: advance, run for every packet through
   * an IPVS hook, reads one field instead of the heap's length and first deadline.
   */
  private heapTopNs = Infinity

  constructor(options: IpvsOptions = {}, link?: IpvsConntrackLink) {
    this.conntrack = options.conntrack ?? false
    this.connReuseMode = options.connReuseMode ?? 1
    this.expireNodestConn = options.expireNodestConn ?? false
    this.expireQuiescentTemplate = options.expireQuiescentTemplate ?? false
    this.timeouts = options.timeouts ?? LINUX_IPVS_TIMEOUTS
    this.kernelConnReuseFix = options.kernelConnReuseFix ?? true
    this.kernelExpireNodestFlush = options.kernelExpireNodestFlush ?? true
    this.mhTabIndex = options.mhTabIndex ?? MH_TAB_INDEX_DEFAULT
    this.link = link
  }

  // ---------------- shared tables (issue 10) ----------------

  /**
   * The tables as an immutable IpvsTables other nodes may adopt (this node copies them before its
   * next write), or null while the tables themselves depend on the node's connections: a dest
   * deleted while referenced waits in the trash (allocated here, freed on nodes without its
   * connections), or thresholds were set (their OVERLOAD flag is written by traffic).
   *
   * The node's traffic state beside the tables (counts, statistics, rr/wrr positions) is keyed by
   * service and dest ids. A netlink change of a service the node holds traffic state of reads or
   * writes that state (del_dest moves the rr position, a deleted dest with connections goes to the
   * trash), so its result is not another node's: callers publish or adopt a transition only when
   * its operations change no such service (`hasTrafficState`). Changes of other services neither
   * read nor write it (their dests have no references here, no connection of the node uses them),
   * and they leave its services' ids, dest ids and lists as they were.
   */
  shareTables(): IpvsTables | null {
    if (this.trash.size > 0 || this.dests.thresholdsOwned) return null
    if (this.sharedTables === null) this.sharedTables = new IpvsTables(this.services, this.byKey, this.dests)
    return this.sharedTables
  }

  /** This node holds traffic state of service `svcId` (it scheduled a connection to it). */
  hasTrafficState(svcId: number): boolean {
    return this.serviceState.has(svcId)
  }

  /**
   * Take `tables` (another node's, from the same tables and operations) as this node's. With
   * traffic state, only a transition whose operations changed none of the node's services
   * (shareTables).
   */
  adoptTables(tables: IpvsTables): void {
    assert(this.trash.size === 0 && !this.dests.thresholdsOwned, "IPVS tables adopted over connection-dependent tables")
    this.services = tables.services as VirtualService[]
    this.byKey = tables.byKey as Map<number, number>
    this.dests = tables.dests
    this.sharedTables = tables
    this.svcMemoProto = -1
  }

  /**
   * Copy shared tables before writing them (services, the key map and dest definitions). The
   * node's traffic state (`counts`, `serviceState`) is keyed by service and dest ids, which the
   * copy keeps.
   */
  ownTables(): void {
    const shared = this.sharedTables
    if (shared === null) return
    this.sharedTables = null
    const services: VirtualService[] = new Array<VirtualService>(shared.services.length)
    for (let i = 0; i < services.length; i++) services[i] = shared.services[i].cloneForNode()
    this.services = services
    this.byKey = new Map(shared.byKey)
    this.dests = shared.dests.cloneDefinitions()
    this.svcMemoProto = -1
  }

  /** The tables are shared with other nodes (a test's and benchmark's view). */
  get tablesShared(): boolean {
    return this.sharedTables !== null
  }

  // ---------------- control plane (the netlink calls kube-proxy makes) ----------------

  /** IP_VS_SO_SET_ADD / IPVS_CMD_NEW_SERVICE. Returns the service id; throws if it exists. */
  addService(spec: VirtualServiceSpec): number {
    this.ownTables()
    assert(protoIndex(spec.protocol) >= 0, `IPVS service protocol ${spec.protocol} unsupported`)
    const key = serviceKey(spec.protocol, spec.addr, spec.port)
    assert(!this.byKey.has(key), "IPVS service exists (EEXIST)")
    const id = this.services.length
    const svc = new VirtualService(
      id,
      virtualServiceDef(
        spec.protocol,
        spec.addr >>> 0,
        spec.port,
        spec.scheduler,
        spec.flags ?? 0,
        (spec.timeoutS ?? DEFAULT_PERSIST_TIMEOUT_S) * NS_PER_S,
        (spec.netmask ?? 0xffffffff) >>> 0,
      ),
      initialSchedState(spec.scheduler, this.mhTabIndex),
    )
    schedInit(svc.sched, svc.dests, this.dests)
    this.services.push(svc)
    this.byKey.set(key, id)
    this.svcMemoProto = -1
    return id
  }

  /** IP_VS_SO_SET_EDIT: scheduler change re-inits its state (ip_vs_edit_service binds the new one). */
  editService(id: number, spec: Omit<VirtualServiceSpec, "protocol" | "addr" | "port">): void {
    this.ownTables()
    const svc = this.liveService(id)
    const rescheduled = spec.scheduler !== svc.scheduler
    svc.def = virtualServiceDef(
      svc.protocol,
      svc.addr,
      svc.port,
      spec.scheduler,
      spec.flags ?? 0,
      (spec.timeoutS ?? DEFAULT_PERSIST_TIMEOUT_S) * NS_PER_S,
      (spec.netmask ?? 0xffffffff) >>> 0,
    )
    if (rescheduled) {
      svc.sched = initialSchedState(spec.scheduler, this.mhTabIndex)
      schedInit(svc.sched, svc.dests, this.dests)
      // ip_vs_bind_scheduler: the new scheduler starts from its init_service state on this node too
      const node = this.serviceState.get(id)
      if (node !== undefined) node.sched = null
    }
  }

  /** IP_VS_SO_SET_DEL: unlinks every dest (they stay referenced by their connections). */
  deleteService(id: number): void {
    this.ownTables()
    const svc = this.liveService(id)
    while (svc.dests.length > 0) this.unlinkDest(svc, svc.dests[0])
    svc.deleted = true
    this.byKey.delete(serviceKey(svc.protocol, svc.addr, svc.port))
    this.svcMemoProto = -1
    this.enqueueExpireNodest()
  }

  findService(protocol: number, addr: number, port: number): number {
    const a = addr >>> 0
    if (protocol === this.svcMemoProto && a === this.svcMemoAddr && port === this.svcMemoPort) return this.svcMemoId
    const id = this.byKey.get(serviceKey(protocol, a, port)) ?? -1
    this.svcMemoProto = protocol
    this.svcMemoAddr = a
    this.svcMemoPort = port
    this.svcMemoId = id
    return id
  }

  /**
   * IP_VS_SO_SET_ADDDEST (ip_vs_add_dest): a dest still in the trash (deleted but referenced) with
   * the same address/port is revived with its counters, as ip_vs_trash_get_dest does; otherwise a new
   * one. Either way it is inserted at the list head (list_add_rcu).
   */
  addDest(svcId: number, addr: number, port: number, weight: number): number {
    this.ownTables()
    const svc = this.liveService(svcId)
    assert(weight >= 0, "weight must be >= 0")
    assert(this.findDest(svc, addr, port) < 0, "IPVS dest exists (EEXIST)")
    // (The trash key is built only when the trash holds something: most adds find it empty.)
    const tkey = this.trash.size === 0 ? "" : `${svcId}/${addr >>> 0}/${port}`
    let id = tkey === "" ? undefined : this.trash.get(tkey)
    if (id !== undefined) this.trash.delete(tkey)
    else id = this.dests.allocate(svcId, addr, port)
    // __ip_vs_update_dest(add=1): last_weight = weight, weight, AVAILABLE, list_add_rcu, add_dest
    this.dests.ownDefinitions()
    this.dests.lastWeight[id] = weight
    this.dests.weight[id] = weight
    this.dests.flags[id] |= F_AVAILABLE
    svc.dests = destListWith(svc.dests, id)
    schedAddDest(svc.sched, svc.dests, this.dests)
    const own = this.ownSched(svcId)
    if (own !== null) schedAddDest(own, svc.dests, this.dests)
    return id
  }

  /** IP_VS_SO_SET_EDITDEST: weight change (last_weight keeps the latest non-zero weight). */
  editDest(svcId: number, addr: number, port: number, weight: number): void {
    this.ownTables()
    const svc = this.liveService(svcId)
    const id = this.findDest(svc, addr, port)
    assert(id >= 0, "IPVS dest not found (ENOENT)")
    assert(weight >= 0, "weight must be >= 0")
    this.dests.ownDefinitions()
    if (weight !== 0) this.dests.lastWeight[id] = weight
    this.dests.weight[id] = weight
    schedUpdDest(svc.sched, svc.dests, this.dests)
    const own = this.ownSched(svcId)
    if (own !== null) schedUpdDest(own, svc.dests, this.dests)
  }

  /**
   * `ipvsadm -e -x upper -y lower`: connection thresholds. At `upper` total connections the dest
   * is marked overloaded (ip_vs_bind_dest); it clears below `lower`, or below 3/4 of `upper`
   * without a lower threshold (ip_vs_unbind_dest). 0 = no threshold.
   */
  setDestThresholds(svcId: number, addr: number, port: number, upper: number, lower: number): void {
    this.ownTables()
    const svc = this.liveService(svcId)
    const id = this.findDest(svc, addr, port)
    assert(id >= 0, "IPVS dest not found (ENOENT)")
    this.dests.ownThresholds()
    this.dests.upperThreshold[id] = upper
    this.dests.lowerThreshold[id] = lower
  }

  /** IP_VS_SO_SET_DELDEST: unlink now; the dest data lives on while connections reference it. */
  deleteDest(svcId: number, addr: number, port: number): void {
    this.ownTables()
    const svc = this.liveService(svcId)
    const id = this.findDest(svc, addr, port)
    assert(id >= 0, "IPVS dest not found (ENOENT)")
    this.unlinkDest(svc, id)
    this.enqueueExpireNodest()
  }

  /** ip_vs_enqueue_expire_nodest_conns: only with expire_nodest_conn=1 (and a >= 5.9 kernel). */
  private enqueueExpireNodest(): void {
    if (this.expireNodestConn && this.kernelExpireNodestFlush) this.expireNodestConnFlush()
  }

  /**
   * ip_vs_expire_nodest_conn_flush (ip_vs_conn.c): delete every connection whose dest is no longer
   * available, skipping templates that still control connections; a template whose last user went
   * is deleted with it.
   */
  expireNodestConnFlush(): void {
    for (let id = 0; id < this.cNext; id++) {
      if (this.cw[id * CW + O_IN_USE] === 0) continue
      const dest = this.cw[id * CW + O_DEST]
      if (dest < 0 || (this.dests.flags[dest] & F_AVAILABLE) !== 0) continue
      if (this.cw[id * CW + O_N_CONTROL] > 0) continue
      const ct = this.cw[id * CW + O_CONTROL]
      this.release(id)
      if (ct >= 0 && this.cw[ct * CW + O_IN_USE] !== 0 && this.cw[ct * CW + O_N_CONTROL] === 0) this.release(ct)
    }
  }

  findDest(svc: VirtualService, addr: number, port: number): number {
    for (const id of svc.dests) if (this.dests.addr[id] === addr >>> 0 && this.dests.port[id] === port) return id
    return -1
  }

  private unlinkDest(svc: VirtualService, id: number): void {
    const idx = svc.dests.indexOf(id)
    const prev = idx > 0 ? svc.dests[idx - 1] : -1
    svc.dests = destListWithout(svc.dests, idx)
    // __ip_vs_unlink_dest: clear AVAILABLE, list_del_rcu, then the scheduler's del_dest
    this.dests.flags[id] &= ~F_AVAILABLE
    schedDelDest(svc.sched, svc.dests, this.dests, id, prev)
    const own = this.ownSched(svc.id)
    if (own !== null) schedDelDest(own, svc.dests, this.dests, id, prev)
    if (this.counts.references(id) === 0) this.freeDest(id)
    else this.trash.set(`${svc.id}/${this.dests.addr[id]}/${this.dests.port[id]}`, id)
  }

  /** The dest is gone from the tables, and its counts from this node. */
  private freeDest(id: number): void {
    this.dests.free(id)
    this.counts.release(id)
  }

  /** The node's own scheduler state of service `svcId` (rr, wrr once scheduled), else null. */
  private ownSched(svcId: number): SchedState | null {
    const node = this.serviceState.get(svcId)
    return node === undefined ? null : node.sched
  }

  /**
   * The scheduler state to schedule service `svc` with: rr's and wrr's the node's own (a copy of
   * the tables' state, which no packet wrote, at the node's first schedule; the control plane's
   * callbacks then run on both), the others' the tables' own (they only read it when scheduling).
   */
  private schedFor(svc: VirtualService): SchedState {
    if (!schedulesInPlace(svc.scheduler)) return svc.sched
    const node = this.serviceCounts(svc.id)
    return node.sched ?? (node.sched = svc.sched.copy())
  }

  /**
   * Service `svcId`'s per-node record, created on first use (its first scheduled connection). The
   * last one is remembered: new connections mostly go to the service the previous one went to.
   */
  private serviceCounts(svcId: number): NodeService {
    if (svcId === this.lastStateId) return this.lastState as NodeService
    let node = this.serviceState.get(svcId)
    if (node === undefined) this.serviceState.set(svcId, (node = new NodeService()))
    this.lastStateId = svcId
    this.lastState = node
    return node
  }

  /** Service `svcId`'s statistics on this node (`ipvsadm -Ln --stats`): zeros before its first count. */
  serviceStats(svcId: number): IpvsStats {
    return this.serviceState.get(svcId) ?? NO_SERVICE_COUNTS
  }

  /** Virtual services this node holds per-node state of (a test's and benchmark's view). */
  get servicesWithState(): number {
    return this.serviceState.size
  }

  private liveService(id: number): VirtualService {
    const svc = this.services[id]
    assert(svc !== undefined && !svc.deleted, `IPVS service ${id} does not exist`)
    return svc
  }

  // ---------------- data plane ----------------

  /**
   * ip_vs_in() for a packet from a client towards a VIP (LOCAL_IN / LOCAL_OUT request hooks).
   * `ctConfirmed`: the packet's nf_conntrack entry is confirmed (an old flow), which decides whether
   * a rescheduled connection must drop the packet (ip_vs_conn_uses_old_conntrack).
   */
  packetIn(
    protocol: number,
    saddr: number,
    sport: number,
    daddr: number,
    dport: number,
    tcpFlags: number,
    bytes: number,
    ctConfirmed: boolean,
    nowNs: number,
  ): IpvsVerdict {
    if (this.heapTopNs <= nowNs) this.advance(nowNs)
    this.lastConn = -1
    if (protoIndex(protocol) < 0 || protocol === 132) return IpvsVerdict.ACCEPT
    let cp = this.lookupIn(protocol, saddr, sport, daddr, dport, false)
    const isTcp = protocol === PROTOCOL_TCP
    const syn = isTcp && (tcpFlags & TCP_FLAG_SYN) !== 0

    // Port reuse (is_new_conn && cp && !cp->control).
    if (syn && cp >= 0 && this.cw[cp * CW + O_CONTROL] < 0) {
      const dest = this.cw[cp * CW + O_DEST]
      let resched = false
      let oldCt = false
      if (this.expireNodestConn && dest >= 0 && this.dests.weight[dest] === 0) {
        resched = true
        oldCt = this.usesOldConntrack(cp, ctConfirmed)
      } else if (this.connReuseMode !== 0 && this.isNewConnExpected(cp)) {
        oldCt = this.usesOldConntrack(cp, ctConfirmed)
        resched = this.cw[cp * CW + O_N_CONTROL] === 0 ? true : !oldCt
      }
      if (resched) {
        if (!oldCt) this.cw[cp * CW + O_FLAGS] &= ~ConnFlag.NFCT
        if (this.cw[cp * CW + O_N_CONTROL] === 0) this.expireNow(cp)
        if (oldCt) return IpvsVerdict.DROP_OLD_CONNTRACK
        cp = -1
      }
    }

    // Check the server status.
    if (
      cp >= 0 &&
      this.cw[cp * CW + O_DEST] >= 0 &&
      (this.dests.flags[this.cw[cp * CW + O_DEST]] & F_AVAILABLE) === 0
    ) {
      if (!this.expireNodestConn) return IpvsVerdict.DROP_NO_DEST
      const oldCt = this.usesOldConntrack(cp, ctConfirmed)
      if (!oldCt) this.cw[cp * CW + O_FLAGS] &= ~ConnFlag.NFCT
      this.expireNow(cp)
      if (oldCt) return IpvsVerdict.DROP_OLD_CONNTRACK
      cp = -1
    }

    if (cp < 0) {
      // ip_vs_try_to_schedule -> tcp/udp_conn_schedule: only a SYN (without RST) starts a TCP
      // connection (sloppy_tcp = 0); other packets continue to the local stack.
      const svcId = this.findService(protocol, daddr, dport)
      if (svcId < 0) return IpvsVerdict.ACCEPT
      if (isTcp && (!syn || (tcpFlags & TCP_FLAG_RST) !== 0)) return IpvsVerdict.ACCEPT
      if (!this.trafficOwned) this.ownForTraffic()
      const svc = this.services[svcId]
      cp =
        (svc.flags & SvcFlag.PERSISTENT) !== 0
          ? this.schedPersist(svc, protocol, saddr, sport, daddr, dport, nowNs)
          : this.schedNew(svc, protocol, saddr, sport, daddr, dport, nowNs)
      if (cp < 0) return IpvsVerdict.LEAVE_UNREACHABLE
    }

    // ip_vs_in_stats (counted only while the dest is available) + ip_vs_set_state(INPUT) + timer
    // refresh (ip_vs_conn_put).
    const dest = this.cw[cp * CW + O_DEST]
    if (dest >= 0 && (this.dests.flags[dest] & F_AVAILABLE) !== 0) {
      const slot = this.cw[cp * CW + O_SLOT]
      const sb = slot * STAT_WORDS
      this.counts.stats[sb + S_IN_PKTS]++
      this.counts.stats[sb + S_IN_BYTES] += bytes
      const svc = this.counts.service[slot] as ServiceCounts
      svc.inPkts++
      svc.inBytes += bytes
    }
    this.setState(cp, DIR_INPUT, tcpFlags)
    this.rearm(cp, nowNs + this.cns[cp * CN + N_TIMEOUT])
    this.lastConn = cp
    return IpvsVerdict.XMIT
  }

  /**
   * ip_vs_out() for a reply from a real server (LOCAL_IN/LOCAL_OUT reply hooks): the connection it
   * belongs to (its VIP:port becomes the reply's source), or -1 if none.
   */
  packetOut(
    protocol: number,
    saddr: number,
    sport: number,
    daddr: number,
    dport: number,
    tcpFlags: number,
    bytes: number,
    nowNs: number,
  ): number {
    // advance's first test, before the call (no call, and no boxed nowNs, when no timer is due).
    if (this.heapTopNs <= nowNs) this.advance(nowNs)
    const cp = this.lookupOut(protocol, saddr, sport, daddr, dport)
    if (cp < 0) return -1
    // ip_vs_out_stats: only while the dest is available
    const dest = this.cw[cp * CW + O_DEST]
    if (dest >= 0 && (this.dests.flags[dest] & F_AVAILABLE) !== 0) {
      const slot = this.cw[cp * CW + O_SLOT]
      const sb = slot * STAT_WORDS
      this.counts.stats[sb + S_OUT_PKTS]++
      this.counts.stats[sb + S_OUT_BYTES] += bytes
      const svc = this.counts.service[slot] as ServiceCounts
      svc.outPkts++
      svc.outBytes += bytes
    }
    this.setState(cp, DIR_OUTPUT, tcpFlags)
    // rearm(cp, nowNs + timeout) written out: ip_vs_out's caller inlines this function but not
    // rearm, and a deadline passed to a call would be boxed per reply.
    const expiresNs = nowNs + this.cns[cp * CN + N_TIMEOUT]
    this.cns[cp * CN + N_EXPIRES] = expiresNs
    if (this.cw[cp * CW + O_IN_HEAP] !== 0) {
      const i = this.cw[cp * CW + O_HEAP_POS]
      if (expiresNs < this.heapAt[i]) this.heapSiftUp(i, expiresNs, cp)
    }
    return cp
  }

  /**
   * packetOut's first steps for a reply hook's packet (due timers, then the out-lookup filter): false
   * when no connection can match (packetOut would return -1 having done just this), so the caller
   * need not read the packet's other fields. Wall time only.
   */
  mayMatchOut(sport: number, daddr: number, nowNs: number): boolean {
    if (this.heapTopNs <= nowNs) this.advance(nowNs)
    const slot = outSlot(sport, daddr)
    return (this.outBits[slot >> 5] & (1 << (slot & 31))) !== 0
  }

  /**
   * ip_vs_conn_out_get without side effects (no stats, state or timer change): the connection whose
   * real server sent this packet (saddr:sport = dest, daddr:dport = client), or -1. For xt_ipvs.
   */
  lookupOut(protocol: number, saddr: number, sport: number, daddr: number, dport: number): number {
    const slot = outSlot(sport, daddr)
    if ((this.outBits[slot >> 5] & (1 << (slot & 31))) === 0) return -1
    const k0 = saddr | 0
    const k1 = daddr | 0
    const k2 = (sport << 16) | dport
    const h = outHashOf(protocol, saddr, sport, daddr, dport)
    const b = (h & this.hashMask) << 1
    const heads = this.outHeads
    if (((heads[b + 1] >>> (h >>> 27)) & 1) === 0) return -1
    const cw = this.cw
    let cp = heads[b]
    while (cp >= 0) {
      const w = cp * CW
      if (
        cw[w + O_DADDR] === k0 &&
        cw[w + O_CADDR] === k1 &&
        cw[w + O_DCPORTS] === k2 &&
        cw[w + O_PROTO] === protocol &&
        (cw[w + O_FLAGS] & ConnFlag.TEMPLATE) === 0
      )
        return cp
      cp = cw[w + O_OUT_NEXT]
    }
    return -1
  }

  /**
   * ip_vs_conn_in_get without side effects: the (non-template) connection of client caddr:cport to
   * virtual service vaddr:vport, or -1. For ip_vs_in_icmp (icmp.ts), which looks the offending
   * packet's inverse up and, like __ip_vs_conn_put, neither changes state nor refreshes the timer.
   */
  findConnIn(protocol: number, caddr: number, cport: number, vaddr: number, vport: number): number {
    return this.lookupIn(protocol, caddr, cport, vaddr, vport, false)
  }

  /**
   * ip_vs_in_stats (`inbound`) / ip_vs_out_stats for an ICMP error about connection `cp`
   * (ip_vs_in_icmp, handle_response_icmp): counted only while the dest is available.
   */
  countIcmp(cp: number, inbound: boolean, bytes: number): void {
    const dest = this.cw[cp * CW + O_DEST]
    if (dest < 0 || (this.dests.flags[dest] & F_AVAILABLE) === 0) return
    const slot = this.cw[cp * CW + O_SLOT]
    const svc = this.counts.service[slot] as ServiceCounts
    const sb = slot * STAT_WORDS
    if (inbound) {
      this.counts.stats[sb + S_IN_PKTS]++
      this.counts.stats[sb + S_IN_BYTES] += bytes
      svc.inPkts++
      svc.inBytes += bytes
    } else {
      this.counts.stats[sb + S_OUT_PKTS]++
      this.counts.stats[sb + S_OUT_BYTES] += bytes
      svc.outPkts++
      svc.outBytes += bytes
    }
  }

  /**
   * The first schedule here: the node's traffic state starts (sparse: per service and dest it
   * schedules to, `serviceCounts`, `counts`); its tables stay shared (shareTables).
   */
  private ownForTraffic(): void {
    this.trafficOwned = true
  }

  /** Fire every connection timer due at or before nowNs, in deadline order. */
  advance(nowNs: number): void {
    while (this.heapTopNs <= nowNs) {
      const at = this.heapTopNs
      const id = this.heapId[0]
      this.heapPop()
      this.cw[id * CW + O_IN_HEAP] = 0
      if (this.cw[id * CW + O_IN_USE] === 0) {
        this.cFree.push(id) // released early (expire_now, flush): its id is free only now
        continue
      }
      if (this.cns[id * CN + N_EXPIRES] > at) {
        this.heapPush(this.cns[id * CN + N_EXPIRES], id) // refreshed since: re-arm
        continue
      }
      // ip_vs_conn_expire: a template still controlling connections is re-armed for its timeout.
      if (this.cw[id * CW + O_N_CONTROL] > 0) {
        this.cns[id * CN + N_EXPIRES] = at + this.cns[id * CN + N_TIMEOUT]
        this.heapPush(this.cns[id * CN + N_EXPIRES], id)
        continue
      }
      this.release(id)
    }
  }

  // ---------------- connection accessors (for the transmitter and printers) ----------------

  connDest(id: number): number {
    return this.cw[id * CW + O_DEST]
  }
  connDaddr(id: number): number {
    return this.daddrOf(id)
  }
  connDport(id: number): number {
    return this.dportOf(id)
  }
  connVaddr(id: number): number {
    return this.vaddrOf(id)
  }
  connVport(id: number): number {
    return this.vportOf(id)
  }

  // The connection's addresses (unsigned) and ports, from its key words.
  private caddrOf(id: number): number {
    return this.cw[id * CW + O_CADDR] >>> 0
  }
  private vaddrOf(id: number): number {
    return this.cw[id * CW + O_VADDR] >>> 0
  }
  private daddrOf(id: number): number {
    return this.cw[id * CW + O_DADDR] >>> 0
  }
  private cportOf(id: number): number {
    return this.cw[id * CW + O_CVPORTS] >>> 16
  }
  private vportOf(id: number): number {
    return this.cw[id * CW + O_CVPORTS] & 0xffff
  }
  private dportOf(id: number): number {
    return this.cw[id * CW + O_DCPORTS] >>> 16
  }
  connState(id: number): number {
    return this.cw[id * CW + O_STATE]
  }
  connUsesConntrack(id: number): boolean {
    return (this.cw[id * CW + O_FLAGS] & ConnFlag.NFCT) !== 0
  }
  /** Connections including templates (ip_vs_conn_count). */
  get connectionCount(): number {
    return this.connCount
  }

  /** The state of every virtual service, in creation order (`ipvsadm -Ln --stats`). */
  snapshot(): VirtualServiceSnapshot[] {
    const d = this.dests
    const c = this.counts
    return this.services
      .filter((s) => !s.deleted)
      .map((s) => {
        const st = this.serviceStats(s.id)
        return {
          protocol: s.protocol,
          addr: s.addr,
          port: s.port,
          scheduler: s.scheduler,
          flags: s.flags,
          timeoutS: s.timeoutNs / NS_PER_S,
          netmask: s.netmask,
          conns: st.conns,
          inPkts: st.inPkts,
          outPkts: st.outPkts,
          inBytes: st.inBytes,
          outBytes: st.outBytes,
          realServers: s.dests.map((id) => ({
            addr: d.addr[id],
            port: d.port[id],
            weight: d.weight[id],
            activeConns: c.active(id),
            inactConns: c.inactive(id),
            persistConns: c.persistent(id),
            conns: c.stat(id, STAT_CONNS),
            inPkts: c.stat(id, STAT_IN_PKTS),
            outPkts: c.stat(id, STAT_OUT_PKTS),
            inBytes: c.stat(id, STAT_IN_BYTES),
            outBytes: c.stat(id, STAT_OUT_BYTES),
          })),
        }
      })
  }

  /** Every live connection and template (`ipvsadm -Lnc`), in id order. */
  connections(nowNs: number): ConnectionSnapshot[] {
    const out: ConnectionSnapshot[] = []
    for (let id = 0; id < this.cNext; id++) {
      if (this.cw[id * CW + O_IN_USE] === 0) continue
      const template = (this.cw[id * CW + O_FLAGS] & ConnFlag.TEMPLATE) !== 0
      out.push({
        protocol: this.cw[id * CW + O_PROTO],
        template,
        state: template
          ? "NONE"
          : this.cw[id * CW + O_PROTO] === PROTOCOL_TCP
            ? IPVS_TCP_STATE_NAMES[this.cw[id * CW + O_STATE]]
            : "UDP",
        expiresInNs: Math.max(0, this.cns[id * CN + N_EXPIRES] - nowNs),
        caddr: this.caddrOf(id),
        cport: this.cportOf(id),
        vaddr: this.vaddrOf(id),
        vport: this.vportOf(id),
        daddr: this.daddrOf(id),
        dport: this.dportOf(id),
      })
    }
    return out
  }

  /**
   * Consistency audit for tests and fuzzing: recomputes every dest's counters and references from
   * the live connections and checks hash chains, the timer heap and the service lists. Returns the
   * problems found (empty when consistent). O(connections); never called on the packet path.
   */
  verify(): string[] {
    const problems: string[] = []
    const d = this.dests
    const active = new Map<number, number>()
    const inact = new Map<number, number>()
    const persist = new Map<number, number>()
    const refs = new Map<number, number>()
    const inc = (m: Map<number, number>, k: number): void => {
      m.set(k, (m.get(k) ?? 0) + 1)
    }
    const inHeap = new Map<number, number>()
    for (let i = 0; i < this.heapLen; i++) inc(inHeap, this.heapId[i])
    let live = 0
    for (let id = 0; id < this.cNext; id++) {
      if (this.cw[id * CW + O_IN_USE] === 0) continue
      live++
      const template = (this.cw[id * CW + O_FLAGS] & ConnFlag.TEMPLATE) !== 0
      const dest = this.cw[id * CW + O_DEST]
      if (dest >= 0) {
        if (this.counts.slotOf(dest) !== this.cw[id * CW + O_SLOT])
          problems.push(`conn ${id} holds a stale slot of dest ${dest}`)
        inc(refs, dest)
        if (template) inc(persist, dest)
        else if ((this.cw[id * CW + O_FLAGS] & ConnFlag.INACTIVE) !== 0) inc(inact, dest)
        else inc(active, dest)
      }
      if (inHeap.get(id) !== 1) problems.push(`conn ${id} has ${inHeap.get(id) ?? 0} timer entries`)
      if (this.cw[id * CW + O_IN_HASHED] !== 0) {
        const found = this.lookupIn(
          this.cw[id * CW + O_PROTO],
          this.caddrOf(id),
          this.cportOf(id),
          this.vaddrOf(id),
          this.vportOf(id),
          template,
        )
        if (found < 0) problems.push(`conn ${id} not found in its hash chain`)
      } else if (!template || (this.cw[id * CW + O_FLAGS] & CONN_INVALID) === 0)
        problems.push(`conn ${id} unhashed while live`)
      const ct = this.cw[id * CW + O_CONTROL]
      if (ct >= 0 && (this.cw[ct * CW + O_IN_USE] === 0 || (this.cw[ct * CW + O_FLAGS] & ConnFlag.TEMPLATE) === 0))
        problems.push(`conn ${id} controlled by a dead or non-template ${ct}`)
    }
    if (live !== this.connCount) problems.push(`connCount ${this.connCount} != live ${live}`)
    const outPorts = new Int32Array(OUT_PORT_SLOTS)
    for (let id = 0; id < this.cNext; id++)
      if (this.cw[id * CW + O_IN_USE] !== 0 && (this.cw[id * CW + O_FLAGS] & ConnFlag.TEMPLATE) === 0)
        outPorts[outSlot(this.dportOf(id), this.caddrOf(id))]++
    for (let i = 0; i < OUT_PORT_SLOTS; i++)
      if (outPorts[i] !== this.outPorts[i])
        problems.push(`out port slot ${i} counts ${this.outPorts[i]} != ${outPorts[i]}`)
      else if ((outPorts[i] !== 0) !== ((this.outBits[i >> 5] & (1 << (i & 31))) !== 0))
        problems.push(`out port slot ${i} bit disagrees with its count ${outPorts[i]}`)
    let dead = 0
    for (let id = 0; id < this.cNext; id++)
      if (this.cw[id * CW + O_IN_USE] === 0 && this.cw[id * CW + O_IN_HEAP] !== 0) dead++
    if (this.heapLen !== live + dead)
      problems.push(`heap holds ${this.heapLen} entries for ${live} connections and ${dead} released ids`)
    // A lookup skips a bucket whose summary lacks the key's bit: every linked key's bit must be set.
    for (let id = 0; id < this.cNext; id++) {
      if (this.cw[id * CW + O_IN_USE] === 0) continue
      const hi = this.inHashOfConn(id)
      if (
        this.cw[id * CW + O_IN_HASHED] !== 0 &&
        ((this.inHeads[((hi & this.hashMask) << 1) + 1] >>> (hi >>> 27)) & 1) === 0
      )
        problems.push(`conn ${id} missing from its in-bucket summary`)
      const ho = this.outHashOfConn(id)
      if (
        (this.cw[id * CW + O_FLAGS] & ConnFlag.TEMPLATE) === 0 &&
        ((this.outHeads[((ho & this.hashMask) << 1) + 1] >>> (ho >>> 27)) & 1) === 0
      )
        problems.push(`conn ${id} missing from its out-bucket summary`)
    }
    if (this.heapTopNs !== (this.heapLen > 0 ? this.heapAt[0] : Infinity))
      problems.push(`heap top ${this.heapTopNs} is not the first deadline`)
    for (let id = 0; id < this.cNext; id++) {
      if (this.cw[id * CW + O_IN_USE] === 0 || (this.cw[id * CW + O_FLAGS] & ConnFlag.TEMPLATE) === 0) continue
      let users = 0
      for (let c = 0; c < this.cNext; c++)
        if (this.cw[c * CW + O_IN_USE] !== 0 && this.cw[c * CW + O_CONTROL] === id) users++
      if (users !== this.cw[id * CW + O_N_CONTROL])
        problems.push(`template ${id} n_control ${this.cw[id * CW + O_N_CONTROL]} != ${users}`)
    }
    for (let slot = 0; slot < this.counts.destOf.length; slot++) {
      const dest = this.counts.destOf[slot]
      if (dest >= 0 && (dest >= d.capacity || d.service[dest] < 0)) problems.push(`freed dest ${dest} holds counts`)
    }
    for (let dest = 0; dest < d.capacity; dest++) {
      if (d.service[dest] < 0) {
        if ((refs.get(dest) ?? 0) > 0) problems.push(`freed dest ${dest} still referenced`)
        continue
      }
      const c = this.counts
      const want: [string, number, number][] = [
        ["activeconns", c.active(dest), active.get(dest) ?? 0],
        ["inactconns", c.inactive(dest), inact.get(dest) ?? 0],
        ["persistconns", c.persistent(dest), persist.get(dest) ?? 0],
        ["refs", c.references(dest), refs.get(dest) ?? 0],
      ]
      for (const [name, have, should] of want)
        if (have !== should) problems.push(`dest ${dest} ${name} ${have} != ${should}`)
      const linked = (d.flags[dest] & F_AVAILABLE) !== 0
      const listed = this.services[d.service[dest]].dests.includes(dest)
      if (linked !== listed) problems.push(`dest ${dest} available=${linked} but listed=${listed}`)
      if (!linked && c.references(dest) === 0) problems.push(`unlinked dest ${dest} without references not freed`)
    }
    return problems
  }

  // ---------------- internals ----------------

  /** is_new_conn_expected (TCP): TIME_WAIT or CLOSE, or FIN_WAIT without output with bit 2. */
  private isNewConnExpected(cp: number): boolean {
    if (this.cw[cp * CW + O_PROTO] !== PROTOCOL_TCP) return false
    const st = this.cw[cp * CW + O_STATE]
    return (
      st === IpvsTcpState.TIME_WAIT ||
      st === IpvsTcpState.CLOSE ||
      ((this.connReuseMode & 2) !== 0 &&
        st === IpvsTcpState.FIN_WAIT &&
        (this.cw[cp * CW + O_FLAGS] & ConnFlag.NOOUTPUT) !== 0)
    )
  }

  /**
   * ip_vs_conn_uses_old_conntrack (>= 5.9): the packet's conntrack is confirmed. Before 5.9
   * (ip_vs_conn_uses_conntrack): the connection has NFCT and the packet has any conntrack, which with
   * nf_conntrack loaded is always, so every reschedule with conntrack=1 dropped the packet.
   */
  private usesOldConntrack(cp: number, ctConfirmed: boolean): boolean {
    if (!this.conntrack) return false
    return this.kernelConnReuseFix ? ctConfirmed : (this.cw[cp * CW + O_FLAGS] & ConnFlag.NFCT) !== 0
  }

  /** ip_vs_schedule, non-persistent: the scheduler's pick, then ip_vs_conn_new + bind. */
  private schedNew(
    svc: VirtualService,
    protocol: number,
    saddr: number,
    sport: number,
    daddr: number,
    dport: number,
    nowNs: number,
  ): number {
    const dest = schedule(this.schedFor(svc), svc.dests, this.dests, this.counts, svc.flags, saddr, sport, daddr)
    if (dest < 0) return -1
    const cp = this.newConn(
      protocol,
      saddr,
      sport,
      daddr,
      dport,
      this.dests.addr[dest],
      this.dests.port[dest],
      0,
      dest,
      nowNs,
    )
    this.connStats(cp)
    return cp
  }

  /**
   * ip_vs_sched_persist: the template (protocol, client addr & netmask, port 0, VIP:port) names the
   * (template layout read from ip_vs_core.c: `<protocol, caddr, 0, vaddr, vport, daddr, dport>`)
   * dest for this client; a missing or invalid one (ip_vs_check_template: dest gone, or weight 0 with
   * expire_quiescent_template) is replaced by a fresh pick. The template's timer restarts at the
   * service timeout on every use (ip_vs_conn_put).
   */
  private schedPersist(
    svc: VirtualService,
    protocol: number,
    saddr: number,
    sport: number,
    daddr: number,
    dport: number,
    nowNs: number,
  ): number {
    const snet = (saddr & svc.netmask) >>> 0
    // <protocol, caddr & mask, 0, vaddr, vport, daddr, dport>; FTP (port 21) templates carry port 0
    const ftp = svc.port === FTP_PORT
    const tport = ftp ? 0 : dport
    let ct = this.lookupIn(protocol, snet, 0, daddr, tport, true)
    if (ct >= 0 && !this.checkTemplate(ct)) ct = -1
    let dest: number
    if (ct < 0) {
      dest = schedule(this.schedFor(svc), svc.dests, this.dests, this.counts, svc.flags, saddr, sport, daddr)
      if (dest < 0) return -1
      ct = this.newConn(
        protocol,
        snet,
        0,
        daddr,
        tport,
        this.dests.addr[dest],
        ftp ? 0 : this.dests.port[dest],
        ConnFlag.TEMPLATE,
        dest,
        nowNs,
      )
      this.cns[ct * CN + N_TIMEOUT] = svc.timeoutNs
    } else {
      dest = this.cw[ct * CW + O_DEST]
    }
    this.rearm(ct, nowNs + this.cns[ct * CN + N_TIMEOUT])
    const cp = this.newConn(
      protocol,
      saddr,
      sport,
      daddr,
      dport,
      this.dests.addr[dest],
      this.dests.port[dest],
      0,
      dest,
      nowNs,
    )
    // ip_vs_control_add
    this.cw[cp * CW + O_CONTROL] = ct
    this.cw[ct * CW + O_N_CONTROL]++
    this.connStats(cp)
    return cp
  }

  /**
   * ip_vs_check_template(ct, NULL): false invalidates the template. The kernel rehashes it with
   * vport/dport 0xffff so no lookup finds it again; here it is unhashed, which is the same to lookups.
   */
  private checkTemplate(ct: number): boolean {
    const dest = this.cw[ct * CW + O_DEST]
    if (
      dest < 0 ||
      (this.dests.flags[dest] & F_AVAILABLE) === 0 ||
      (this.expireQuiescentTemplate && this.dests.weight[dest] === 0)
    ) {
      this.unhashIn(ct)
      // "don't restart its timer": it dies at its current deadline (or after its last user)
      this.cw[ct * CW + O_FLAGS] |= CONN_INVALID
      return false
    }
    return true
  }

  /** ip_vs_conn_stats of connection cp (the dest's and its service's). */
  private connStats(cp: number): void {
    const slot = this.cw[cp * CW + O_SLOT]
    this.counts.stats[slot * STAT_WORDS + STAT_CONNS]++
    ;(this.counts.service[slot] as ServiceCounts).conns++
  }

  /** Dest `dest`'s slot in `counts` (its service's per-node record created with it). */
  private destSlot(dest: number): number {
    const slot = this.counts.slotOf(dest)
    return slot >= 0 ? slot : this.counts.slotFor(dest, this.serviceCounts(this.dests.service[dest]))
  }

  private newConn(
    protocol: number,
    caddr: number,
    cport: number,
    vaddr: number,
    vport: number,
    daddr: number,
    dport: number,
    flags: number,
    dest: number,
    nowNs: number,
  ): number {
    let id = this.cFree.pop()
    if (id === undefined) {
      if (this.cNext === this.cap) this.grow()
      id = this.cNext++
    }
    const cw = this.cw
    const w = id * CW
    const expiresNs = nowNs + NEW_CONN_TIMEOUT_NS
    this.cns[id * CN + N_TIMEOUT] = NEW_CONN_TIMEOUT_NS
    this.cns[id * CN + N_EXPIRES] = expiresNs
    // The key words (read back by caddrOf ... dportOf): a template's out key is written too, for
    // its daddr and dport, but never linked.
    cw[w + O_CADDR] = caddr | 0
    cw[w + O_VADDR] = vaddr | 0
    cw[w + O_CVPORTS] = (cport << 16) | vport
    cw[w + O_DADDR] = daddr | 0
    cw[w + O_DCPORTS] = (dport << 16) | cport
    // dest->conn_flags = MASQ | INACTIVE (__ip_vs_update_dest), + NFCT when sysctl conntrack=1
    cw[w + O_FLAGS] = flags | ConnFlag.MASQ | ConnFlag.INACTIVE | (this.conntrack ? ConnFlag.NFCT : 0)
    cw[w + O_PROTO] = protocol
    // ip_vs_bind_dest
    cw[w + O_DEST] = dest
    const d = this.dests
    const c = this.counts
    const slot = this.destSlot(dest)
    cw[w + O_SLOT] = slot
    cw[w + O_STATE] = 0
    cw[w + O_CONTROL] = -1
    cw[w + O_N_CONTROL] = 0
    cw[w + O_IN_USE] = 1
    c.refs[slot]++
    if ((flags & ConnFlag.TEMPLATE) === 0) c.inactConns[slot]++
    else c.persistConns[slot]++
    // (thresholds are set only on a node's own tables: ownThresholds after ownTables)
    if (d.upperThreshold[dest] !== 0 && c.activeConns[slot] + c.inactConns[slot] >= d.upperThreshold[dest])
      d.flags[dest] |= DEST_F_OVERLOAD
    this.linkIn(id, inHashOf(protocol, caddr, cport, vaddr, vport))
    cw[w + O_IN_HASHED] = 1
    if ((flags & ConnFlag.TEMPLATE) === 0) {
      this.linkOut(id, outHashOf(protocol, daddr, dport, caddr, cport))
      const slot = outSlot(dport, caddr)
      if (this.outPorts === NO_OUT_PORTS) this.outPorts = new Int32Array(OUT_PORT_SLOTS)
      if (this.outPorts[slot]++ === 0) this.outBits[slot >> 5] |= 1 << (slot & 31)
    }
    this.heapPush(expiresNs, id)
    this.connCount++
    this.connsCreated++
    if (this.connCount > this.peakConnections) this.peakConnections = this.connCount
    if (this.connCount > (this.hashMask + 1 < FULL_LOAD_BUCKETS ? (this.hashMask + 1) >> 2 : this.hashMask + 1))
      this.rehash()
    return id
  }

  /** set_tcp_state / udp_state_transition, with the active/inactive counter moves. */
  private setState(cp: number, direction: number, tcpFlags: number): void {
    if (this.cw[cp * CW + O_PROTO] !== PROTOCOL_TCP) {
      this.cns[cp * CN + N_TIMEOUT] = this.timeouts.udpNs
      return
    }
    let stateOff = direction
    if ((this.cw[cp * CW + O_FLAGS] & ConnFlag.NOOUTPUT) !== 0) {
      if (stateOff === DIR_OUTPUT) this.cw[cp * CW + O_FLAGS] &= ~ConnFlag.NOOUTPUT
      else stateOff = DIR_INPUT_ONLY
    }
    const idx = tcpStateIdx(tcpFlags)
    const old = this.cw[cp * CW + O_STATE]
    const next = idx < 0 ? IpvsTcpState.CLOSE : TCP_STATES[stateOff][idx][old]
    if (next !== old) {
      const dest = this.cw[cp * CW + O_DEST]
      if (dest >= 0) {
        const inactive = (this.cw[cp * CW + O_FLAGS] & ConnFlag.INACTIVE) !== 0
        const slot = this.cw[cp * CW + O_SLOT]
        if (!inactive && next !== IpvsTcpState.ESTABLISHED) {
          this.counts.activeConns[slot]--
          this.counts.inactConns[slot]++
          this.cw[cp * CW + O_FLAGS] |= ConnFlag.INACTIVE
        } else if (inactive && next === IpvsTcpState.ESTABLISHED) {
          this.counts.activeConns[slot]++
          this.counts.inactConns[slot]--
          this.cw[cp * CW + O_FLAGS] &= ~ConnFlag.INACTIVE
        }
      }
    }
    this.cw[cp * CW + O_STATE] = next
    this.cns[cp * CN + N_TIMEOUT] = this.timeouts.tcpNs[next]
  }

  /** ip_vs_conn_expire_now: the timer fires at once (here: the connection goes now). */
  private expireNow(cp: number): void {
    this.release(cp)
  }

  /** ip_vs_conn_expire's teardown: unhash, control_del, unbind_dest, drop conntrack. */
  private release(id: number): void {
    const flags = this.cw[id * CW + O_FLAGS]
    this.unhashIn(id)
    if ((flags & ConnFlag.TEMPLATE) === 0) this.unhashOut(id)
    const ct = this.cw[id * CW + O_CONTROL]
    if (ct >= 0) {
      this.cw[ct * CW + O_N_CONTROL]--
      this.cw[id * CW + O_CONTROL] = -1
    }
    const dest = this.cw[id * CW + O_DEST]
    if (dest >= 0) {
      const d = this.dests
      const c = this.counts
      const slot = this.cw[id * CW + O_SLOT]
      if ((flags & ConnFlag.TEMPLATE) !== 0) c.persistConns[slot]--
      else if ((flags & ConnFlag.INACTIVE) !== 0) c.inactConns[slot]--
      else c.activeConns[slot]--
      // ip_vs_unbind_dest: clear OVERLOAD below the lower threshold (or 3/4 of the upper one).
      // (Only a threshold sets it, on the node's own tables: shared flags are not written.)
      if ((d.flags[dest] & DEST_F_OVERLOAD) !== 0) {
        const total = c.activeConns[slot] + c.inactConns[slot]
        if (d.lowerThreshold[dest] !== 0) {
          if (total < d.lowerThreshold[dest]) d.flags[dest] &= ~DEST_F_OVERLOAD
        } else if (d.upperThreshold[dest] !== 0) {
          if (total * 4 < d.upperThreshold[dest] * 3) d.flags[dest] &= ~DEST_F_OVERLOAD
        } else d.flags[dest] &= ~DEST_F_OVERLOAD
      }
      if (--c.refs[slot] === 0 && (d.flags[dest] & DEST_F_AVAILABLE) === 0) {
        const key = `${d.service[dest]}/${d.addr[dest]}/${d.port[dest]}`
        if (this.trash.get(key) === dest) this.trash.delete(key)
        this.freeDest(dest)
      }
      this.cw[id * CW + O_DEST] = -1
    }
    if ((flags & ConnFlag.NFCT) !== 0 && (flags & ConnFlag.TEMPLATE) === 0 && this.link !== undefined) {
      this.link.dropConntrack(
        this.cw[id * CW + O_PROTO],
        this.caddrOf(id),
        this.cportOf(id),
        this.vaddrOf(id),
        this.vportOf(id),
      )
    }
    this.cw[id * CW + O_IN_USE] = 0
    if (this.cw[id * CW + O_IN_HEAP] === 0) this.cFree.push(id)
    this.connCount--
  }

  /** The in-hash of connection id's key. */
  private inHashOfConn(id: number): number {
    return inHashOf(this.cw[id * CW + O_PROTO], this.caddrOf(id), this.cportOf(id), this.vaddrOf(id), this.vportOf(id))
  }

  /** The out-hash of connection id's key. */
  private outHashOfConn(id: number): number {
    return outHashOf(this.cw[id * CW + O_PROTO], this.daddrOf(id), this.dportOf(id), this.caddrOf(id), this.cportOf(id))
  }

  /** Link id at the head of its in-chain (hash h) and mark h in the bucket summary. */
  private linkIn(id: number, h: number): void {
    const b = (h & this.hashMask) << 1
    const heads = this.inHeads
    this.cw[id * CW + O_IN_NEXT] = heads[b]
    heads[b] = id
    heads[b + 1] |= 1 << (h >>> 27)
  }

  /** Link id at the head of its out-chain (hash h) and mark h in the bucket summary. */
  private linkOut(id: number, h: number): void {
    const b = (h & this.hashMask) << 1
    const heads = this.outHeads
    this.cw[id * CW + O_OUT_NEXT] = heads[b]
    heads[b] = id
    heads[b + 1] |= 1 << (h >>> 27)
  }

  private lookupIn(
    protocol: number,
    caddr: number,
    cport: number,
    vaddr: number,
    vport: number,
    template: boolean,
  ): number {
    const k0 = caddr | 0
    const k1 = vaddr | 0
    const k2 = (cport << 16) | vport
    const h = inHashOf(protocol, caddr, cport, vaddr, vport)
    const b = (h & this.hashMask) << 1
    const heads = this.inHeads
    if (((heads[b + 1] >>> (h >>> 27)) & 1) === 0) return -1
    const cw = this.cw
    let cp = heads[b]
    const want = template ? ConnFlag.TEMPLATE : 0
    while (cp >= 0) {
      const w = cp * CW
      if (
        cw[w + O_CADDR] === k0 &&
        cw[w + O_VADDR] === k1 &&
        cw[w + O_CVPORTS] === k2 &&
        cw[w + O_PROTO] === protocol &&
        (cw[w + O_FLAGS] & ConnFlag.TEMPLATE) === want
      )
        return cp
      cp = cw[w + O_IN_NEXT]
    }
    return -1
  }

  private unhashIn(id: number): void {
    if (this.cw[id * CW + O_IN_HASHED] === 0) return
    this.cw[id * CW + O_IN_HASHED] = 0
    this.unlink(this.inHeads, O_IN_NEXT, id, (this.inHashOfConn(id) & this.hashMask) << 1, true)
  }

  private unhashOut(id: number): void {
    this.unlink(this.outHeads, O_OUT_NEXT, id, (this.outHashOfConn(id) & this.hashMask) << 1, false)
    const slot = outSlot(this.dportOf(id), this.caddrOf(id))
    if (--this.outPorts[slot] === 0) this.outBits[slot >> 5] &= ~(1 << (slot & 31))
  }

  /**
   * Unlink id from the chain of bucket b (heads index; `next`: the record word chaining it) and
   * recompute the bucket's hash summary.
   */
  private unlink(heads: Int32Array, next: number, id: number, b: number, inbound: boolean): void {
    const cw = this.cw
    let prev = -1
    let cp = heads[b]
    while (cp >= 0 && cp !== id) {
      prev = cp
      cp = cw[cp * CW + next]
    }
    assert(cp === id, `IPVS connection missing from its ${inbound ? "" : "out "}hash chain`)
    if (prev < 0) heads[b] = cw[id * CW + next]
    else cw[prev * CW + next] = cw[id * CW + next]
    let summary = 0
    for (let n = heads[b]; n >= 0; n = cw[n * CW + next])
      summary |= 1 << ((inbound ? this.inHashOfConn(n) : this.outHashOfConn(n)) >>> 27)
    heads[b + 1] = summary
  }

  private rehash(): void {
    const size = 2 * (this.hashMask + 1)
    this.hashMask = size - 1
    this.inHeads = emptyHeads(size)
    this.outHeads = emptyHeads(size)
    for (let id = 0; id < this.cNext; id++) {
      if (this.cw[id * CW + O_IN_USE] === 0) continue
      if (this.cw[id * CW + O_IN_HASHED] !== 0) this.linkIn(id, this.inHashOfConn(id))
      if ((this.cw[id * CW + O_FLAGS] & ConnFlag.TEMPLATE) === 0) this.linkOut(id, this.outHashOfConn(id))
    }
  }

  /**
   * __ip_vs_conn_put_timer (ip_vs_conn.c): mod_timer(&cp->timer, jiffies + cp->timeout) on every
   * packet, which moves the timer later or EARLIER. A later deadline is only recorded here (the
   * entry is re-pushed when it pops, see advance); an earlier one, as when a TCP connection goes
   * from ESTABLISHED (900 s) to FIN_WAIT (120 s) or CLOSE (10 s), moves the heap entry up now, so
   * the connection expires at its new deadline and not at the one it had before.
   */
  private rearm(id: number, expiresNs: number): void {
    this.cns[id * CN + N_EXPIRES] = expiresNs
    if (this.cw[id * CW + O_IN_HEAP] === 0) return
    const i = this.cw[id * CW + O_HEAP_POS]
    if (expiresNs < this.heapAt[i]) this.heapSiftUp(i, expiresNs, id)
  }

  private heapPush(at: number, id: number): void {
    this.cw[id * CW + O_IN_HEAP] = 1
    this.heapSiftUp(this.heapLen++, at, id)
  }

  /** Place (at, id) at slot i or above it (the entry at i, if any, is being replaced by it). */
  private heapSiftUp(i: number, at: number, id: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1
      const pa = this.heapAt[parent]
      if (pa < at || (pa === at && this.heapId[parent] < id)) break
      const pid = this.heapId[parent]
      this.heapAt[i] = pa
      this.heapId[i] = pid
      this.cw[pid * CW + O_HEAP_POS] = i
      i = parent
    }
    this.heapAt[i] = at
    this.heapId[i] = id
    this.cw[id * CW + O_HEAP_POS] = i
    if (i === 0) this.heapTopNs = at
  }

  private heapPop(): void {
    const n = --this.heapLen
    if (n === 0) {
      this.heapTopNs = Infinity
      return
    }
    const at = this.heapAt[n]
    const id = this.heapId[n]
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      let c = l
      if (
        r < n &&
        (this.heapAt[r] < this.heapAt[l] || (this.heapAt[r] === this.heapAt[l] && this.heapId[r] < this.heapId[l]))
      )
        c = r
      if (this.heapAt[c] > at || (this.heapAt[c] === at && this.heapId[c] > id)) break
      const cid = this.heapId[c]
      this.heapAt[i] = this.heapAt[c]
      this.heapId[i] = cid
      this.cw[cid * CW + O_HEAP_POS] = i
      i = c
    }
    this.heapAt[i] = at
    this.heapId[i] = id
    this.cw[id * CW + O_HEAP_POS] = i
    this.heapTopNs = this.heapAt[0]
  }

  private grow(): void {
    const n = this.cap * 2
    const cw = new Int32Array(n * CW)
    cw.set(this.cw)
    this.cw = cw
    this.cns = new Float64Array(cw.buffer)
    const f64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(n)
      b.set(a)
      return b
    }
    const i32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(n)
      b.set(a)
      return b
    }
    this.heapAt = f64(this.heapAt)
    this.heapId = i32(this.heapId)
    this.cap = n
  }
}
