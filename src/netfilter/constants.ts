/**
 * Small-integer constants shared by the netfilter engine: tables, conntrack states and status bits,
 * TCP conntrack states, target kinds. `as const` objects, no runtime enums (STYLE.md rule 15).
 */

/** Tables in the order the kernel registers them; per-hook order is by priority (hook-entries.ts, NetfilterStack.registerBuiltinOps). */
export const TableId = { RAW: 0, MANGLE: 1, NAT: 2, FILTER: 3 } as const
export type TableId = (typeof TableId)[keyof typeof TableId]
export const TABLE_NAMES = ["raw", "mangle", "nat", "filter"] as const

/**
 * `-m conntrack --ctstate` bits, with the values of the kernel's xt_conntrack.h:
 * XT_CONNTRACK_STATE_BIT(ctinfo) = 1 << (ctinfo + 1) for ESTABLISHED(0)/RELATED(1)/NEW(2),
 * INVALID = 1 << 0, UNTRACKED = 1 << (IP_CT_IS_REPLY + 1), SNAT/DNAT = 1 << (IP_CT_NUMBER + 1/2).
 * `Packet.ctState` holds one state bit plus the SNAT/DNAT bits of its connection.
 */
export const CtState = {
  INVALID: 1,
  ESTABLISHED: 2,
  RELATED: 4,
  NEW: 8,
  UNTRACKED: 16,
  SNAT: 64,
  DNAT: 128,
} as const
export const CT_STATE_NAMES: readonly (readonly [string, number])[] = [
  ["INVALID", CtState.INVALID],
  ["NEW", CtState.NEW],
  ["ESTABLISHED", CtState.ESTABLISHED],
  ["RELATED", CtState.RELATED],
  ["UNTRACKED", CtState.UNTRACKED],
  ["SNAT", CtState.SNAT],
  ["DNAT", CtState.DNAT],
]

/** Conntrack entry status bits (subset of the kernel's enum ip_conntrack_status). */
export const CtStatus = {
  SEEN_REPLY: 1 << 1,
  ASSURED: 1 << 2,
  CONFIRMED: 1 << 3,
  SRC_NAT: 1 << 4,
  DST_NAT: 1 << 5,
  SRC_NAT_DONE: 1 << 7,
  DST_NAT_DONE: 1 << 8,
  /** The timeout is never refreshed (IPS_FIXED_TIMEOUT). */
  FIXED_TIMEOUT: 1 << 10,
  /**
   * A UDP clash loser inserted in the reply direction only (IPS_NAT_CLASH, nf_ct_resolve_clash_harder):
   * original-direction lookups find the winner, conntrack -L does not show it, never ASSURED.
   */
  NAT_CLASH: 1 << 12,
  /** Slot in use (allocated, confirmed or not). Not a kernel bit. */
  USED: 1 << 15,
} as const

/** TCP conntrack states, numbered as enum tcp_conntrack in the kernel (nf_conntrack_tcp.h). */
export const TcpState = {
  NONE: 0,
  SYN_SENT: 1,
  SYN_RECV: 2,
  ESTABLISHED: 3,
  FIN_WAIT: 4,
  CLOSE_WAIT: 5,
  LAST_ACK: 6,
  TIME_WAIT: 7,
  CLOSE: 8,
  SYN_SENT2: 9,
} as const
export type TcpState = (typeof TcpState)[keyof typeof TcpState]
export const TCP_STATE_NAMES = [
  "NONE",
  "SYN_SENT",
  "SYN_RECV",
  "ESTABLISHED",
  "FIN_WAIT",
  "CLOSE_WAIT",
  "LAST_ACK",
  "TIME_WAIT",
  "CLOSE",
  "SYN_SENT2",
] as const

export const TargetKind = {
  /** Rule without `-j`: counts and continues (e.g. kube-proxy's trailing KUBE-FW comment rule). */
  NONE: 0,
  ACCEPT: 1,
  DROP: 2,
  REJECT: 3,
  RETURN: 4,
  JUMP: 5,
  GOTO: 6,
  MARK: 7,
  DNAT: 8,
  SNAT: 9,
  MASQUERADE: 10,
  NOTRACK: 11,
  LOG: 12,
  /** `-j REDIRECT` (ext/xt_REDIRECT.ts): DNAT to the incoming interface's primary address, or 127.0.0.1. */
  REDIRECT: 13,
} as const
export type TargetKind = (typeof TargetKind)[keyof typeof TargetKind]

/** Built-in policy values. */
export const Policy = { ACCEPT: 0, DROP: 1 } as const
export type Policy = (typeof Policy)[keyof typeof Policy]

/** `-m recent` commands (xt_recent.h XT_RECENT_*). */
export const RecentCommand = { SET: 1, CHECK: 2, UPDATE: 4, REMOVE: 8 } as const
