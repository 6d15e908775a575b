/**
 * Go's pure resolver (netgo, `GODEBUG=netdns=go`) as a state machine (../shared/reference/dns.md
 * §2.4; golang/go src/net/dnsclient_unix.go `nameList`, `goLookupIPCNAMEOrder`, `tryOneName`,
 * `exchange`, `checkHeader`, `skipToAnswer`).
 *
 * Name list: rooted -> that name only; dots >= ndots -> the name first, then every suffix; else
 * the suffixes, then the name. For each name, A and AAAA run as two independent "lanes" in
 * parallel goroutines (one after the other with `single-request`/`single-request-reopen`). A lane
 * (tryOneName) loops attempts x nameservers; each exchange dials **its own socket** (new source
 * port), waits `timeout` (5 s), and closes it; TC=1 redials over TCP with a fresh timeout;
 * `use-vc` uses TCP only. NXDOMAIN, or NOERROR without a record of the asked type (NODATA), end
 * the lane as "no such host" (other servers are not asked); SERVFAIL, other rcodes and a lame
 * referral (NOERROR, no answer, aa=ra=0, no additional) move on to the next exchange at once; a
 * timeout moves on too. When both lanes end, any address ends the lookup; otherwise the next name
 * is tried, whatever the error was (StrictErrors is off by default), and the error kept is the
 * first one, or the bare name's. With `rotate` the first server advances by one per lane
 * (serverOffset is a process-wide counter in Go; here it is counted per lookup).
 * Every query carries an EDNS(0) OPT record advertising 1232 bytes (`newRequest`,
 * maxDNSPacketSize). Not modelled: .onion avoidance, /etc/hosts, the cgo resolver.
 */
import { NS_PER_S } from "../../sim/time.ts"
import { DnsFlag, dnsQuery, Rcode, type DnsMessage } from "../../wire/dns.ts"
import { doneAction, familyQtypes, hasAnswerOfType, joinName, NO_ADDRESSES, replyAddresses } from "./common.ts"
import { countDots, type StubConf } from "./conf.ts"
import type { StubAction, StubFamilies, StubLookup, StubOutcome, StubRandom } from "./types.ts"

/** dnsclient_unix.go maxDNSPacketSize ("taken from https://dnsflagday.net/2020/"). */
export const GO_EDNS_UDP_PAYLOAD_BYTES = 1232

// Lane results.
const LANE_IDLE = 0
const LANE_RUNNING = 1
const LANE_ANSWERED = 2
const LANE_NXDOMAIN = 3
const LANE_NODATA = 4
const LANE_TIMEOUT = 5
const LANE_SERVFAIL = 6
const LANE_MISBEHAVING = 7

export class GoLookup implements StubLookup {
  deadlineNs = -1
  finished = false
  private readonly out: StubAction[] = []
  private readonly stepNames: string[] = []
  private readonly bareIndex: number
  private readonly qtypes: readonly number[]
  private step = -1
  private serverOffset = 0
  private nextSocket = 1
  // Per lane (index = position in qtypes).
  private laneState: number[] = []
  private laneExchange: number[] = []
  private laneLastError: number[] = []
  private laneServer: number[] = []
  private laneOffset: number[] = []
  private laneSocket: number[] = []
  private laneTcp: boolean[] = []
  private laneDeadlineNs: number[] = []
  private laneQuery: (DnsMessage | null)[] = []
  private laneReply: (DnsMessage | null)[] = []
  private firstError = -1
  private firstErrorFromBare = false

  constructor(
    private readonly conf: StubConf,
    name: string,
    families: StubFamilies,
    private readonly random: StubRandom,
  ) {
    this.qtypes = familyQtypes(families)
    let bareIndex = -1
    if (name.endsWith(".")) {
      this.stepNames.push(name.slice(0, -1))
      bareIndex = 0
    } else {
      const hasNdots = countDots(name) >= conf.ndots
      if (hasNdots) {
        bareIndex = 0
        this.stepNames.push(name)
      }
      for (const suffix of conf.search) {
        // dnsconfig_unix.go drops "." from the search list.
        if (suffix === "." || suffix === "") continue
        const fqdn = joinName(name, suffix)
        // "Try suffixes that are not too long (see isDomainName)": len(fqdn + ".") <= 254.
        if (fqdn.length + 1 <= 254) this.stepNames.push(fqdn)
      }
      if (!hasNdots) {
        bareIndex = this.stepNames.length
        this.stepNames.push(name)
      }
    }
    this.bareIndex = bareIndex
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
    if (this.finished || (reply.flags & DnsFlag.QR) === 0) return this.out
    let lane = -1
    for (let l = 0; l < this.qtypes.length; l++)
      if (this.laneState[l] === LANE_RUNNING && this.laneSocket[l] === socket) lane = l
    if (lane < 0 || server !== this.laneServer[lane]) return this.out
    const q = this.laneQuery[lane]
    const rq = reply.questions[0]
    // checkResponse: id, response bit, same question.
    if (q === null || reply.id !== q.id || rq === undefined || rq.type !== q.questions[0].type) return this.out
    if (rq.name.toLowerCase() !== q.questions[0].name.toLowerCase()) return this.out
    this.closeLaneSocket(lane)
    if ((reply.flags & DnsFlag.TC) !== 0 && !this.laneTcp[lane]) {
      // "see RFC 5966": the same exchange again over TCP, with a fresh deadline.
      this.laneTcp[lane] = true
      this.dial(lane, nowNs)
      return this.out
    }
    const rcode = reply.rcode
    if (rcode === Rcode.NXDOMAIN) this.endLane(lane, LANE_NXDOMAIN, null, nowNs)
    else if (
      rcode === Rcode.NOERROR &&
      reply.answers.length === 0 &&
      (reply.flags & (DnsFlag.AA | DnsFlag.RA)) === 0 &&
      reply.additionals.length === 0
    )
      this.nextExchange(lane, LANE_MISBEHAVING, nowNs) // errLameReferral
    else if (rcode === Rcode.SERVFAIL) this.nextExchange(lane, LANE_SERVFAIL, nowNs)
    else if (rcode !== Rcode.NOERROR) this.nextExchange(lane, LANE_MISBEHAVING, nowNs)
    else if (!hasAnswerOfType(reply, q.questions[0].type)) this.endLane(lane, LANE_NODATA, null, nowNs)
    else this.endLane(lane, LANE_ANSWERED, reply, nowNs)
    return this.out
  }

  onTimeout(nowNs: number): readonly StubAction[] {
    this.out.length = 0
    if (this.finished) return this.out
    for (let l = 0; l < this.qtypes.length; l++)
      if (this.laneState[l] === LANE_RUNNING && this.laneDeadlineNs[l] <= nowNs) {
        this.closeLaneSocket(l)
        this.nextExchange(l, LANE_TIMEOUT, nowNs)
        if (this.finished) break
      }
    this.updateDeadline()
    return this.out
  }

  private nextStep(nowNs: number): void {
    this.step++
    if (this.step >= this.stepNames.length) {
      this.finishFailed()
      return
    }
    const n = this.qtypes.length
    this.laneState = new Array<number>(n).fill(LANE_IDLE)
    this.laneExchange = new Array<number>(n).fill(0)
    this.laneLastError = new Array<number>(n).fill(LANE_TIMEOUT)
    this.laneServer = new Array<number>(n).fill(0)
    this.laneOffset = new Array<number>(n).fill(0)
    this.laneSocket = new Array<number>(n).fill(-1)
    this.laneTcp = new Array<boolean>(n).fill(false)
    this.laneDeadlineNs = new Array<number>(n).fill(-1)
    this.laneQuery = new Array<DnsMessage | null>(n).fill(null)
    this.laneReply = new Array<DnsMessage | null>(n).fill(null)
    if (this.conf.singleRequest) this.startLane(0, nowNs)
    else for (let l = 0; l < n; l++) this.startLane(l, nowNs)
    this.updateDeadline()
  }

  private startLane(lane: number, nowNs: number): void {
    this.laneState[lane] = LANE_RUNNING
    this.laneOffset[lane] = this.conf.rotate ? this.serverOffset++ : 0
    this.laneExchange[lane] = 0
    this.beginExchange(lane, nowNs)
  }

  private beginExchange(lane: number, nowNs: number): void {
    const nscount = this.conf.nameservers.length
    this.laneServer[lane] = (this.laneOffset[lane] + (this.laneExchange[lane] % nscount)) % nscount
    this.laneTcp[lane] = this.conf.useVc
    // newRequest: a fresh random id per exchange.
    this.laneQuery[lane] = dnsQuery(
      this.random.intBelow(0x10000),
      this.stepNames[this.step],
      this.qtypes[lane],
      GO_EDNS_UDP_PAYLOAD_BYTES,
    )
    this.dial(lane, nowNs)
  }

  private dial(lane: number, nowNs: number): void {
    const socket = this.nextSocket++
    this.laneSocket[lane] = socket
    this.laneDeadlineNs[lane] = nowNs + this.conf.timeoutS * NS_PER_S
    const query = this.laneQuery[lane]
    if (query === null) return
    this.out.push({
      kind: "send",
      socket,
      transport: this.laneTcp[lane] ? "tcp" : "udp",
      server: this.laneServer[lane],
      query,
    })
    this.updateDeadline()
  }

  private closeLaneSocket(lane: number): void {
    const socket = this.laneSocket[lane]
    if (socket < 0) return
    this.out.push({ kind: "close", socket })
    this.laneSocket[lane] = -1
  }

  private nextExchange(lane: number, error: number, nowNs: number): void {
    this.laneLastError[lane] = error
    this.laneExchange[lane]++
    if (this.laneExchange[lane] >= this.conf.attempts * this.conf.nameservers.length)
      this.endLane(lane, error, null, nowNs)
    else this.beginExchange(lane, nowNs)
  }

  private endLane(lane: number, result: number, reply: DnsMessage | null, nowNs: number): void {
    this.laneState[lane] = result
    this.laneReply[lane] = reply
    this.laneDeadlineNs[lane] = -1
    if (result !== LANE_ANSWERED && (this.firstError < 0 || this.step === this.bareIndex)) {
      this.firstError = result
      this.firstErrorFromBare = this.step === this.bareIndex
    }
    if (this.conf.singleRequest && lane + 1 < this.qtypes.length) {
      this.startLane(lane + 1, nowNs)
      return
    }
    for (let l = 0; l < this.qtypes.length; l++) if (this.laneState[l] <= LANE_RUNNING) return this.updateDeadline()
    const addresses: string[] = []
    for (const r of this.laneReply) if (r !== null) replyAddresses(r, addresses)
    if (addresses.length > 0) {
      this.finished = true
      this.deadlineNs = -1
      this.out.push(
        doneAction({ status: "answered", reason: null, addresses, answeredName: this.stepNames[this.step] }),
      )
      return
    }
    this.nextStep(nowNs)
  }

  private updateDeadline(): void {
    let deadline = -1
    for (let l = 0; l < this.qtypes.length; l++) {
      const d = this.laneState[l] === LANE_RUNNING ? this.laneDeadlineNs[l] : -1
      if (d >= 0 && (deadline < 0 || d < deadline)) deadline = d
    }
    this.deadlineNs = deadline
  }

  private finishFailed(): void {
    this.finished = true
    this.deadlineNs = -1
    const e = this.firstError
    let outcome: StubOutcome
    if (e === LANE_NXDOMAIN) outcome = { status: "nxdomain", reason: null, addresses: NO_ADDRESSES, answeredName: null }
    else if (e === LANE_NODATA)
      outcome = { status: "nodata", reason: null, addresses: NO_ADDRESSES, answeredName: null }
    else if (e === LANE_SERVFAIL)
      outcome = { status: "again", reason: "servfail", addresses: NO_ADDRESSES, answeredName: null }
    else if (e === LANE_MISBEHAVING)
      outcome = { status: "fail", reason: null, addresses: NO_ADDRESSES, answeredName: null }
    else outcome = { status: "again", reason: "timeout", addresses: NO_ADDRESSES, answeredName: null }
    this.out.push(doneAction(outcome))
  }

  /** True when the error reported came from the bare name (Go prefers it). */
  get errorFromBareName(): boolean {
    return this.firstErrorFromBare
  }
}
