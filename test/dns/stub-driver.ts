/**
 * A tiny event loop that drives a stub lookup against scripted nameservers: every send gets a
 * reply after `rttNs` unless the responder drops it. Records every send and close with its time.
 */
import type { StubLookup, StubOutcome } from "../../src/dns/stub/types.ts"
import { DnsFlag, dnsReply, DnsType, Rcode, type DnsMessage, type DnsRecord } from "../../src/wire/dns.ts"

export interface SentQuery {
  readonly atNs: number
  readonly socket: number
  readonly transport: "udp" | "tcp"
  readonly server: number
  readonly name: string
  readonly qtype: number
  readonly id: number
}

export interface DriveResult {
  readonly outcome: StubOutcome
  readonly sends: readonly SentQuery[]
  readonly opened: ReadonlySet<number>
  readonly closed: ReadonlySet<number>
  readonly endNs: number
}

/** Returns the reply for a query, or null to drop it (lost datagram / dead server). */
export type Responder = (query: DnsMessage, server: number, send: SentQuery, index: number) => DnsMessage | null

export function drive(lookup: StubLookup, responder: Responder, rttNs = 1_000_000, eventsMax = 10_000): DriveResult {
  const sends: SentQuery[] = []
  const opened = new Set<number>()
  const closed = new Set<number>()
  const pending: { atNs: number; socket: number; server: number; reply: DnsMessage }[] = []
  let outcome: StubOutcome | null = null
  let nowNs = 0
  const apply = (actions: ReturnType<StubLookup["start"]>): void => {
    for (const a of actions) {
      if (a.kind === "send") {
        opened.add(a.socket)
        const q = a.query.questions[0]
        const sent: SentQuery = {
          atNs: nowNs,
          socket: a.socket,
          transport: a.transport,
          server: a.server,
          name: q.name,
          qtype: q.type,
          id: a.query.id,
        }
        sends.push(sent)
        const reply = responder(a.query, a.server, sent, sends.length - 1)
        if (reply !== null) pending.push({ atNs: nowNs + rttNs, socket: a.socket, server: a.server, reply })
      } else if (a.kind === "close") {
        if (closed.has(a.socket)) throw new Error(`socket ${a.socket} closed twice`)
        closed.add(a.socket)
      } else {
        if (outcome !== null) throw new Error("two done actions")
        outcome = a.outcome
      }
    }
  }
  apply(lookup.start(nowNs))
  for (let events = 0; !lookup.finished; events++) {
    if (events > eventsMax) throw new Error("lookup did not end")
    pending.sort((a, b) => a.atNs - b.atNs)
    const next = pending[0]
    const deadline = lookup.deadlineNs
    if (next !== undefined && (deadline < 0 || next.atNs <= deadline)) {
      pending.shift()
      nowNs = next.atNs
      if (!closed.has(next.socket)) apply(lookup.onReply(nowNs, next.socket, next.server, next.reply))
    } else if (deadline >= 0) {
      nowNs = deadline
      apply(lookup.onTimeout(nowNs))
    } else throw new Error("lookup waits on nothing")
  }
  if (outcome === null) throw new Error("finished without a done action")
  return { outcome, sends, opened, closed, endNs: nowNs }
}

/**
 * A cluster-ish server: names in `a` answer A (and NODATA for AAAA, as CoreDNS for an IPv4
 * service); names in `nodata` answer NOERROR-empty; everything else NXDOMAIN. aa=1 as CoreDNS.
 */
export function zoneResponder(a: Record<string, string>, nodata: readonly string[] = []): Responder {
  return (query) => {
    const q = query.questions[0]
    const address = a[q.name]
    if (address !== undefined) {
      const answers: DnsRecord[] = q.type === DnsType.A ? [{ name: q.name, ttl: 30, type: DnsType.A, address }] : []
      return dnsReply(query, Rcode.NOERROR, DnsFlag.AA, answers)
    }
    if (nodata.includes(q.name)) return dnsReply(query, Rcode.NOERROR, DnsFlag.AA, [])
    return dnsReply(query, Rcode.NXDOMAIN, DnsFlag.AA, [])
  }
}

/** Counter-based stand-in for the seeded stream (ids only need to differ). */
export function counterRandom(): { intBelow(n: number): number } {
  let next = 4660
  return { intBelow: (n) => next++ % n }
}
