/**
 * glibc's getaddrinfo(AF_UNSPEC) through nss_dns, as a state machine (../shared/reference/dns.md
 * §2.2; bminor/glibc resolv/res_query.c `__res_context_search` and `__res_context_query`,
 * resolv/res_send.c `__res_context_send`, `send_dg`, `send_vc`).
 *
 * Name list (__res_context_search): a trailing dot -> the name only; dots >= ndots -> the name
 * first, then the search list; else the search list, then the bare name (unless no-tld-query
 * with 0 dots, or "." was in the search list). The search continues after NXDOMAIN, NODATA and
 * SERVFAIL and stops on anything else (a timeout, REFUSED); the bare name is still tried after a
 * stop. Final h_errno: the as-is-first try's if there was one, else NO_DATA if any step had
 * NODATA, else TRY_AGAIN if any had SERVFAIL, else the last step's.
 *
 * One try (one search step, __res_context_query with T_QUERY_A_AND_AAAA): both queries built once
 * (two ids); __res_context_send loops attempts x nameservers (in order, a random first one with
 * `rotate`); each nameserver has its own UDP socket for the whole try, closed when the try ends
 * (RES_STAYOPEN off: each step gets a fresh source port). send_dg waits `timeout << ns` seconds,
 * divided by the nameserver count for ns > 0 (at least 1 s). A and AAAA go back to back on one
 * socket; `single-request` sends AAAA after the A reply; `single-request-reopen` also closes and
 * reopens the socket before AAAA. A wait that expires after exactly one of the two replies
 * switches the resolver state to single-request and re-sends within the same attempt; a second
 * such expiry switches it to single-request-reopen; a third gives up on the missing reply. The
 * switch is written to the thread's `_res` options, so it persists for later lookups of the same
 * resolver state: pass one `GlibcResolverState` per simulated thread/process **(inference from
 * `statp->options |= RES_SNGLKUP`)**. SERVFAIL, NOTIMP, REFUSED and a lame NOERROR (no answer,
 * aa=ra=0, no additional) move on to the next nameserver at once unless the other reply of the
 * pair already arrived. TC=1 retries both queries over TCP to the same server (`use-vc` uses TCP
 * from the start).
 *
 * Not modelled: ECONNREFUSED (ICMP port unreachable) ending the search at once; send_vc's
 * blocking reads (the TCP wait here uses the same per-server deadline as UDP); AI_ADDRCONFIG;
 * /etc/hosts and nscd.
 */
import { NS_PER_S } from "../../sim/time.ts"
import { DnsFlag, dnsQuery, Rcode, type DnsMessage } from "../../wire/dns.ts"
import { doneAction, familyQtypes, joinName, NO_ADDRESSES, replyAddresses } from "./common.ts"
import { countDots, type StubConf } from "./conf.ts"
import type { StubAction, StubFamilies, StubLookup, StubRandom } from "./types.ts"

/** The thread's resolver options that send_dg flips after a half-answered timeout. */
export interface GlibcResolverState {
  singleRequest: boolean
  singleRequestReopen: boolean
}

export function newGlibcResolverState(): GlibcResolverState {
  return { singleRequest: false, singleRequestReopen: false }
}

// h_errno values (netdb.h).
const HOST_NOT_FOUND = 1
const TRY_AGAIN = 2
const NO_RECOVERY = 3
const NO_DATA = 4

const STEP_AS_IS_FIRST = 0
const STEP_SEARCH = 1
const STEP_LAST = 2

export class GlibcLookup implements StubLookup {
  deadlineNs = -1
  finished = false
  private readonly out: StubAction[] = []
  private readonly stepNames: string[] = []
  private readonly stepKinds: number[] = []
  private readonly qtypes: readonly number[]
  private step = -1
  // search bookkeeping
  private savedHerrno = -1
  private savedReason: "timeout" | "servfail" | "refused" | null = null
  private gotNodata = false
  private gotServfail = false
  private lastHerrno = HOST_NOT_FOUND
  private lastReason: "timeout" | "servfail" | "refused" | null = null
  // current try
  private queries: DnsMessage[] = []
  private replies: (DnsMessage | null)[] = [null, null]
  private iteration = 0
  private nsOffset = 0
  private server = 0
  private socketByServer: number[] = []
  /** Sockets opened by the current try and not yet closed. */
  private openSockets: number[] = []
  private socket = -1
  private tcp = false
  private lastRcode = -1
  private nextSocket = 1

  constructor(
    private readonly conf: StubConf,
    name: string,
    families: StubFamilies,
    private readonly state: GlibcResolverState,
    private readonly random: StubRandom,
  ) {
    this.qtypes = familyQtypes(families)
    const trailing = name.endsWith(".")
    const bare = trailing ? name.slice(0, -1) : name
    const dots = countDots(name)
    if (trailing) {
      this.addStep(bare, STEP_LAST)
      return
    }
    const triedAsIs = dots >= conf.ndots
    if (triedAsIs) this.addStep(bare, STEP_AS_IS_FIRST)
    let rootOnList = false
    for (const domain of conf.search) {
      const root = domain === "." || domain === ""
      // "." is queried as the name itself (dname++ leaves ""), and marks root_on_list.
      if (root) rootOnList = true
      this.addStep(joinName(bare, domain), STEP_SEARCH)
    }
    const searched = true
    if ((dots > 0 || !searched || !conf.noTldQuery) && !(triedAsIs || rootOnList)) this.addStep(bare, STEP_LAST)
  }

  private addStep(name: string, kind: number): void {
    this.stepNames.push(name)
    this.stepKinds.push(kind)
  }

  /** The FQDNs this lookup would try, in order, if every step failed without stopping the search. */
  get plannedNames(): readonly string[] {
    return this.stepNames
  }

  start(nowNs: number): readonly StubAction[] {
    this.out.length = 0
    this.nextStep(nowNs, 0)
    return this.out
  }

  onReply(nowNs: number, socket: number, server: number, reply: DnsMessage): readonly StubAction[] {
    this.out.length = 0
    // send_dg accepts a reply from any configured server (res_ourserver_p) on the current socket.
    if (this.finished || socket !== this.socket || (reply.flags & DnsFlag.QR) === 0) return this.out
    if (server < 0 || server >= this.conf.nameservers.length) return this.out
    const i = this.queryIndex(reply)
    if (i < 0 || this.replies[i] !== null) return this.out
    if ((reply.flags & DnsFlag.TC) !== 0 && !this.tcp) {
      // send_dg sets *v_circuit; __res_context_send retries the same server with send_vc.
      this.tcp = true
      this.sendIteration(nowNs)
      return this.out
    }
    const rcode = reply.rcode
    const lame =
      rcode === Rcode.NOERROR &&
      reply.answers.length === 0 &&
      (reply.flags & (DnsFlag.AA | DnsFlag.RA)) === 0 &&
      reply.additionals.length === 0
    if (rcode === Rcode.SERVFAIL || rcode === Rcode.NOTIMP || rcode === Rcode.REFUSED || lame) {
      this.lastRcode = rcode
      if (this.receivedCount() > 0) this.finishTry(nowNs)
      else this.nextIteration(nowNs)
      return this.out
    }
    this.replies[i] = reply
    if (this.receivedCount() === this.queries.length) {
      this.finishTry(nowNs)
      return this.out
    }
    if (!this.tcp && this.single() && i === 0) {
      if (this.reopen()) this.reopenSocket()
      this.send(1)
    }
    return this.out
  }

  onTimeout(nowNs: number): readonly StubAction[] {
    this.out.length = 0
    if (this.finished || this.deadlineNs < 0 || nowNs < this.deadlineNs) return this.out
    const received = this.receivedCount()
    if (!this.tcp && received > 0 && received < this.queries.length) {
      // "There are quite a few broken name servers out there which don't handle two outstanding
      // requests from the same source" (send_dg): flip the thread's options and re-send.
      if (!this.single()) {
        this.state.singleRequest = true
        this.sendIteration(nowNs)
      } else if (!this.reopen()) {
        this.state.singleRequestReopen = true
        this.reopenSocket()
        this.sendIteration(nowNs)
      } else this.finishTry(nowNs)
      return this.out
    }
    this.lastRcode = -1
    this.nextIteration(nowNs)
    return this.out
  }

  private single(): boolean {
    return this.conf.singleRequest || this.conf.singleRequestReopen || this.state.singleRequest || this.reopen()
  }

  private reopen(): boolean {
    return this.conf.singleRequestReopen || this.state.singleRequestReopen
  }

  private receivedCount(): number {
    let n = 0
    for (let i = 0; i < this.queries.length; i++) if (this.replies[i] !== null) n++
    return n
  }

  private queryIndex(reply: DnsMessage): number {
    for (let i = 0; i < this.queries.length; i++) {
      const q = this.queries[i]
      if (q.id !== reply.id) continue
      const rq = reply.questions[0]
      // res_queriesmatch: same name (case-insensitive), type and class.
      if (rq === undefined || rq.type !== q.questions[0].type) continue
      if (rq.name.toLowerCase() !== q.questions[0].name.toLowerCase()) continue
      return i
    }
    return -1
  }

  private nextStep(nowNs: number, from: number): void {
    this.step = from
    if (this.step >= this.stepNames.length) {
      this.finishLookup()
      return
    }
    const name = this.stepNames[this.step]
    this.queries = []
    for (const qtype of this.qtypes) this.queries.push(dnsQuery(this.random.intBelow(0x10000), name, qtype))
    this.iteration = 0
    this.nsOffset = this.conf.rotate ? this.random.intBelow(this.conf.nameservers.length) : 0
    this.socketByServer = []
    this.tcp = false
    this.lastRcode = -1
    this.startIteration(nowNs)
  }

  private startIteration(nowNs: number): void {
    const nscount = this.conf.nameservers.length
    this.server = (this.nsOffset + (this.iteration % nscount)) % nscount
    this.tcp = this.conf.useVc
    this.sendIteration(nowNs)
  }

  private nextIteration(nowNs: number): void {
    this.iteration++
    if (this.iteration >= this.conf.attempts * this.conf.nameservers.length) this.finishTry(nowNs)
    else this.startIteration(nowNs)
  }

  /** (Re)sends the current iteration's queries with a fresh wait (send_dg's `retry:` label). */
  private sendIteration(nowNs: number): void {
    const nscount = this.conf.nameservers.length
    let seconds = this.conf.timeoutS << this.server
    if (this.server > 0) seconds = Math.floor(seconds / nscount)
    if (seconds <= 0) seconds = 1
    this.deadlineNs = nowNs + seconds * NS_PER_S
    this.replies = [null, null]
    if (this.tcp) {
      // send_vc: a connection, both queries written back to back.
      this.socket = this.openSocket()
      for (let i = 0; i < this.queries.length; i++) this.send(i)
      return
    }
    let socket = this.socketByServer[this.server] ?? -1
    if (socket < 0) {
      socket = this.openSocket()
      this.socketByServer[this.server] = socket
    }
    this.socket = socket
    if (this.single()) this.send(0)
    else for (let i = 0; i < this.queries.length; i++) this.send(i)
  }

  private reopenSocket(): void {
    this.close(this.socket)
    this.socket = this.openSocket()
    this.socketByServer[this.server] = this.socket
  }

  private openSocket(): number {
    const socket = this.nextSocket++
    this.openSockets.push(socket)
    return socket
  }

  private send(i: number): void {
    this.out.push({
      kind: "send",
      socket: this.socket,
      transport: this.tcp ? "tcp" : "udp",
      server: this.server,
      query: this.queries[i],
    })
  }

  private close(socket: number): void {
    const at = this.openSockets.indexOf(socket)
    if (at < 0) return
    this.openSockets.splice(at, 1)
    this.out.push({ kind: "close", socket })
  }

  /** The end of one __res_context_query: close the try's sockets, classify, continue the search. */
  private finishTry(nowNs: number): void {
    for (const s of this.openSockets) this.out.push({ kind: "close", socket: s })
    this.openSockets.length = 0
    this.socketByServer = []
    this.socket = -1
    this.deadlineNs = -1
    const r1 = this.replies[0]
    const r2 = this.queries.length > 1 ? this.replies[1] : null
    let herrno: number
    let reason: "timeout" | "servfail" | "refused" | null = null
    if (
      (r1 !== null && r1.rcode === Rcode.NOERROR && r1.answers.length > 0) ||
      (r2 !== null && r2.rcode === Rcode.NOERROR && r2.answers.length > 0)
    ) {
      const addresses: string[] = []
      if (r1 !== null) replyAddresses(r1, addresses)
      if (r2 !== null) replyAddresses(r2, addresses)
      this.finished = true
      this.out.push(
        doneAction({ status: "answered", reason: null, addresses, answeredName: this.stepNames[this.step] }),
      )
      return
    }
    if (r1 === null && r2 === null) {
      herrno = TRY_AGAIN
      reason = this.lastRcode === Rcode.SERVFAIL ? "servfail" : this.lastRcode === Rcode.REFUSED ? "refused" : "timeout"
    } else {
      const first = r1 ?? r2
      const rcode =
        first !== null && first === r1 && r1.rcode === Rcode.NOERROR && r2 !== null ? r2.rcode : (first?.rcode ?? 0)
      herrno =
        rcode === Rcode.NXDOMAIN
          ? HOST_NOT_FOUND
          : rcode === Rcode.NOERROR
            ? NO_DATA
            : rcode === Rcode.SERVFAIL
              ? TRY_AGAIN
              : NO_RECOVERY
      if (herrno === TRY_AGAIN) reason = "servfail"
    }
    this.lastHerrno = herrno
    this.lastReason = reason
    const kind = this.stepKinds[this.step]
    if (kind === STEP_AS_IS_FIRST) {
      this.savedHerrno = herrno
      this.savedReason = reason
      this.nextStep(nowNs, this.step + 1)
      return
    }
    if (kind === STEP_SEARCH) {
      let keepGoing = false
      if (herrno === NO_DATA) {
        this.gotNodata = true
        keepGoing = true
      } else if (herrno === HOST_NOT_FOUND) keepGoing = true
      else if (herrno === TRY_AGAIN && reason === "servfail") {
        this.gotServfail = true
        keepGoing = true
      }
      if (keepGoing) {
        this.nextStep(nowNs, this.step + 1)
        return
      }
      // "anything else implies that we're done": skip the rest of the search list.
      let next = this.step + 1
      while (next < this.stepKinds.length && this.stepKinds[next] === STEP_SEARCH) next++
      this.nextStep(nowNs, next)
      return
    }
    this.finishLookup()
  }

  private finishLookup(): void {
    this.finished = true
    this.deadlineNs = -1
    let herrno = this.lastHerrno
    let reason = this.lastReason
    if (this.savedHerrno !== -1) {
      herrno = this.savedHerrno
      reason = this.savedReason
    } else if (this.gotNodata) {
      herrno = NO_DATA
      reason = null
    } else if (this.gotServfail) {
      herrno = TRY_AGAIN
      reason = "servfail"
    }
    const status =
      herrno === HOST_NOT_FOUND ? "nxdomain" : herrno === NO_DATA ? "nodata" : herrno === TRY_AGAIN ? "again" : "fail"
    this.out.push(
      doneAction({ status, reason: status === "again" ? reason : null, addresses: NO_ADDRESSES, answeredName: null }),
    )
  }
}
