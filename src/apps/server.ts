/**
 * Servers pods (and simulated external hosts) run, chosen by image (see cluster/ for the mapping):
 * an HTTP server answering on TCP ports (nginx's welcome page, or a generic server that replies
 * with its pod name and IP), and a UDP echo server. Service time per request is fixed or drawn
 * from the server's own named stream; while a request is being served, others queue behind it
 * only if `workers` are all busy (default: unlimited concurrency, as an event-driven server).
 */
import type { NetError } from "../net/errors.ts"
import type { NetNs } from "../net/netns.ts"
import type { UdpListener, UdpSocket } from "../net/udp.ts"
import type { Distribution } from "../sim/distribution.ts"
import type { Rng } from "../sim/rng.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import type { ServerHost } from "./host.ts"
import type { ServerIdentity } from "./observer.ts"

export interface ServiceTime {
  readonly meanNs: number
  readonly distribution: "fixed" | "exponential"
  /** A distribution (per image, apps/images.ts, or the scenario's) that replaces meanNs/distribution. */
  readonly draw?: Distribution
  /**
   * CPUs serving requests (the pod's node CPUs unless the scenario says otherwise): at most this
   * many requests are in service at once, the others wait in arrival order, so a saturated server
   * shows in the tail. Absent or 0: unlimited concurrency.
   */
  readonly cpus?: number
}

export abstract class Server {
  index = -1
  /** False once the container has exited (graceful termination done): requests go unanswered. */
  running = true

  // Read per request: `declare`d and assigned in the constructor rather than parameter properties,
  // which are first defined as undefined, so V8 tracks them as any value (see sim/empty.ts).
  declare protected readonly apps: ServerHost
  declare readonly ns: NetNs
  declare readonly identity: ServerIdentity
  declare protected readonly serviceTime: ServiceTime
  declare protected readonly rng: Rng

  constructor(apps: ServerHost, ns: NetNs, identity: ServerIdentity, serviceTime: ServiceTime, rng: Rng) {
    this.apps = apps
    this.ns = ns
    this.identity = identity
    this.serviceTime = serviceTime
    this.rng = rng
  }

  protected serviceTimeNs(): number {
    const s = this.serviceTime
    if (s.draw !== undefined) return s.draw.sample(this.rng)
    if (s.meanNs <= 0) return 0
    return s.distribution === "fixed" ? s.meanNs : this.rng.exponentialNs(s.meanNs)
  }

  // CPU-bounded service (ServiceTime.cpus): requests in service, and those waiting for a CPU as a
  // FIFO of (slot, service time) pairs in waitSlot/waitNs[waitHead .. waitTail), reused without
  // allocation once grown: indexes go back to 0 when it empties, the arrays keep their length
  // (truncating them would drop their backing stores, reallocated by the next burst's pushes).
  private busyCpus = 0
  private readonly waitSlot: number[] = []
  private readonly waitNs: number[] = []
  private waitHead = 0
  private waitTail = 0

  /** Starts the job in `slot` for `delayNs` of service on a free CPU, or queues it for one. */
  protected startJob(slot: number, delayNs: number): void {
    const cpus = this.serviceTime.cpus ?? 0
    if (cpus <= 0 || this.busyCpus < cpus) {
      this.busyCpus++
      // Staged: a time above 2^30 ns passed as an argument is boxed per call (host.ts).
      this.apps.scheduler.stagedTimeNs = this.apps.nowNs + delayNs
      this.apps.scheduleServeStaged(this.index, slot)
      return
    }
    this.waitSlot[this.waitTail] = slot
    this.waitNs[this.waitTail] = delayNs
    this.waitTail++
  }

  /** A job left its CPU: the longest-waiting job takes it. */
  protected jobDone(): void {
    this.busyCpus--
    if (this.waitHead >= this.waitTail) return
    const slot = this.waitSlot[this.waitHead]
    const delayNs = this.waitNs[this.waitHead]
    this.waitHead++
    if (this.waitHead === this.waitTail) {
      this.waitHead = 0
      this.waitTail = 0
    }
    this.busyCpus++
    this.apps.scheduler.stagedTimeNs = this.apps.nowNs + delayNs
    this.apps.scheduleServeStaged(this.index, slot)
  }

  /** A served request's reply is due (slot identifies the job). */
  abstract onServe(slot: number, nowNs: number): void

  /** The container exits: close listening sockets (clients then see refused/reset). */
  abstract stop(): void
}

/** Replies to each datagram with one of `responseBytes` (0 = same size), carrying its identity. */
export class UdpEchoServer extends Server implements UdpListener {
  private readonly sockets: UdpSocket[] = []
  // Jobs waiting for their service time: parallel arrays indexed by slot, reused via a free list.
  private readonly jobSocket: (UdpSocket | null)[] = []
  private readonly jobAddr: number[] = []
  private readonly jobPort: number[] = []
  private readonly jobBytes: number[] = []
  private readonly jobTag: number[] = []
  private readonly jobFlow: number[] = []
  /**
   * Free slots, jobFree[0 .. jobFreeLength): a count rather than push/pop, since popping the last
   * element drops the array's backing store and the next push allocates one (per request here).
   */
  private readonly jobFree: number[] = []
  private jobFreeLength = 0

  constructor(
    apps: ServerHost,
    ns: NetNs,
    identity: ServerIdentity,
    serviceTime: ServiceTime,
    rng: Rng,
    ports: readonly number[],
  ) {
    super(apps, ns, identity, serviceTime, rng)
    for (const port of ports) {
      const socket = apps.network.udpBind(ns, 0, port, this)
      if (socket !== null) this.sockets.push(socket)
    }
  }

  onUdpMessage(socket: UdpSocket, packet: Packet): void {
    if (!this.running) return
    this.apps.observer.onServerRequest(packet.flowId, this.identity, packet.srcAddr)
    const delayNs = this.serviceTimeNs()
    if (delayNs === 0) {
      socket.sendTo(packet.srcAddr, packet.srcPort, packet.payloadBytes, packet.appTag, this.identity, packet.flowId)
      return
    }
    const slot = this.jobFreeLength > 0 ? this.jobFree[--this.jobFreeLength] : this.jobSocket.length
    this.jobSocket[slot] = socket
    this.jobAddr[slot] = packet.srcAddr
    this.jobPort[slot] = packet.srcPort
    this.jobBytes[slot] = packet.payloadBytes
    this.jobTag[slot] = packet.appTag
    this.jobFlow[slot] = packet.flowId
    this.startJob(slot, delayNs)
  }

  onUdpError(_socket: UdpSocket, _error: NetError, _remoteAddr: Ipv4, _remotePort: number, _appTag: number): void {}

  onServe(slot: number, _nowNs: number): void {
    const socket = this.jobSocket[slot]
    this.jobSocket[slot] = null
    this.jobFree[this.jobFreeLength++] = slot
    this.jobDone()
    if (socket === null || !this.running || socket.closed) return
    socket.sendTo(
      this.jobAddr[slot],
      this.jobPort[slot],
      this.jobBytes[slot],
      this.jobTag[slot],
      this.identity,
      this.jobFlow[slot],
    )
  }

  stop(): void {
    this.running = false
    for (const socket of this.sockets) socket.close()
  }
}
