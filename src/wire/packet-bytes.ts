/**
 * The bytes a simulated packet would have on the wire, for pcap capture: an IPv4 header (RFC 791,
 * no options, DF set, identification = low 16 bits of the packet id, header checksum), then TCP
 * (RFC 9293: flags, sequence and acknowledgement numbers, window 65535; a SYN carries Linux's
 * option block MSS, SACK-permitted, timestamps, NOP, window scale, which is the
 * `tcpSynOptionBytes` = 20 the model charges), UDP (RFC 768) or ICMP (RFC 792: echo identifier and
 * sequence; errors quote the offending packet's IPv4 header and first 8 transport bytes), each
 * with its checksum over the pseudo-header.
 *
 * Payloads. A DNS message (the packet's appData, UDP or TCP port 53) is encoded with the DNS codec
 * (wire/dns.ts, uncompressed; over TCP with its 2-byte length prefix when one segment carries it);
 * then the lengths are the encoded message's, which can exceed the model's (compressed) size.
 * A caller may give a TCP segment's payload bytes (`payload`, exactly the segment's length: the
 * HTTP text output/http-payload.ts writes). Every other payload (HTTP bodies, echo data) is that
 * many zero bytes: the model carries sizes, not contents.
 */
import { encodeDnsMessage, type DnsMessage } from "./dns.ts"
import type { Packet } from "./packet.ts"
import { IcmpType, IPV4_HEADER_BYTES, Protocol, TcpFlag } from "./protocol.ts"

const DNS_PORT = 53
/** Window field: 65535 in a SYN (unscaled), then 512 << 7 = 64 KiB with the window scale 7 the SYN offers. */
const TCP_WINDOW_SYN = 65535
const TCP_WINDOW = 512
/** Linux SYN options: MSS 1460, SACK permitted, timestamps, NOP, window scale 7 (20 bytes). */
const SYN_OPTIONS = Uint8Array.of(2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7)

function isDnsMessage(data: object | null): data is DnsMessage {
  return data !== null && "questions" in data && "answers" in data && "flags" in data && "rcode" in data
}

/** Ones' complement sum of `bytes[from, to)` added to `sum` (not folded). */
function onesSum(bytes: Uint8Array, from: number, to: number, sum: number): number {
  let s = sum
  let i = from
  for (; i + 1 < to; i += 2) s += (bytes[i] << 8) | bytes[i + 1]
  if (i < to) s += bytes[i] << 8
  return s
}

function fold(sum: number): number {
  let s = sum
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000)
  return ~s & 0xffff
}

function writeIpv4Header(
  out: Uint8Array,
  at: number,
  totalBytes: number,
  id: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
): void {
  const view = new DataView(out.buffer, out.byteOffset)
  out[at] = 0x45
  out[at + 1] = 0
  view.setUint16(at + 2, totalBytes)
  view.setUint16(at + 4, id & 0xffff)
  view.setUint16(at + 6, 0x4000) // DF, fragment offset 0
  out[at + 8] = ttl & 0xff
  out[at + 9] = protocol
  view.setUint16(at + 10, 0)
  view.setUint32(at + 12, src >>> 0)
  view.setUint32(at + 16, dst >>> 0)
  view.setUint16(at + 10, fold(onesSum(out, at, at + 20, 0)))
}

/** Pseudo-header sum (RFC 768 / RFC 9293) for a transport segment of `length` bytes. */
function pseudoSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length
}

function dnsPayload(p: Packet, tcp: boolean): Uint8Array | null {
  if ((p.srcPort !== DNS_PORT && p.dstPort !== DNS_PORT) || !isDnsMessage(p.appData)) return null
  const message = encodeDnsMessage(p.appData)
  if (!tcp) return message
  // Over TCP only a segment that carries the whole length-prefixed message is encoded.
  if (p.payloadBytes < message.length + 2 && p.payloadBytes !== 0) return null
  const framed = new Uint8Array(message.length + 2)
  new DataView(framed.buffer).setUint16(0, message.length)
  framed.set(message, 2)
  return framed
}

/** The packet's IPv4 datagram as bytes; `payload`: a TCP segment's payload (its length exactly). */
export function packetBytes(p: Packet, payload: Uint8Array | null = null): Uint8Array {
  switch (p.protocol) {
    case Protocol.TCP:
      return tcpBytes(p, payload !== null && payload.length === p.payloadBytes ? payload : null)
    case Protocol.UDP:
      return udpBytes(p)
    case Protocol.ICMP:
      return icmpBytes(p)
    default: {
      const out = new Uint8Array(Math.max(IPV4_HEADER_BYTES, p.totalBytes))
      writeIpv4Header(out, 0, out.length, p.id, p.ttl, p.protocol, p.srcAddr, p.dstAddr)
      return out
    }
  }
}

function tcpBytes(p: Packet, payload: Uint8Array | null): Uint8Array {
  const syn = (p.tcpFlags & TcpFlag.SYN) !== 0
  const headerBytes = syn ? 20 + SYN_OPTIONS.length : 20
  const dns = payload ?? (p.payloadBytes > 0 ? dnsPayload(p, true) : null)
  const payloadBytes = dns?.length ?? p.payloadBytes
  const segmentBytes = headerBytes + payloadBytes
  const out = new Uint8Array(IPV4_HEADER_BYTES + segmentBytes)
  writeIpv4Header(out, 0, out.length, p.id, p.ttl, Protocol.TCP, p.srcAddr, p.dstAddr)
  const at = IPV4_HEADER_BYTES
  const view = new DataView(out.buffer)
  view.setUint16(at, p.srcPort)
  view.setUint16(at + 2, p.dstPort)
  view.setUint32(at + 4, p.tcpSeq >>> 0)
  view.setUint32(at + 8, p.tcpAck >>> 0)
  out[at + 12] = (headerBytes / 4) << 4
  out[at + 13] = p.tcpFlags & 0x3f
  view.setUint16(at + 14, syn ? TCP_WINDOW_SYN : TCP_WINDOW)
  if (syn) out.set(SYN_OPTIONS, at + 20)
  if (dns !== null) out.set(dns, at + headerBytes)
  const sum = onesSum(out, at, out.length, pseudoSum(p.srcAddr, p.dstAddr, Protocol.TCP, segmentBytes))
  view.setUint16(at + 16, fold(sum))
  return out
}

function udpBytes(p: Packet): Uint8Array {
  const dns = dnsPayload(p, false)
  const payloadBytes = dns?.length ?? p.payloadBytes
  const datagramBytes = 8 + payloadBytes
  const out = new Uint8Array(IPV4_HEADER_BYTES + datagramBytes)
  writeIpv4Header(out, 0, out.length, p.id, p.ttl, Protocol.UDP, p.srcAddr, p.dstAddr)
  const at = IPV4_HEADER_BYTES
  const view = new DataView(out.buffer)
  view.setUint16(at, p.srcPort)
  view.setUint16(at + 2, p.dstPort)
  view.setUint16(at + 4, datagramBytes)
  if (dns !== null) out.set(dns, at + 8)
  const checksum = fold(onesSum(out, at, out.length, pseudoSum(p.srcAddr, p.dstAddr, Protocol.UDP, datagramBytes)))
  // A computed 0 is sent as 0xffff (RFC 768: 0 means "no checksum").
  view.setUint16(at + 6, checksum === 0 ? 0xffff : checksum)
  return out
}

function icmpBytes(p: Packet): Uint8Array {
  const messageBytes = 8 + p.payloadBytes
  const out = new Uint8Array(IPV4_HEADER_BYTES + messageBytes)
  writeIpv4Header(out, 0, out.length, p.id, p.ttl, Protocol.ICMP, p.srcAddr, p.dstAddr)
  const at = IPV4_HEADER_BYTES
  const view = new DataView(out.buffer)
  out[at] = p.icmpType
  out[at + 1] = p.icmpCode
  if (p.icmpType === IcmpType.ECHO_REQUEST || p.icmpType === IcmpType.ECHO_REPLY) {
    view.setUint16(at + 4, p.srcPort & 0xffff)
    view.setUint16(at + 6, p.tcpSeq & 0xffff)
  } else if (p.payloadBytes >= IPV4_HEADER_BYTES + 8) {
    // The quoted packet: its IPv4 header and the first 8 bytes of its transport header.
    const inner = at + 8
    writeIpv4Header(out, inner, p.payloadBytes, 0, 64, p.innerProtocol, p.innerSrcAddr, p.innerDstAddr)
    const l4 = inner + IPV4_HEADER_BYTES
    if (p.innerProtocol === Protocol.ICMP) {
      out[l4] = IcmpType.ECHO_REQUEST
      view.setUint16(l4 + 4, p.innerSrcPort & 0xffff)
      view.setUint16(l4 + 6, p.tcpSeq & 0xffff)
    } else {
      view.setUint16(l4, p.innerSrcPort)
      view.setUint16(l4 + 2, p.innerDstPort)
      if (p.innerProtocol === Protocol.UDP) view.setUint16(l4 + 4, p.payloadBytes - IPV4_HEADER_BYTES)
    }
  }
  view.setUint16(at + 2, fold(onesSum(out, at, out.length, 0)))
  return out
}
