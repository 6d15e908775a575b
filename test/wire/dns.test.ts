/**
 * DNS wire representation: fixed byte fixtures (hand-assembled from RFC 1035 §4.1), the codec's
 * round trip as a property, and the cheap length functions against real encoded bytes.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { knobInt } from "../tier.ts"
import {
  clientBufferBytes,
  compressedLengthBytes,
  coreDnsReplyLengthBytes,
  decodeDnsMessage,
  DnsFlag,
  dnsQuery,
  dnsReply,
  DnsType,
  encodedLengthBytes,
  encodeDnsMessage,
  Rcode,
  type DnsMessage,
  type DnsRecord,
} from "../../src/wire/dns.ts"

/** Bytes of a name written label by label; `pointer` ends it with a compression pointer instead of the root. */
function nameBytes(name: string, pointer?: number): number[] {
  const out: number[] = []
  if (name !== "")
    for (const label of name.split(".")) {
      out.push(label.length)
      for (const c of label) out.push(c.charCodeAt(0))
    }
  if (pointer === undefined) out.push(0)
  else out.push(0xc0 | (pointer >> 8), pointer & 0xff)
  return out
}
const u16 = (n: number): number[] => [n >> 8, n & 0xff]
const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]

const QNAME = "my-svc.default.svc.cluster.local"

describe("wire/dns fixtures", () => {
  it("a glibc-style A query is 50 bytes, byte for byte as RFC 1035 §4.1 lays it out", () => {
    const q = dnsQuery(0xabcd, QNAME, DnsType.A)
    const expected = Uint8Array.from([
      ...[0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0], // id, RD, QDCOUNT=1
      ...nameBytes(QNAME),
      ...u16(1),
      ...u16(1),
    ])
    expect(encodeDnsMessage(q)).toEqual(expected)
    expect(expected.length).toBe(50)
    expect(encodedLengthBytes(q)).toBe(50)
    expect(compressedLengthBytes(q)).toBe(50)
    expect(decodeDnsMessage(expected)).toEqual(q)
  })

  it("a CoreDNS NXDOMAIN with SOA decodes from compressed bytes; compressedLengthBytes matches them", () => {
    // Hand-compressed as miekg/dns packs it: the SOA owner "cluster.local" points into the
    // question (offset 12 + "my-svc"(7) + "default"(8) + "svc"(4) = 31), mname/rname keep their
    // first label and point at the same suffix.
    const soaOwnerOffset = 12 + 7 + 8 + 4
    const rdata = [
      ...nameBytes("ns.dns", soaOwnerOffset),
      ...nameBytes("hostmaster", soaOwnerOffset),
      ...u32(1700000000),
      ...u32(7200),
      ...u32(1800),
      ...u32(86400),
      ...u32(30),
    ]
    const bytes = Uint8Array.from([
      ...[0x12, 0x34, 0x85, 0x03, 0, 1, 0, 0, 0, 1, 0, 0], // QR AA RD, NXDOMAIN, NSCOUNT=1
      ...nameBytes(QNAME),
      ...u16(DnsType.A),
      ...u16(1),
      ...nameBytes("", soaOwnerOffset), // a bare pointer
      ...u16(DnsType.SOA),
      ...u16(1),
      ...u32(30),
      ...u16(rdata.length),
      ...rdata,
    ])
    const msg = decodeDnsMessage(bytes)
    expect(msg.rcode).toBe(Rcode.NXDOMAIN)
    expect(msg.flags).toBe(DnsFlag.QR | DnsFlag.AA | DnsFlag.RD)
    expect(msg.authorities[0]).toEqual({
      name: "cluster.local",
      ttl: 30,
      type: DnsType.SOA,
      mname: "ns.dns.cluster.local",
      rname: "hostmaster.cluster.local",
      serial: 1700000000,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: 30,
    })
    expect(compressedLengthBytes(msg)).toBe(bytes.length)
    // Re-encoded uncompressed by dns-packet: longer, and equal to encodedLengthBytes.
    const plain = encodeDnsMessage(msg)
    expect(plain.length).toBe(encodedLengthBytes(msg))
    expect(plain.length).toBeGreaterThan(bytes.length)
    expect(decodeDnsMessage(plain)).toEqual(msg)
  })

  it("an EDNS(0) OPT record (Go's 1232-byte advertisement) adds 11 bytes and round-trips", () => {
    const q = dnsQuery(3, QNAME, DnsType.AAAA, 1232)
    const bytes = encodeDnsMessage(q)
    expect(bytes.length).toBe(50 + 11)
    expect(encodedLengthBytes(q)).toBe(61)
    expect(Array.from(bytes.slice(-11))).toEqual([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0])
    expect(decodeDnsMessage(bytes)).toEqual(q)
    // A reply echoes the OPT (CoreDNS SizeAndDo) and may then be 1232 bytes over UDP.
    const reply = dnsReply(q, Rcode.NOERROR, DnsFlag.AA, [])
    expect(reply.ednsUdpPayloadBytes).toBe(1232)
    expect(clientBufferBytes(q, "udp")).toBe(1232)
    expect(clientBufferBytes(dnsQuery(4, QNAME, DnsType.A), "udp")).toBe(512)
    expect(clientBufferBytes(q, "tcp")).toBe(65535)
  })

  it("SRV targets are never compressed but later names may point at them (miekg/dns packDomainName)", () => {
    const q = dnsQuery(1, `_http._tcp.${QNAME}`, DnsType.SRV)
    const srv: DnsRecord = {
      name: `_http._tcp.${QNAME}`,
      ttl: 30,
      type: DnsType.SRV,
      priority: 0,
      weight: 100,
      port: 80,
      target: QNAME,
    }
    const extra: DnsRecord = { name: QNAME, ttl: 30, type: DnsType.A, address: "10.96.0.20" }
    const reply = dnsReply(q, Rcode.NOERROR, DnsFlag.AA, [srv], [], [extra])
    const qnameBytes = QNAME.length + 2
    // Header, question (_http._tcp.QNAME), SRV owner -> pointer, SRV target in full (it is a
    // suffix of the question but not compressible), A owner -> pointer.
    const expected = 12 + (11 + qnameBytes + 4) + (2 + 10 + 6 + qnameBytes) + (2 + 10 + 4)
    expect(compressedLengthBytes(reply)).toBe(expected)
  })

  it("compression suffixes match case-sensitively, as miekg/dns's compression map", () => {
    const q = dnsQuery(5, "A.Example.com", DnsType.A)
    const reply = dnsReply(q, Rcode.NOERROR, 0, [
      { name: "a.example.com", ttl: 1, type: DnsType.A, address: "192.0.2.1" },
    ])
    // "a.example.com" cannot point at "A.Example.com"; only the common suffix "com" is shared.
    // Owner: "a" (2) + "example" (8) + pointer to "com" (2), then type/class/TTL/length and A.
    expect(compressedLengthBytes(reply)).toBe(12 + (15 + 4) + (2 + 8 + 2 + 10 + 4))
  })

  it("CoreDNS sends small replies uncompressed and compresses only when they do not fit (request.Scrub)", () => {
    const q = dnsQuery(7, QNAME, DnsType.A)
    const answers: DnsRecord[] = []
    for (let i = 0; i < 30; i++) answers.push({ name: QNAME, ttl: 30, type: DnsType.A, address: `10.244.0.${i + 1}` })
    const small = dnsReply(q, Rcode.NOERROR, DnsFlag.AA, answers.slice(0, 1))
    expect(coreDnsReplyLengthBytes(small, 512, "udp")).toBe(encodedLengthBytes(small))
    const large = dnsReply(q, Rcode.NOERROR, DnsFlag.AA, answers)
    expect(encodedLengthBytes(large)).toBeGreaterThan(512)
    expect(coreDnsReplyLengthBytes(large, 512, "udp")).toBe(compressedLengthBytes(large))
    expect(compressedLengthBytes(large)).toBe(12 + (QNAME.length + 2 + 4) + 30 * (2 + 10 + 4))
    // Over TCP the buffer is 65535: uncompressed.
    expect(coreDnsReplyLengthBytes(large, 65535, "tcp")).toBe(encodedLengthBytes(large))
  })
})

// --- properties -----------------------------------------------------------------------------------

const labelArb = fc.stringMatching(/^[a-z0-9_]([a-z0-9-]{0,14}[a-z0-9])?$/)
const nameArb = fc.array(labelArb, { minLength: 0, maxLength: 6 }).map((labels) => labels.join("."))
const u32Arb = fc.integer({ min: 0, max: 0xffffffff })
const ipv4Arb = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."))
/** Canonical (RFC 5952) IPv6 text: fd00::<h>:<h>, no leading zeros, no zero groups to compress. */
const ipv6Arb = fc
  .tuple(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 1, max: 0xffff }))
  .map(([a, b]) => `fd00::${a.toString(16)}:${b.toString(16)}`)
const recordArb: fc.Arbitrary<DnsRecord> = fc.oneof(
  fc.record({ name: nameArb, ttl: u32Arb, type: fc.constant(DnsType.A), address: ipv4Arb }),
  fc.record({ name: nameArb, ttl: u32Arb, type: fc.constant(DnsType.AAAA), address: ipv6Arb }),
  fc.record({ name: nameArb, ttl: u32Arb, type: fc.constant(DnsType.CNAME), target: nameArb }),
  fc.record({ name: nameArb, ttl: u32Arb, type: fc.constant(DnsType.PTR), target: nameArb }),
  fc.record({
    name: nameArb,
    ttl: u32Arb,
    type: fc.constant(DnsType.SRV),
    priority: fc.nat(0xffff),
    weight: fc.nat(0xffff),
    port: fc.nat(0xffff),
    target: nameArb,
  }),
  fc.record({
    name: nameArb,
    ttl: u32Arb,
    type: fc.constant(DnsType.SOA),
    mname: nameArb,
    rname: nameArb,
    serial: u32Arb,
    refresh: u32Arb,
    retry: u32Arb,
    expire: u32Arb,
    minimum: u32Arb,
  }),
  fc.record({
    name: nameArb,
    ttl: u32Arb,
    type: fc.constant(DnsType.TXT),
    text: fc.array(fc.stringMatching(/^[ -~]{0,40}$/), { minLength: 1, maxLength: 3 }),
  }),
)
const flagsArb = fc
  .subarray([DnsFlag.QR, DnsFlag.AA, DnsFlag.TC, DnsFlag.RD, DnsFlag.RA, DnsFlag.AD, DnsFlag.CD])
  .map((bits) => bits.reduce((a, b) => a | b, 0))
const messageArb: fc.Arbitrary<DnsMessage> = fc.record(
  {
    id: fc.nat(0xffff),
    flags: flagsArb,
    rcode: fc.constantFrom(Rcode.NOERROR, Rcode.SERVFAIL, Rcode.NXDOMAIN, Rcode.REFUSED),
    questions: fc.array(
      fc.record({ name: nameArb, type: fc.constantFrom(DnsType.A, DnsType.AAAA, DnsType.SRV, DnsType.PTR, 65) }),
      { maxLength: 2 },
    ),
    answers: fc.array(recordArb, { maxLength: 5 }),
    authorities: fc.array(recordArb, { maxLength: 2 }),
    additionals: fc.array(recordArb, { maxLength: 3 }),
    ednsUdpPayloadBytes: fc.integer({ min: 512, max: 65535 }),
  },
  { requiredKeys: ["id", "flags", "rcode", "questions", "answers", "authorities", "additionals"] },
)

/** Property runs: KUBE_NETSIM_DNS_WIRE_RUNS, 150 in the quick tier, 3000 in the extensive one. */
const RUNS = knobInt("DNS_WIRE_RUNS", 150, 3000)

describe("wire/dns properties", () => {
  it("decode(encode(m)) === m", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        expect(decodeDnsMessage(encodeDnsMessage(m))).toEqual(m)
      }),
      { numRuns: RUNS },
    )
  })

  it("encodedLengthBytes(m) === encoded byte length", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        expect(encodedLengthBytes(m)).toBe(encodeDnsMessage(m).length)
      }),
      { numRuns: RUNS },
    )
  })

  it("compression never lengthens a message and saves exactly 0 bytes when no name repeats a suffix", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        expect(compressedLengthBytes(m)).toBeLessThanOrEqual(encodedLengthBytes(m))
      }),
      { numRuns: RUNS },
    )
    const lone = dnsQuery(1, "a.b", DnsType.A)
    expect(compressedLengthBytes(lone)).toBe(encodedLengthBytes(lone))
  })
})
