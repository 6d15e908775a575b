/**
 * HTTP/1.1 text for the pcap's TCP payloads where the model's sizes allow it, so Wireshark
 * dissects the exchanges (the model carries message sizes, not contents; everything else stays
 * zeros, wire/packet-bytes.ts).
 *
 * - A request of an http:// workload that one segment carries whole (its PSH segment is exactly
 *   `requestBytes` long): `GET <path> HTTP/1.1`, `Host`, a `User-Agent` whose value is padded so
 *   the message has exactly `requestBytes` bytes, and the empty line. Too short for that (under
 *   about 45 bytes): zeros.
 * - Its response: the first segment of the server's next message (its sequence number is the
 *   request's acknowledgement number: one request at a time per connection) starts with
 *   `HTTP/1.1 200 OK`, `Content-Type: application/octet-stream` and a `Content-Length` that makes
 *   the message exactly its size; the body is zeros. The size is the segment's when it carries the
 *   whole response (PSH), else the workload's `responseBytes`; when neither is known (a response
 *   over several segments at the server's own size) or the headers do not fit the first segment,
 *   zeros.
 * - tcp:// workloads (the same request/response exchange without HTTP) and other TCP payloads:
 *   zeros.
 *
 * The response is matched by the request's reversed 4-tuple and sequence number as seen at the
 * capture point, so NAT on the way changes nothing. At most RESPONSE_TABLE_MAX responses are
 * awaited at once (the oldest is forgotten first: its response then stays zeros).
 */
import { isHttpRequestInfo } from "../apps/http.ts"
import type { Packet } from "../wire/packet.ts"
import { Protocol, TcpFlag } from "../wire/protocol.ts"

const RESPONSE_TABLE_MAX = 1 << 16
const USER_AGENT = "kube-netsim"
const RESPONSE_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "

const encoder = new TextEncoder()

/** The request text of exactly `bytes` bytes (ASCII), or null when it cannot be that short. */
export function httpRequestText(host: string, path: string, bytes: number): Uint8Array | null {
  const head = `GET ${path === "" ? "/" : path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${USER_AGENT}`
  const tail = "\r\n\r\n"
  const pad = bytes - head.length - tail.length
  if (pad < 0 || !/^[\x21-\x7e]*$/.test(host + path)) return null
  return encoder.encode(`${head}${"x".repeat(pad)}${tail}`)
}

/**
 * The response's header block for a message of `bytes` bytes in all (headers + body), with its
 * Content-Length, or null when the headers alone do not fit.
 */
export function httpResponseHead(bytes: number): Uint8Array | null {
  for (let digits = 1; digits <= 10; digits++) {
    const headBytes = RESPONSE_HEAD.length + digits + 4
    const body = bytes - headBytes
    if (body < 0) return null
    // One size has no exact digit count (88 bytes: 10 needs 2 digits, which leaves 9): a leading
    // zero keeps it exact (Content-Length is 1*DIGIT, RFC 9110 8.6).
    if (String(body).length <= digits)
      return encoder.encode(`${RESPONSE_HEAD}${String(body).padStart(digits, "0")}\r\n\r\n`)
  }
  return null
}

export class HttpPayloads {
  /** Awaited responses: "src:sport>dst:dport@seq" of the response's first segment -> its size (-1 unknown). */
  private readonly awaited = new Map<string, number>()

  /** The segment's payload as HTTP text, or null for zeros. */
  payloadOf(p: Packet): Uint8Array | null {
    if (p.protocol !== Protocol.TCP || p.payloadBytes === 0) return null
    const info = p.appData
    if ((p.tcpFlags & TcpFlag.PSH) !== 0 && isHttpRequestInfo(info)) {
      if (info.http === null) return null
      this.expectResponse(p, info.responseBytes > 0 ? info.responseBytes : -1)
      return p.payloadBytes === info.requestBytes
        ? httpRequestText(info.http.host, info.http.path, info.requestBytes)
        : null
    }
    if (this.awaited.size === 0) return null
    const size = this.awaited.get(`${p.srcAddr}:${p.srcPort}>${p.dstAddr}:${p.dstPort}@${p.tcpSeq >>> 0}`)
    if (size === undefined) return null
    const bytes = (p.tcpFlags & TcpFlag.PSH) !== 0 ? p.payloadBytes : size
    if (bytes < p.payloadBytes) return null
    const head = httpResponseHead(bytes)
    if (head === null || head.length > p.payloadBytes) return null
    const payload = new Uint8Array(p.payloadBytes)
    payload.set(head)
    return payload
  }

  /** The response to this request starts at the request's acknowledgement number. */
  private expectResponse(request: Packet, size: number): void {
    const key = `${request.dstAddr}:${request.dstPort}>${request.srcAddr}:${request.srcPort}@${request.tcpAck >>> 0}`
    this.awaited.delete(key)
    this.awaited.set(key, size)
    if (this.awaited.size > RESPONSE_TABLE_MAX) {
      const oldest = this.awaited.keys().next()
      if (oldest.done !== true) this.awaited.delete(oldest.value)
    }
  }
}
