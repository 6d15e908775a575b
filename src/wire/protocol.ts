/** IP protocol numbers (IANA) and TCP flag bits (RFC 9293). */
export const Protocol = { ICMP: 1, TCP: 6, UDP: 17 } as const
export type Protocol = (typeof Protocol)[keyof typeof Protocol]

export function protocolName(protocol: number): string {
  switch (protocol) {
    case Protocol.ICMP:
      return "icmp"
    case Protocol.TCP:
      return "tcp"
    case Protocol.UDP:
      return "udp"
    default:
      return String(protocol)
  }
}

export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const

/** ICMP types and codes used by the model (RFC 792). */
export const IcmpType = { ECHO_REPLY: 0, DEST_UNREACHABLE: 3, ECHO_REQUEST: 8, TIME_EXCEEDED: 11 } as const
export const IcmpCode = { NET_UNREACHABLE: 0, HOST_UNREACHABLE: 1, PORT_UNREACHABLE: 3 } as const

export const IPV4_HEADER_BYTES = 20
export const UDP_HEADER_BYTES = 8
export const TCP_HEADER_BYTES = 20
export const ICMP_HEADER_BYTES = 8
