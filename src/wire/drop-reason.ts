/**
 * Why a packet was dropped, as small integers on the hot path and stable names in results.
 * Modelled after ns-3's Ipv4L3Protocol::DropReason and the kernel's skb drop reasons.
 * Append only: names appear in results documents that scripts read.
 */
export const DropReason = {
  NO_ROUTE: 0,
  TTL_EXPIRED: 1,
  QUEUE_FULL: 2,
  LINK_LOSS: 3,
  MTU_EXCEEDED: 4,
  NETFILTER_DROP: 5,
  NETFILTER_REJECT: 6,
  CONNTRACK_FULL: 7,
  CONNTRACK_INVALID: 8,
  NO_SOCKET: 9,
  CONNTRACK_INSERT_FAILED: 10,
  INTERFACE_DOWN: 11,
  NO_NEIGHBOUR: 12,
  RP_FILTER: 13,
  MARTIAN: 14,
  /** The per-CPU ingress backlog (netdev_max_backlog) was full: enqueue_to_backlog, softnet_stat dropped. */
  BACKLOG: 15,
  /** A NIC's RX ring was full (no free descriptor): the NIC drops it (rx_missed / rx_drops). */
  RX_RING: 16,
} as const
export type DropReason = (typeof DropReason)[keyof typeof DropReason]

export const DROP_REASON_NAMES: readonly string[] = [
  "no-route",
  "ttl-expired",
  "queue-full",
  "link-loss",
  "mtu-exceeded",
  "netfilter-drop",
  "netfilter-reject",
  "conntrack-full",
  "conntrack-invalid",
  "no-socket",
  "conntrack-insert-failed",
  "interface-down",
  "no-neighbour",
  "rp-filter",
  "martian",
  "backlog",
  "rx-ring",
]

export function dropReasonName(reason: number): string {
  return DROP_REASON_NAMES[reason] ?? `reason-${reason}`
}
