/**
 * Modelled parameters of the network stack, each with its default and where the default comes from
 * (MODEL.md lists them). Linux-defined constants are reproduced exactly; modelled costs are named.
 */
import { NS_PER_MS, NS_PER_S } from "../sim/time.ts"

export interface NetParams {
  /** IP TTL of locally generated packets. Linux sysctl net.ipv4.ip_default_ttl = 64. */
  readonly defaultTtl: number
  /**
   * Simulated CPU time charged per forwarded packet per hop (ip_forward path), on top of the
   * netfilter cost. Default 0: NetworkSpec's latencies are measured hop to hop and already include
   * the kernel's forwarding work; studies of CPU cost set it (e.g. 1000 ns ~ 1 Mpps per core).
   */
  readonly forwardCostNs: number
  /** One-way latency of the loopback device. Default 0 (a loopback "transmit" is a function call). */
  readonly loopbackLatencyNs: number
  /** MTU of lo. Linux default 65536. */
  readonly loopbackMtuBytes: number
  /**
   * Bytes added to an IP packet on a wire with finite bandwidth: Ethernet preamble+SFD 8, header 14,
   * FCS 4, inter-frame gap 12 (IEEE 802.3) = 38. Only links with bandwidth > 0 serialize.
   */
  readonly ethernetOverheadBytes: number
  /** Ephemeral port range. Linux net.ipv4.ip_local_port_range default "32768 60999". */
  readonly ephemeralPortMin: number
  readonly ephemeralPortMax: number
  /** Initial SYN RTO. Linux TCP_TIMEOUT_INIT = 1 s (RFC 6298 2.1). */
  readonly tcpSynRtoNs: number
  /** SYN retransmissions before connect() fails with ETIMEDOUT. Linux net.ipv4.tcp_syn_retries = 6 (127 s). */
  readonly tcpSynRetries: number
  /** SYN-ACK retransmissions before a half-open connection is dropped. Linux tcp_synack_retries = 5. */
  readonly tcpSynAckRetries: number
  /** Lower bound of the data RTO. Linux TCP_RTO_MIN = 200 ms. */
  readonly tcpRtoMinNs: number
  /** Upper bound of the RTO. Linux TCP_RTO_MAX = 120 s. */
  readonly tcpRtoMaxNs: number
  /** Consecutive data RTOs before the connection fails with ETIMEDOUT. Linux tcp_retries2 = 15 (counted, not Linux's time-based bound). */
  readonly tcpDataRetries: number
  /** TIME_WAIT duration. Linux TCP_TIMEWAIT_LEN = 60 s (2*MSL, hard-coded). */
  readonly tcpTimeWaitNs: number
  /** FIN_WAIT_2 timeout of a closed socket. Linux net.ipv4.tcp_fin_timeout = 60 s. */
  readonly tcpFinWait2TimeoutNs: number
  /** Initial congestion window in segments. Linux TCP_INIT_CWND = 10 (RFC 6928). */
  readonly tcpInitialWindowSegments: number
  /**
   * Largest window in bytes (slow start grows cwnd up to here). Default 65535: the largest window
   * without window scaling; receive-buffer autotuning is not modelled.
   */
  readonly tcpWindowBytesMax: number
  /** Bytes of TCP options on a SYN / SYN-ACK (MSS 4, SACK_PERM 2, timestamps 10, NOP 1, wscale 3 = 20, Linux default). */
  readonly tcpSynOptionBytes: number
  /** Echo payload of ping(8): 56 bytes ("56(84) bytes of data"). */
  readonly pingPayloadBytes: number
}

export const DEFAULT_NET_PARAMS: NetParams = {
  defaultTtl: 64,
  forwardCostNs: 0,
  loopbackLatencyNs: 0,
  loopbackMtuBytes: 65536,
  ethernetOverheadBytes: 38,
  ephemeralPortMin: 32768,
  ephemeralPortMax: 60999,
  tcpSynRtoNs: 1 * NS_PER_S,
  tcpSynRetries: 6,
  tcpSynAckRetries: 5,
  tcpRtoMinNs: 200 * NS_PER_MS,
  tcpRtoMaxNs: 120 * NS_PER_S,
  tcpDataRetries: 15,
  tcpTimeWaitNs: 60 * NS_PER_S,
  tcpFinWait2TimeoutNs: 60 * NS_PER_S,
  tcpInitialWindowSegments: 10,
  tcpWindowBytesMax: 65535,
  tcpSynOptionBytes: 20,
  pingPayloadBytes: 56,
}
