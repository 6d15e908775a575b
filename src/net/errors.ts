/**
 * Errors a socket owner sees, as small integers (errno-like). Simulated outcomes, never thrown.
 *
 * Mapping from ICMP follows the kernel's icmp_err_convert[] (net/ipv4/icmp.c): net unreachable ->
 * ENETUNREACH, host unreachable -> EHOSTUNREACH, protocol unreachable -> ENOPROTOOPT, port
 * unreachable -> ECONNREFUSED, communication administratively prohibited (13) -> EHOSTUNREACH.
 */
export const NetError = {
  NONE: 0,
  /** ECONNREFUSED: RST in SYN_SENT, or ICMP port unreachable. */
  REFUSED: 1,
  /** ECONNRESET: RST on a synchronized connection. */
  RESET: 2,
  /** ETIMEDOUT: SYN or data retransmissions exhausted. */
  TIMEOUT: 3,
  /** EHOSTUNREACH. */
  HOST_UNREACHABLE: 4,
  /** ENETUNREACH: no route (local) or ICMP net unreachable. */
  NET_UNREACHABLE: 5,
  /** ENOPROTOOPT: ICMP protocol unreachable. */
  PROTOCOL_UNREACHABLE: 6,
  /** ICMP time exceeded (ping reports it; TCP treats it as a soft error). */
  TTL_EXCEEDED: 7,
  /** EADDRNOTAVAIL: no free ephemeral port for the destination. */
  PORT_EXHAUSTED: 8,
} as const
export type NetError = (typeof NetError)[keyof typeof NetError]

export const NET_ERROR_NAMES: readonly string[] = [
  "none",
  "refused",
  "reset",
  "timeout",
  "host-unreachable",
  "net-unreachable",
  "protocol-unreachable",
  "ttl-exceeded",
  "port-exhausted",
]

export function netErrorName(error: number): string {
  return NET_ERROR_NAMES[error] ?? `error-${error}`
}
