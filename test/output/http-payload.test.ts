/**
 * The HTTP text pcap writes into TCP payloads (output/http-payload.ts): exactly the model's message
 * sizes, a response's Content-Length matching its size, zeros where the sizes do not allow HTTP.
 * tshark's dissection of it is checked in pcap.test.ts.
 */
import { describe, expect, it } from "vitest"
import { HttpPayloads, httpRequestText, httpResponseHead } from "../../src/output/http-payload.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import { Packet } from "../../src/wire/packet.ts"
import { Protocol, TcpFlag } from "../../src/wire/protocol.ts"

const text = (bytes: Uint8Array | null) => (bytes === null ? null : new TextDecoder().decode(bytes))

function segment(src: string, sport: number, dst: string, dport: number, seq: number, ack: number, bytes: number) {
  const p = new Packet()
  p.protocol = Protocol.TCP
  p.srcAddr = ipv4(src)
  p.dstAddr = ipv4(dst)
  p.srcPort = sport
  p.dstPort = dport
  p.tcpSeq = seq
  p.tcpAck = ack
  p.tcpFlags = TcpFlag.ACK
  p.payloadBytes = bytes
  return p
}

describe("HTTP payloads for pcap", () => {
  it("a request of exactly requestBytes, padded in the User-Agent; too small: null", () => {
    const request = text(httpRequestText("web", "/index.html", 100))
    expect(request).toHaveLength(100)
    expect(request).toMatch(/^GET \/index\.html HTTP\/1\.1\r\nHost: web\r\nUser-Agent: kube-netsimx*\r\n\r\n$/)
    const shortest = "GET / HTTP/1.1\r\nHost: web\r\nUser-Agent: kube-netsim\r\n\r\n"
    expect(text(httpRequestText("web", "", shortest.length))).toBe(shortest)
    expect(httpRequestText("web", "/", shortest.length - 1)).toBeNull()
  })

  it("a response head whose Content-Length makes the message exactly its size", () => {
    for (const size of [78, 87, 88, 89, 150, 853, 5000, 1_000_000]) {
      const head = text(httpResponseHead(size)) as string
      const length = Number(/Content-Length: (\d+)\r\n\r\n$/.exec(head)?.[1])
      expect(head.length + length).toBe(size)
    }
    // 78 bytes of headers with a one-digit length, 79 with two: 88 bytes in all needs "09".
    expect(text(httpResponseHead(78))).toMatch(/Content-Length: 0\r\n\r\n$/)
    expect(text(httpResponseHead(88))).toMatch(/Content-Length: 09\r\n\r\n$/)
    expect(text(httpResponseHead(89))).toMatch(/Content-Length: 10\r\n\r\n$/)
    expect(httpResponseHead(77)).toBeNull()
  })

  it("matches a response to its request by reversed tuple and sequence number; tcp:// stays zeros", () => {
    const payloads = new HttpPayloads()
    const request = segment("10.0.0.5", 40000, "10.96.0.10", 80, 1001, 5001, 100)
    request.tcpFlags |= TcpFlag.PSH
    request.appData = { workload: 0, responseBytes: 3000, requestBytes: 100, http: { host: "web", path: "/" } }
    expect(text(payloads.payloadOf(request))).toMatch(/^GET \/ HTTP\/1\.1\r\n/)
    // The response's first segment (1448 of 3000 bytes): headers for 3000, then zeros.
    const first = segment("10.96.0.10", 80, "10.0.0.5", 40000, 5001, 1101, 1448)
    const head = payloads.payloadOf(first) as Uint8Array
    expect(head).toHaveLength(1448)
    expect(text(head.slice(0, 81))).toMatch(/^HTTP\/1\.1 200 OK\r\n.*Content-Length: 2919\r\n\r\n$/s)
    expect(head.slice(81).every((b) => b === 0)).toBe(true)
    // Later segments, and segments of other flows: zeros (null).
    expect(payloads.payloadOf(segment("10.96.0.10", 80, "10.0.0.5", 40000, 6449, 1101, 1448))).toBeNull()
    expect(payloads.payloadOf(segment("10.96.0.10", 80, "10.0.0.6", 40000, 5001, 1101, 1448))).toBeNull()
    const tcpScheme = segment("10.0.0.5", 40001, "10.96.0.10", 80, 1, 1, 100)
    tcpScheme.tcpFlags |= TcpFlag.PSH
    tcpScheme.appData = { workload: 1, responseBytes: 0, requestBytes: 100, http: null }
    expect(payloads.payloadOf(tcpScheme)).toBeNull()
    expect(payloads.payloadOf(segment("10.96.0.10", 80, "10.0.0.5", 40001, 1, 101, 150))).toBeNull()
  })
})
