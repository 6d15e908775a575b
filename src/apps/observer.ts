/**
 * What applications report. The runtime (cluster/) implements RequestObserver and turns the calls
 * into statistics; apps/ itself keeps no statistics (stats/ sits above it).
 */
import type { Ipv4 } from "../wire/ipv4.ts"

/** Who answered: a pod or an external host. One constant object per server, carried in replies. */
export interface ServerIdentity {
  /** Dense index over all servers of the run (endpoint id for statistics). */
  readonly index: number
  /** Pod name (or external host name): the key of the distribution by endpoint. */
  readonly name: string
  readonly address: Ipv4
  /** Node the pod runs on ("" for external hosts). */
  readonly node: string
}

/** Why a request failed; names appear in results (`failedByReason`). */
export const FailureReason = {
  REFUSED: 0,
  RESET: 1,
  TIMEOUT: 2,
  NO_ROUTE: 3,
  HOST_UNREACHABLE: 4,
  PROTOCOL_UNREACHABLE: 5,
  TTL_EXCEEDED: 6,
  /** The name in the workload's target could not be resolved. */
  UNRESOLVED: 7,
  /** dns.mode packets: the stub resolver gave up (no reply within its timeouts: EAI_AGAIN). */
  DNS_TIMEOUT: 8,
  /** Every name tried answered NXDOMAIN (EAI_NONAME). */
  NXDOMAIN: 9,
  /** The name exists without an address (EAI_NODATA). */
  DNS_NODATA: 10,
  /** SERVFAIL ended the lookup (EAI_AGAIN). */
  DNS_SERVFAIL: 11,
  /** REFUSED ended the lookup. */
  DNS_REFUSED: 12,
  /** Any other resolver failure (EAI_FAIL). */
  DNS_FAIL: 13,
} as const
export type FailureReason = (typeof FailureReason)[keyof typeof FailureReason]

export const FAILURE_REASON_NAMES: readonly string[] = [
  "refused",
  "reset",
  "timeout",
  "no-route",
  "host-unreachable",
  "protocol-unreachable",
  "ttl-exceeded",
  "unresolved",
  "dns-timeout",
  "nxdomain",
  "dns-nodata",
  "dns-servfail",
  "dns-refused",
  "dns-fail",
]

export interface RequestObserver {
  onRequestSent(workload: number, nowNs: number): void
  /** `server` is null when the reply carries no identity (ping replies from a node, say). */
  onRequestCompleted(workload: number, latencyNs: number, server: ServerIdentity | null, nowNs: number): void
  onRequestFailed(workload: number, reason: FailureReason, nowNs: number): void
  /** A server handled a request of `workload` and saw it come from `clientAddress`. */
  onServerRequest(workload: number, server: ServerIdentity, clientAddress: Ipv4): void
  /**
   * Optional: one call per finished request of client `client` (Apps' client index), for the
   * per-request records of `run --requests`. `reason` is -1 for a completed request. A failed
   * request gives its socket's local address and port (`localPort` -1 when it had no socket),
   * with which the records find the endpoint its flow was sent to.
   */
  /**
   * True when onRequestDone keeps what it is told (records are being written): completed
   * requests are reported to it only then.
   */
  readonly recordsRequests?: boolean
  onRequestDone?(
    workload: number,
    client: number,
    startNs: number,
    dstAddr: Ipv4,
    server: ServerIdentity | null,
    reason: FailureReason | -1,
    nowNs: number,
    localAddr: Ipv4,
    localPort: number,
  ): void
}
