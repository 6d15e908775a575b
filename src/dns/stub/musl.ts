/**
 * musl's getaddrinfo (Alpine) as a state machine (../shared/reference/dns.md §2.3; bminor/musl
 * src/network/lookup_name.c `name_from_dns_search`, `name_from_dns`; res_msend.c `__res_msend_rc`).
 *
 * Name list: dots >= ndots or a trailing dot -> the name only, no search at all; else each search
 * suffix (skipped when name + suffix would not fit musl's 256-byte buffer), then the bare name.
 * One step (`__res_msend_rc`): one UDP socket (new source port per step) sends A then AAAA to
 * **every** nameserver at once; unanswered queries are re-sent to all nameservers every
 * `timeout / attempts` (integer ms: 2.5 s by default) while less than `timeout` (5 s) has passed
 * since the step started; the step ends when every query has an accepted reply or the budget
 * runs out. Replies: NOERROR and NXDOMAIN are accepted (the first per query wins); SERVFAIL
 * triggers an immediate re-send of that query to that server (at most 2 x queries per re-send
 * round) and is not accepted; other rcodes (REFUSED...) are ignored. TC=1 -> that query over TCP
 * to that server.
 * Step result (name_from_dns, replies checked A then AAAA): a missing reply -> EAI_AGAIN (the
 * whole lookup ends); NXDOMAIN -> next suffix; another non-zero rcode -> EAI_FAIL; both NOERROR:
 * addresses -> done, none -> EAI_NODATA (the lookup ends: musl does not continue on NODATA).
 * `single-request`, `single-request-reopen`, `use-vc` and `rotate` are ignored (conf.ts).
 */
import { NS_PER_MS } from "../../sim/time.ts"
import { DnsFlag, dnsQuery, Rcode, type DnsMessage } from "../../wire/dns.ts"
import { doneAction, familyQtypes, joinName, NO_ADDRESSES, replyAddresses } from "./common.ts"
import { countDots, type StubConf } from "./conf.ts"
import type { StubAction, StubFamilies, StubLookup, StubRandom } from "./types.ts"

/** musl's canon/name buffers are 256 bytes: `if (z-p < 256 - l - 1)`. */
const MUSL_NAME_BUFFER_BYTES = 256

export class MuslLookup implements StubLookup {
  deadlineNs = -1
  finished = false
  private readonly out: StubAction[] = []
  private readonly stepNames: string[] = []
  private readonly qtypes: readonly number[]
  private step = -1
  private queries: DnsMessage[] = []
  private replies: (DnsMessage | null)[] = []
  /** TCP socket per query after TC=1, or -1. */
  private tcpSockets: number[] = []
  private socket = -1
  private nextSocket = 1
  private stepStartNs = 0
  private lastSendNs = 0
  private servfailRetries = 0
  private readonly retryIntervalMs: number
  private readonly timeoutMs: number

  constructor(
    private readonly conf: StubConf,
    name: string,
    families: StubFamilies,
    private readonly random: StubRandom,
  ) {
    this.qtypes = familyQtypes(families)
    this.timeoutMs = 1000 * conf.timeoutS
    this.retryIntervalMs = Math.floor(this.timeoutMs / conf.attempts)
    const trailing = name.endsWith(".")
    const bare = trailing ? name.slice(0, -1) : name
    if (countDots(name) < conf.ndots && !trailing)
      for (const suffix of conf.search) {
        // "name." + "." has an empty label: __res_mkquery fails and current musl's name_from_dns
        // returns 0, so the suffix is skipped without a query (older releases returned
        // EAI_NONAME and ended the lookup there).
        if (suffix === "." || suffix === "") continue
        if (suffix.length < MUSL_NAME_BUFFER_BYTES - bare.length - 1) this.stepNames.push(joinName(bare, suffix))
      }
    this.stepNames.push(bare)
  }

  get plannedNames(): readonly string[] {
    return this.stepNames
  }

  start(nowNs: number): readonly StubAction[] {
    this.out.length = 0
    this.nextStep(nowNs)
    return this.out
  }

  onReply(nowNs: number, socket: number, server: number, reply: DnsMessage): readonly StubAction[] {
    this.out.length = 0
    // "Ignore replies from addresses we didn't send to".
    if (this.finished || (reply.flags & DnsFlag.QR) === 0) return this.out
    if (server < 0 || server >= this.conf.nameservers.length) return this.out
    // musl matches a reply to a query by the 2-byte id only.
    let i = -1
    for (let j = 0; j < this.queries.length; j++) if (this.queries[j].id === reply.id) i = j
    if (i < 0 || this.replies[i] !== null) return this.out
    const viaTcp = this.tcpSockets[i] >= 0
    if (viaTcp ? socket !== this.tcpSockets[i] : socket !== this.socket) return this.out
    const rcode = reply.rcode
    if (!viaTcp && rcode === Rcode.SERVFAIL) {
      // "retry immediately on server failure": to the server that failed, bounded per round.
      if (this.servfailRetries > 0) {
        this.servfailRetries--
        this.send(i, server)
      }
      return this.out
    }
    if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN) return this.out
    if (!viaTcp && (reply.flags & DnsFlag.TC) !== 0) {
      const tcp = this.nextSocket++
      this.tcpSockets[i] = tcp
      this.out.push({ kind: "send", socket: tcp, transport: "tcp", server, query: this.queries[i] })
      return this.out
    }
    this.replies[i] = reply
    for (let j = 0; j < this.replies.length; j++) if (this.replies[j] === null) return this.out
    this.finishStep(nowNs)
    return this.out
  }

  onTimeout(nowNs: number): readonly StubAction[] {
    this.out.length = 0
    if (this.finished || this.deadlineNs < 0 || nowNs < this.deadlineNs) return this.out
    if (nowNs - this.stepStartNs >= this.timeoutMs * NS_PER_MS) {
      this.finishStep(nowNs)
      return this.out
    }
    this.sendRound(nowNs)
    return this.out
  }

  private nextStep(nowNs: number): void {
    this.step++
    this.queries = []
    this.replies = []
    this.tcpSockets = []
    // __res_mkquery derives the id from the clock, so both queries of a step get the same one;
    // "Ensure query IDs are distinct": name_from_dns increments the second one's first byte.
    let id = this.random.intBelow(0x10000)
    for (const qtype of this.qtypes) {
      this.queries.push(dnsQuery(id, this.stepNames[this.step], qtype))
      this.replies.push(null)
      this.tcpSockets.push(-1)
      id = (id + 0x100) & 0xffff
    }
    this.socket = this.nextSocket++
    this.stepStartNs = nowNs
    this.sendRound(nowNs)
  }

  /** Every unanswered query to every nameserver; the next round after the retry interval. */
  private sendRound(nowNs: number): void {
    for (let i = 0; i < this.queries.length; i++)
      if (this.replies[i] === null && this.tcpSockets[i] < 0)
        for (let s = 0; s < this.conf.nameservers.length; s++) this.send(i, s)
    this.lastSendNs = nowNs
    this.servfailRetries = 2 * this.queries.length
    const nextRoundNs = this.lastSendNs + this.retryIntervalMs * NS_PER_MS
    const endNs = this.stepStartNs + this.timeoutMs * NS_PER_MS
    this.deadlineNs = Math.min(nextRoundNs, endNs)
  }

  private send(i: number, server: number): void {
    this.out.push({ kind: "send", socket: this.socket, transport: "udp", server, query: this.queries[i] })
  }

  private closeStepSockets(): void {
    this.out.push({ kind: "close", socket: this.socket })
    for (const t of this.tcpSockets) if (t >= 0) this.out.push({ kind: "close", socket: t })
  }

  private finishStep(nowNs: number): void {
    this.closeStepSockets()
    this.deadlineNs = -1
    for (let i = 0; i < this.replies.length; i++) {
      const r = this.replies[i]
      if (r === null || r.rcode === Rcode.SERVFAIL) return this.end("again", "timeout")
      if (r.rcode === Rcode.NXDOMAIN) {
        if (this.step + 1 < this.stepNames.length) this.nextStep(nowNs)
        else this.end("nxdomain", null)
        return
      }
      if (r.rcode !== Rcode.NOERROR) return this.end("fail", null)
    }
    const addresses: string[] = []
    for (const r of this.replies) if (r !== null) replyAddresses(r, addresses)
    if (addresses.length === 0) return this.end("nodata", null)
    this.finished = true
    this.out.push(doneAction({ status: "answered", reason: null, addresses, answeredName: this.stepNames[this.step] }))
  }

  private end(status: "again" | "nxdomain" | "nodata" | "fail", reason: "timeout" | null): void {
    this.finished = true
    this.deadlineNs = -1
    this.out.push(doneAction({ status, reason, addresses: NO_ADDRESSES, answeredName: null }))
  }
}
