/**
 * The userspace proxy's sockets (kubernetes v1.25 pkg/proxy/userspace/proxysocket.go), as real
 * sockets of the node's network namespace in the simulator: every proxied client connection is two
 * TCP connections (client -> node proxy port, node -> endpoint), each with its own conntrack entry,
 * and the endpoint sees the node's address as the source.
 *
 * TCP (tcpProxySocket.ProxyLoop): one accept loop per service port. It accepts a connection, then
 * dials an endpoint *before accepting the next one* (tryConnect blocks the loop), so connections
 * queue behind a slow dial. tryConnect makes up to 4 attempts with dial timeouts 250 ms, 500 ms,
 * 1 s, 2 s (endpointDialTimeout); after the first failure NextEndpoint is asked with
 * sessionAffinityReset = true. No endpoint (ErrMissingEndpoints) or 4 failures: the client
 * connection is closed. Then proxyTCP copies both ways; when one direction reaches EOF or an error,
 * copyBytes closes both connections (dest.Close(); src.Close()).
 *
 * UDP (udpProxySocket.ProxyLoop): one read loop per service port with a 4 KiB buffer (a larger
 * datagram is truncated to 4096 bytes, as ReadFrom into [4096]byte); per client address a
 * "connection" (a connected UDP socket to the endpoint, dialled with tryConnect) kept in the
 * client cache while traffic flows either way within the idle timeout (SetDeadline after every
 * write to and read from the endpoint: --udp-timeout); a read error (the endpoint's ICMP port
 * unreachable, ECONNREFUSED) or the deadline ends it.
 *
 * The cost of going through user space, charged in simulated time (MODEL.md "userspace mode"):
 * `connectNs` per accepted TCP connection / new UDP client before the dial (accept, goroutine,
 * NextEndpoint, socket setup), and per copied message `perMessageNs + ceil(bytes * perKiBNs / 1024)`
 * (read + write system calls and the copy through the user-space buffer). Copies in one direction
 * are serialized (one goroutine per direction), so a busy direction queues.
 *
 * Not modelled: the socket buffers between the kernel and io.Copy (a whole application message is
 * read and written at once; TCP flow control is not modelled by the stack either), Go's scheduler
 * and CPU contention between goroutines of different connections, the file-descriptor limit.
 */
import type { Network } from "../../net/network.ts"
import type { NetNs } from "../../net/netns.ts"
import { NetError } from "../../net/errors.ts"
import type { TcpConnection, TcpConnectionListener, TcpListenSocket, TcpServerListener } from "../../net/tcp.ts"
import { TcpState } from "../../net/tcp.ts"
import { UdpSocket, type UdpListener, udpHoldPort, udpReleaseHeldPort } from "../../net/udp.ts"
import { EMPTY_F64, EMPTY_I32 } from "../../sim/empty.ts"
import type { EventHandler, Scheduler } from "../../sim/scheduler.ts"
import type { Ipv4 } from "../../wire/ipv4.ts"
import { parseIpv4 } from "../../wire/ipv4.ts"
import type { Packet } from "../../wire/packet.ts"
import { PairMap } from "./pair-map.ts"
import { type LoadBalancerRR, NextEndpointError } from "./roundrobin.ts"

/** endpointDialTimeout in proxysocket.go. */
export const ENDPOINT_DIAL_TIMEOUTS_NS: readonly number[] = [250_000_000, 500_000_000, 1_000_000_000, 2_000_000_000]

/** ProxyLoop's UDP read buffer ([4096]byte). */
export const UDP_BUFFER_BYTES = 4096

/** The cost of proxying through user space (kubeProxy.userspace.*). */
export interface UserspaceCosts {
  readonly connectNs: number
  readonly perMessageNs: number
  readonly perKiBNs: number
}

/** Counters of one proxy socket (printed by `rules`, asserted by tests). */
export interface ProxySocketStats {
  accepted: number
  dialFailures: number
  /** Client connections closed without an endpoint (no endpoints, or every dial failed). */
  rejected: number
  messagesCopied: number
  bytesCopied: number
}

const EV_DIAL = 0
const EV_DIAL_TIMEOUT = 1
const EV_COPY = 2
/** UDP sockets: the idle timer of their clients (UdpProxySocket.idleTimerFired). */
const EV_UDP_IDLE = 3
/** TCP pairs: a copy from the endpoint to the client is done. */
const EV_COPY_BACK = 3
/**
 * An event's b: what in the low WHAT_BITS bits, the target's generation above. The events'
 * (kind, a, b) enter the run's fingerprint (Scheduler's trace hash): this encoding, the ids and
 * the generations must stay as they are for results to stay comparable.
 */
const WHAT_BITS = 2
const WHAT_MASK = (1 << WHAT_BITS) - 1
/** What an id's object is (ProxyRuntime's targetKinds column). */
const TARGET_OTHER = 0
const TARGET_UDP_SOCKET = 1
const TARGET_UDP_CLIENT = 2
const GENERATION_MASK = 0x1fffffff

/**
 * What the sockets share on one node: the namespace, the load balancer, the costs, and one event
 * kind per purpose. Objects awaiting an event are kept in `objects` by an integer id (no closure
 * per event); an id whose object is gone is ignored.
 */
export class ProxyRuntime implements EventHandler {
  /** Starts as a number (the constructor registers it): see sim/empty.ts for why. */
  readonly kind: number = 0
  private readonly objects: (ProxyEventTarget | null)[] = []
  private readonly freeIds: number[] = []
  /**
   * Per id, the generation of the object registered under it (-1: none), in a typed column so
   * that an event for a forgotten object is settled without loading the object.
   */
  private generations = new Int32Array(64).fill(-1)
  /**
   * Per id, what the object is (TARGET_*): a UDP socket's what 3 is EV_UDP_IDLE, a TCP pair's
   * EV_COPY_BACK; and the UDP sockets' and clients' events are dispatched to their class's method
   * directly (one monomorphic call per kind instead of a polymorphic onEvent).
   */
  private targetKinds = new Uint8Array(64)
  /** Messages waiting in this node's copy loops. */
  readonly pool = new MessagePool()
  /** Generation of the next registered object (an id is reused; its generation is not). */
  private nextGeneration = 1
  /** Proxy sockets made (at their port's first packet, ProxyPort): the scale-shape test's count. */
  socketsMade = 0
  /**
   * The socket that holds this node's UDP proxy ports with no socket of their own yet (udpHoldPort;
   * made at the first port opened), and who owns which held port (the proxier).
   */
  private holder: UdpSocket | null = null
  heldPortOwner: ((port: number) => ProxyPort | undefined) | null = null
  /** UDP proxy ports bound as held ports, and those later given a socket of their own. */
  portsHeld = 0
  portsMaterialised = 0
  // Read per message: `declare`d and assigned in the constructor rather than parameter properties,
  // which are first defined as undefined, so V8 tracks them as any value (see sim/empty.ts).
  declare readonly network: Network
  declare readonly ns: NetNs
  declare readonly scheduler: Scheduler
  declare readonly lb: LoadBalancerRR
  declare readonly costs: UserspaceCosts
  declare readonly udpIdleTimeoutNs: number

  constructor(
    network: Network,
    ns: NetNs,
    scheduler: Scheduler,
    lb: LoadBalancerRR,
    costs: UserspaceCosts,
    udpIdleTimeoutNs: number,
  ) {
    this.network = network
    this.ns = ns
    this.scheduler = scheduler
    this.lb = lb
    this.costs = costs
    this.udpIdleTimeoutNs = udpIdleTimeoutNs
    this.kind = scheduler.registerKind(`userspace-proxy/${ns.name}`, this)
    ProxyRuntime.byNs.set(ns, this)
  }

  /** Each namespace's proxy runtime (a port record finds its node's runtime from its socket's namespace). */
  private static readonly byNs = new WeakMap<object, ProxyRuntime>()

  static of(ns: object): ProxyRuntime {
    const runtime = ProxyRuntime.byNs.get(ns)
    if (runtime === undefined) throw new Error("userspace proxy: no runtime for this namespace")
    return runtime
  }

  register(target: ProxyEventTarget, targetKind: number = TARGET_OTHER): number {
    const id = this.freeIds.length > 0 ? (this.freeIds.pop() as number) : this.objects.length
    if (id >= this.generations.length) this.grow()
    this.targetKinds[id] = targetKind
    this.objects[id] = target
    target.generation = this.nextGeneration
    this.generations[id] = this.nextGeneration
    this.nextGeneration = (this.nextGeneration + 1) & GENERATION_MASK
    return id
  }

  /**
   * register() for an object made later (a proxy port's socket, made at its first packet: ProxyPort):
   * the id and generation are taken now, in the order register would have taken them, so every id
   * and generation (they enter the run's fingerprint through the events) is as with the object
   * made now. `adopt` gives them to the object; `release` frees them if it is never made.
   */
  reserve(targetKind: number): number {
    const id = this.freeIds.length > 0 ? (this.freeIds.pop() as number) : this.objects.length
    if (id >= this.generations.length) this.grow()
    this.targetKinds[id] = targetKind
    this.objects[id] = null
    this.generations[id] = this.nextGeneration
    this.nextGeneration = (this.nextGeneration + 1) & GENERATION_MASK
    return id
  }

  /** The object for a reserved id: it gets the id and the generation reserved with it. */
  adopt(id: number, target: ProxyEventTarget): void {
    this.objects[id] = target
    target.id = id
    target.generation = this.generations[id]
    this.socketsMade++
  }

  /** A reserved id whose object was never made is freed (as unregister frees a registered one). */
  release(id: number): void {
    this.generations[id] = -1
    this.freeIds.push(id)
  }

  private grow(): void {
    const size = this.generations.length * 2
    const generations = new Int32Array(size).fill(-1)
    generations.set(this.generations)
    this.generations = generations
    const targetKinds = new Uint8Array(size)
    targetKinds.set(this.targetKinds)
    this.targetKinds = targetKinds
  }

  /** Forgets `target` (its pending events are ignored); a no-op when it is already gone. */
  unregister(target: ProxyEventTarget): void {
    const id = target.id
    if (id < 0 || this.objects[id] !== target) return
    this.objects[id] = null
    this.generations[id] = -1
    this.freeIds.push(id)
    // Its pending copies will not run: their slots go back to the pool.
    target.dropPending(this.pool)
  }

  /**
   * `unregister` of a live UDP client ending (its `ended` flag was clear, so it is registered
   * under its id): the id's entries are overwritten without first reading them back (under a new
   * flow per request the client ended by the idle timer was registered --udp-timeout ago, and its
   * entries are out of cache), and its reply queue is freed when it holds messages.
   */
  unregisterClient(client: UdpProxyClient): void {
    const id = client.id
    this.objects[id] = null
    this.generations[id] = -1
    this.freeIds.push(id)
    if (client.length > 0) this.pool.clear(client)
  }

  /** Schedules event `what` for object `id` at `atNs`; b carries what (low bits) and the object's generation. */
  at(atNs: number, target: ProxyEventTarget, what: number): number {
    const scheduler = this.scheduler
    scheduler.stagedTimeNs = atNs
    return scheduler.scheduleStaged(this.kind, target.id, what | (target.generation << WHAT_BITS))
  }

  /**
   * `at(scheduler.stagedTimeNs, target, what)`: for the per-message copies, whose time (above
   * 2^31 ns after 2.1 s) would otherwise be boxed into a heap number when passed to a call V8 does
   * not inline (Scheduler.stagedTimeNs).
   */
  atStaged(target: ProxyEventTarget, what: number): void {
    // postStaged: the same event as scheduleStaged, without the handle nobody keeps here (a handle
    // above 2^30 returned from a call V8 does not inline is a heap number per event).
    this.scheduler.postStaged(this.kind, target.id, what | (target.generation << WHAT_BITS))
  }

  handleEvent(_kind: number, a: number, b: number, nowNs: number): void {
    if (this.generations[a] !== b >>> WHAT_BITS) return
    const what = b & WHAT_MASK
    const targetKind = this.targetKinds[a]
    if (targetKind === TARGET_UDP_CLIENT) return (this.objects[a] as UdpProxyClient).copyDone()
    if (targetKind === TARGET_UDP_SOCKET) {
      const socket = this.objects[a] as UdpProxySocket
      return what === EV_UDP_IDLE ? socket.idleTimerFired(nowNs) : socket.copyDone()
    }
    ;(this.objects[a] as ProxyEventTarget).onEvent(what, nowNs)
  }

  /** The holder of this node's UDP proxy ports (one socket object for all of them: udpHoldPort). */
  portHolder(): UdpSocket {
    if (this.holder === null) {
      const runtime = this
      const listener: UdpListener = {
        onUdpMessage(holder: UdpSocket, packet: Packet): void {
          const owner = runtime.heldPortOwner?.(packet.dstPort)
          if (owner === undefined)
            throw new Error(`userspace proxy on ${runtime.ns.name}: held port ${packet.dstPort} has no owner`)
          owner.onUdpMessage(holder, packet)
        },
        // As UdpProxySocket.onUdpError: an unconnected socket's errors are not read.
        onUdpError(): void {},
      }
      this.holder = new UdpSocket(this.network, this.ns, 0, 0, listener)
    }
    return this.holder
  }

  /** Copy cost of one message of `bytes` bytes through user space. */
  copyCostNs(bytes: number): number {
    const c = this.costs
    return c.perMessageNs + Math.ceil((bytes * c.perKiBNs) / 1024)
  }
}

/** An object that receives the runtime's events. */
abstract class ProxyEventTarget {
  id = -1
  /** Distinguishes this object from a later one registered under the same id (set by register). */
  generation = 0
  abstract onEvent(what: number, nowNs: number): void
  /** Frees the messages still queued in this object's copy loops (it is being forgotten). */
  dropPending(_pool: MessagePool): void {}
}

/**
 * Messages waiting in the copy loops of one node's proxy, pooled: parallel columns indexed by a
 * message slot, free slots chained through `next`. Each loop (CopyQueue) is a FIFO linked through
 * `next` from its head to its tail. Before this pool every loop owned a ring of five arrays, so
 * each new UDP client (one per request under a new flow per echo, upstream's ClientCache entry
 * with its own proxyClient loop) allocated six objects that lived for --udp-timeout; now a loop is
 * one object of four numbers and its messages reuse the pool's slots.
 */
export class MessagePool {
  // The columns start with an array of their kind (sized by the constructor): see sim/empty.ts.
  bytes: Int32Array = EMPTY_I32
  /** appTag and flowId are opaque numbers: kept as doubles so any value survives. */
  tags: Float64Array = EMPTY_F64
  flows: Float64Array = EMPTY_F64
  next: Int32Array = EMPTY_I32
  /** The owner's generation when the message was queued (ProxyEventTarget.generation). */
  gens: Int32Array = EMPTY_I32
  data: (object | null)[]
  /** Who a message goes to, when the loop serves several (the UDP read loop: the client). */
  owners: (object | null)[]
  private freeHead = -1
  private highWater = 0

  constructor(capacity = 64) {
    this.bytes = new Int32Array(capacity)
    this.tags = new Float64Array(capacity)
    this.flows = new Float64Array(capacity)
    this.next = new Int32Array(capacity)
    this.gens = new Int32Array(capacity)
    this.data = new Array<object | null>(capacity).fill(null)
    this.owners = new Array<object | null>(capacity).fill(null)
  }

  /** Appends a message to `q` (FIFO). */
  push(
    q: CopyQueue,
    bytes: number,
    tag: number,
    data: object | null,
    flow: number,
    owner: object | null,
    ownerGeneration = 0,
  ): void {
    let m = this.freeHead
    if (m >= 0) this.freeHead = this.next[m]
    else {
      if (this.highWater === this.bytes.length) this.grow()
      m = this.highWater++
    }
    this.bytes[m] = bytes
    this.tags[m] = tag
    this.data[m] = data
    this.flows[m] = flow
    this.owners[m] = owner
    this.gens[m] = ownerGeneration
    this.next[m] = -1
    if (q.tail >= 0) this.next[q.tail] = m
    else q.head = m
    q.tail = m
    q.length++
  }

  /** Frees every message of `q`. */
  clear(q: CopyQueue): void {
    while (q.length > 0) {
      const m = this.shift(q)
      this.data[m] = null
      this.owners[m] = null
    }
  }

  /**
   * Removes the oldest message of `q` and returns its slot; the slot's columns stay readable until
   * the next push (the caller reads them, clears data/owner, then pushes nothing in between).
   */
  shift(q: CopyQueue): number {
    const m = q.head
    q.head = this.next[m]
    if (q.head < 0) q.tail = -1
    q.length--
    this.next[m] = this.freeHead
    this.freeHead = m
    return m
  }

  private grow(): void {
    const size = this.bytes.length * 2
    const bytes = new Int32Array(size)
    bytes.set(this.bytes)
    this.bytes = bytes
    const tags = new Float64Array(size)
    tags.set(this.tags)
    this.tags = tags
    const flows = new Float64Array(size)
    flows.set(this.flows)
    this.flows = flows
    const next = new Int32Array(size)
    next.set(this.next)
    this.next = next
    const gens = new Int32Array(size)
    gens.set(this.gens)
    this.gens = gens
    this.data.length = size
    this.data.fill(null, this.highWater)
    this.owners.length = size
    this.owners.fill(null, this.highWater)
  }
}

/**
 * FIFO of messages one goroutine copies (its slots live in the node's MessagePool): each is
 * written to the sink when its copy cost has been spent after the previous one (busyUntilNs).
 */
export interface CopyQueue {
  /** Oldest and newest message slots (-1: empty). */
  head: number
  tail: number
  length: number
  busyUntilNs: number
}

class Queue implements CopyQueue {
  head = -1
  tail = -1
  length = 0
  busyUntilNs = 0
}

// ------------------------------------------------------------------------------- proxy ports

/**
 * One service port's proxy port on a node, a compact record until the first packet reaches it
 * (MODEL.md "Cluster scale: userspace mode"). The Go proxier opens a socket and starts a goroutine
 * per service port when the port is opened (addServiceOnPortInternal, ProxyLoop); a socket nobody
 * sends to has no effect beyond holding its port. So the port is bound at once (the namespace's
 * port table has the binding: clashes and later ephemeral choices are as with the proxy socket; a
 * TCP port's listening socket has this record as its listener, a UDP port's entry is the node's
 * holder socket, udpHoldPort, until its first datagram), and the proxy socket with its client
 * cache, copy loop and counters is made when the first datagram or connection arrives. Its runtime id and
 * generation are reserved now (ProxyRuntime.reserve), so the ids of everything registered later
 * are as if it had been made now. At thousands of Services x hundreds of nodes most ports never
 * see a packet. The record is the base of the proxier's per-node ServiceInfo (proxier.ts), so a
 * service port on a node is one object, not two.
 */
export abstract class ProxyPort implements UdpListener, TcpServerListener {
  /**
   * The TCP listening socket or, for UDP, the node's holder socket until the first packet, then the
   * proxy socket made then (it holds its kernel socket): one field for all, as a port has one at a
   * time (null before `openPort`).
   */
  private bound: UdpSocket | TcpListenSocket | UdpProxySocket | TcpProxySocket | null = null
  /** The id reserved with the port (ProxyRuntime.reserve). */
  private id = -1

  /** ServicePortName string. */
  abstract get name(): string

  /** This record as an opened port (null before `openPort`). */
  get proxy(): this | null {
    return this.bound === null ? null : this
  }

  /** The proxy socket, once a packet reached the port (null before). */
  get socket(): TcpProxySocket | UdpProxySocket | null {
    const bound = this.bound
    return bound instanceof UdpProxySocket || bound instanceof TcpProxySocket ? bound : null
  }

  /** The port opens (the sync that opened it ended): its id is reserved and the port bound. */
  openPort(runtime: ProxyRuntime, protocol: "tcp" | "udp", port: number): void {
    if (protocol === "tcp") {
      this.id = runtime.reserve(TARGET_OTHER)
      this.bound = runtime.network.tcpListen(runtime.ns, 0, port, this)
    } else {
      this.id = runtime.reserve(TARGET_UDP_SOCKET)
      // Bound in the port table, held by the node's one holder socket: the kernel socket of its
      // own is made with the proxy socket, at the first datagram (onUdpMessage).
      const holder = runtime.portHolder()
      if (!udpHoldPort(runtime.ns, port, holder))
        throw new Error(`userspace proxy on ${runtime.ns.name}: UDP port ${port} in use`)
      runtime.portsHeld++
      this.bound = holder
    }
  }

  /** The UDP port number this record is bound on (the ServiceInfo's proxy port). */
  abstract get proxyPort(): number

  /**
   * The first datagram: the port gets its kernel socket (the held binding is replaced by a socket
   * bound on the same port, at the same instant) and the proxy socket, which reads it.
   */
  onUdpMessage(holder: UdpSocket, packet: Packet): void {
    const runtime = ProxyRuntime.of(holder.ns)
    const port = this.proxyPort
    udpReleaseHeldPort(runtime.ns, port, holder)
    const kernel = runtime.network.udpBind(runtime.ns, 0, port, this)
    if (kernel === null) throw new Error(`userspace proxy on ${runtime.ns.name}: UDP port ${port} lost`)
    runtime.portsMaterialised++
    const socket = new UdpProxySocket(runtime, this.name, kernel, this.id)
    this.bound = socket
    socket.onUdpMessage(kernel, packet)
  }

  /** As UdpProxySocket.onUdpError: an unconnected socket's errors are not read. */
  onUdpError(): void {}

  /** The first connection: the socket is made (it takes the listener over) and accepts it. */
  onAccept(server: TcpListenSocket, conn: TcpConnection): TcpConnectionListener {
    const socket = new TcpProxySocket(ProxyRuntime.of(server.ns), this.name, server, this.id)
    this.bound = socket
    return socket.onAccept(server, conn)
  }

  /** Close(): the socket's, or, never made, the port and the reserved id are freed as its close would. */
  closePort(runtime: ProxyRuntime): void {
    const bound = this.bound
    if (bound === null) return
    if (bound instanceof UdpProxySocket || bound instanceof TcpProxySocket) return bound.close()
    if (bound instanceof UdpSocket) {
      // A held port (never given a socket of its own).
      if (runtime.ns.udpSockets.get(this.proxyPort) !== bound) return
      udpReleaseHeldPort(runtime.ns, this.proxyPort, bound)
    } else {
      if (bound.closed) return
      bound.close()
    }
    runtime.release(this.id)
  }
}

// ------------------------------------------------------------------------------------------ TCP

export class TcpProxySocket extends ProxyEventTarget implements TcpServerListener {
  alive = true
  readonly stats: ProxySocketStats = { accepted: 0, dialFailures: 0, rejected: 0, messagesCopied: 0, bytesCopied: 0 }
  /** Accepted connections waiting for the loop (it dials one endpoint at a time). */
  private readonly acceptQueue: TcpProxyPair[] = []
  private dialing: TcpProxyPair | null = null

  constructor(
    readonly runtime: ProxyRuntime,
    /** ServicePortName string. */
    readonly service: string,
    /** The port's listening socket, opened with the port (ProxyPort). */
    readonly listener: TcpListenSocket,
    /** The id reserved with the port (ProxyRuntime.reserve). */
    id: number,
  ) {
    super()
    runtime.adopt(id, this)
    listener.listener = this
  }

  get port(): number {
    return this.listener.localPort
  }

  /** The kernel completed a handshake: the connection waits in the accept queue for the loop. */
  onAccept(_server: TcpListenSocket, conn: TcpConnection): TcpConnectionListener {
    const pair = new TcpProxyPair(this, conn)
    this.acceptQueue.push(pair)
    if (this.dialing === null) this.acceptNext(this.runtime.scheduler.nowNs)
    return pair
  }

  /** Close(): no new connections; established ones are left untouched (tcpProxySocket). */
  close(): void {
    if (!this.alive) return
    this.alive = false
    this.listener.close()
    // Connections accepted by the kernel but not yet by the loop die with the listener (RST).
    for (const pair of this.acceptQueue) pair.abortClient()
    this.acceptQueue.length = 0
    this.runtime.unregister(this)
  }

  onEvent(_what: number, _nowNs: number): void {}

  /** The loop takes the next accepted connection (Accept returned). */
  acceptNext(nowNs: number): void {
    this.dialing = null
    while (this.alive && this.acceptQueue.length > 0) {
      const pair = this.acceptQueue.shift() as TcpProxyPair
      if (pair.clientGone) {
        this.runtime.unregister(pair)
        continue
      }
      this.stats.accepted++
      this.dialing = pair
      pair.startDialing(nowNs)
      return
    }
  }
}

/** One proxied client connection: inConn (client side), outConn (endpoint side), two copy loops. */
export class TcpProxyPair extends ProxyEventTarget implements TcpConnectionListener {
  out: TcpConnection | null = null
  /** The endpoint the current or successful dial goes to. */
  endpoint = ""
  private attempt = 0
  private timeoutHandle = -1
  private established = false
  clientGone = false
  private closing = false
  /** [to backend, from backend]. */
  private readonly queues: [CopyQueue, CopyQueue] = [new Queue(), new Queue()]
  /** EOF or error seen on the source of a direction: close both once its queue is written. */
  private readonly eof: [boolean, boolean] = [false, false]
  private closedCount = 0

  constructor(
    readonly socket: TcpProxySocket,
    readonly inConn: TcpConnection,
  ) {
    super()
    this.id = socket.runtime.register(this)
  }

  get clientAddress(): Ipv4 {
    return this.inConn.remoteAddr
  }

  /** The loop accepted this connection: spend connectCost, then dial (tryConnect). */
  startDialing(nowNs: number): void {
    this.socket.runtime.at(nowNs + this.socket.runtime.costs.connectNs, this, EV_DIAL)
  }

  onEvent(what: number, nowNs: number): void {
    switch (what) {
      case EV_DIAL:
        return this.dial(nowNs)
      case EV_DIAL_TIMEOUT:
        return this.dialTimedOut(nowNs)
      case EV_COPY:
        return this.copyDone(0)
      case EV_COPY_BACK:
        return this.copyDone(1)
    }
  }

  /** One attempt of tryConnect. */
  private dial(nowNs: number): void {
    const rt = this.socket.runtime
    if (this.clientGone) return this.giveUp(nowNs, false)
    const endpoint = rt.lb.nextEndpointFor(this.socket.service, this.clientAddress, this.attempt > 0, nowNs)
    if (isNextEndpointError(endpoint)) return this.giveUp(nowNs, true)
    this.endpoint = endpoint
    const colon = endpoint.lastIndexOf(":")
    const ip = ipv4Of(endpoint.slice(0, colon))
    const port = Number(endpoint.slice(colon + 1))
    this.out = rt.network.tcpConnect(rt.ns, ip, port, this, this.inConn.flowId)
    this.timeoutHandle = rt.at(nowNs + (ENDPOINT_DIAL_TIMEOUTS_NS[this.attempt] as number), this, EV_DIAL_TIMEOUT)
  }

  private dialTimedOut(nowNs: number): void {
    if (this.established || this.out === null) return
    // DialTimeout gave up: the half-open socket is closed (no RST from SYN_SENT).
    const out = this.out
    this.out = null
    out.listener = null
    out.abort()
    this.dialFailed(nowNs)
  }

  private dialFailed(nowNs: number): void {
    this.socket.stats.dialFailures++
    this.attempt++
    if (this.attempt >= ENDPOINT_DIAL_TIMEOUTS_NS.length) return this.giveUp(nowNs, true)
    this.dial(nowNs)
  }

  /** tryConnect failed: inConn.Close(), the loop accepts the next connection. */
  private giveUp(nowNs: number, counted: boolean): void {
    if (counted) this.socket.stats.rejected++
    if (!this.clientGone) {
      this.inConn.listener = null
      this.inConn.close()
    }
    this.socket.runtime.unregister(this)
    this.socket.acceptNext(nowNs)
  }

  abortClient(): void {
    this.clientGone = true
    this.inConn.listener = null
    this.inConn.abort()
    this.socket.runtime.unregister(this)
  }

  // TcpConnectionListener, for both connections.

  onConnected(conn: TcpConnection): void {
    if (conn !== this.out) return
    const rt = this.socket.runtime
    const nowNs = rt.scheduler.nowNs
    rt.scheduler.cancel(this.timeoutHandle)
    this.established = true
    // The client may have sent (or closed) while the dial ran: its bytes wait in the queue.
    const q = this.queues[0]
    const pool = rt.pool
    let atNs = nowNs
    for (let m = q.head; m >= 0; m = pool.next[m]) {
      atNs += rt.copyCostNs(pool.bytes[m])
      rt.at(atNs, this, EV_COPY)
    }
    q.busyUntilNs = atNs
    // The client reset while the dial ran: the copy from it fails at once and closes both.
    if (this.clientGone) this.closeBoth()
    else if (q.length === 0 && this.eof[0]) this.closeBoth()
    this.socket.acceptNext(nowNs)
  }

  onMessage(conn: TcpConnection, bytes: number, appTag: number, appData: object | null): void {
    const direction = conn === this.inConn ? 0 : 1
    const rt = this.socket.runtime
    const nowNs = rt.scheduler.nowNs
    const q = this.queues[direction]
    const startNs = q.busyUntilNs > nowNs ? q.busyUntilNs : nowNs
    // Before the endpoint connection exists, the client's bytes wait in the kernel's buffer: the
    // copy goroutine starts with the connection (onConnected schedules them).
    if (direction === 0 && !this.established) {
      rt.pool.push(q, bytes, appTag, appData, 0, null)
      return
    }
    q.busyUntilNs = startNs + rt.copyCostNs(bytes)
    rt.pool.push(q, bytes, appTag, appData, 0, null)
    rt.at(q.busyUntilNs, this, direction === 0 ? EV_COPY : EV_COPY_BACK)
  }

  /** The head message of direction d is copied: written to the other connection. */
  private copyDone(d: number): void {
    const q = this.queues[d]
    const dest = d === 0 ? this.out : this.inConn
    if (q.length === 0 || dest === null) return
    const pool = this.socket.runtime.pool
    const m = pool.shift(q)
    const bytes = pool.bytes[m]
    const data = pool.data[m]
    pool.data[m] = null
    dest.send(bytes, pool.tags[m], data)
    this.socket.stats.messagesCopied++
    this.socket.stats.bytesCopied += bytes
    if (q.length === 0 && this.eof[d]) this.closeBoth()
  }

  onPeerClosed(conn: TcpConnection): void {
    // io.Copy returned (EOF): after the last write, dest.Close(); src.Close().
    const d = conn === this.inConn ? 0 : 1
    this.eof[d] = true
    if (d === 0 && !this.established) return
    if (this.queues[d].length === 0) this.closeBoth()
  }

  onClosed(conn: TcpConnection, error: NetError): void {
    const rt = this.socket.runtime
    if (conn === this.out && !this.established) {
      // The dial failed (refused, unreachable...): the next attempt.
      rt.scheduler.cancel(this.timeoutHandle)
      this.out = null
      return this.dialFailed(rt.scheduler.nowNs)
    }
    if (conn === this.inConn && !this.established) {
      this.clientGone = true
      this.closedCount++
      return
    }
    this.closedCount++
    // An I/O error on either side ends both copies.
    if (error !== NetError.NONE) this.closeBoth()
    if (this.closedCount >= 2) rt.unregister(this)
  }

  override dropPending(pool: MessagePool): void {
    pool.clear(this.queues[0])
    pool.clear(this.queues[1])
  }

  private closeBoth(): void {
    if (this.closing) return
    this.closing = true
    closeIfOpen(this.out)
    closeIfOpen(this.inConn)
  }
}

function closeIfOpen(conn: TcpConnection | null): void {
  if (conn === null) return
  if (conn.state === TcpState.CLOSED || conn.state === TcpState.TIME_WAIT) return
  conn.close()
}

/** An "ip:port" endpoint's address (the load balancer only holds addresses it was given). */
function ipv4Of(text: string): Ipv4 {
  const address = parseIpv4(text)
  if (address === undefined) throw new Error(`userspace proxy: bad endpoint address ${text}`)
  return address
}

function isNextEndpointError(value: string): value is NextEndpointError {
  return value === NextEndpointError.MISSING_SERVICE_ENTRY || value === NextEndpointError.MISSING_ENDPOINTS
}

// ------------------------------------------------------------------------------------------ UDP

export class UdpProxySocket extends ProxyEventTarget implements UdpListener {
  alive = true
  readonly stats: ProxySocketStats = { accepted: 0, dialFailures: 0, rejected: 0, messagesCopied: 0, bytesCopied: 0 }
  /**
   * clientCache: the client's "ip:port" -> its connection to an endpoint, keyed by the (address,
   * port) pair (the same pairs as the string key, without formatting one per message; insertion
   * ordered as the Go map is not, but Close walks it and its order must not vary between runs).
   */
  readonly clients = new PairMap<UdpProxyClient>()
  /** The read loop: copies to endpoints, serialized. */
  readonly loop: CopyQueue = new Queue()
  /** Ended clients, reused for new ones (UdpProxyClient). */
  readonly freeClients: UdpProxyClient[] = []
  /**
   * The clients' idle deadlines, with one timer for all of them. Each client's connection to its
   * endpoint gets SetDeadline(now + --udp-timeout) after every write to it (ProxyLoop) and every
   * read from it (proxyClient), and its ReadFrom fails at that deadline: the client is closed and
   * deleted from the cache (v1.25 proxysocket.go). The live clients are kept in the order of their
   * last activity, oldest first (a read or write moves a client to the tail), so the head's
   * deadline is the earliest. The timer is pending at or before it; when it fires it ends the
   * clients whose deadline is now and is re-armed at the new head's deadline. Every client thus
   * ends at exactly its deadline, as with a timer per client re-armed at its deadline, with one
   * pending event per socket instead of one or two per client.
   */
  idleHead: UdpProxyClient | null = null
  idleTail: UdpProxyClient | null = null
  /** The idle timer is pending (at or before the head's deadline). */
  private idleArmed = false

  // Assigned in the constructor, not parameter properties: see ProxyRuntime's.
  declare readonly runtime: ProxyRuntime
  declare readonly service: string
  /** The port's socket, bound with the port (ProxyPort). */
  declare readonly socket: UdpSocket

  /** `id`: the id reserved with the port (ProxyRuntime.reserve). */
  constructor(runtime: ProxyRuntime, service: string, socket: UdpSocket, id: number) {
    super()
    this.runtime = runtime
    this.service = service
    this.socket = socket
    runtime.adopt(id, this)
    socket.listener = this
  }

  get port(): number {
    return this.socket.localPort
  }

  /** Parsed "ip:port" endpoints: the load balancer hands out the same few strings for every client. */
  private readonly endpointTargets = new Map<string, { readonly address: Ipv4; readonly port: number }>()

  /** The address and port of endpoint "ip:port" (parsed once per endpoint string). */
  endpointTarget(endpoint: string): { readonly address: Ipv4; readonly port: number } {
    let target = this.endpointTargets.get(endpoint)
    if (target === undefined) {
      const colon = endpoint.lastIndexOf(":")
      target = { address: ipv4Of(endpoint.slice(0, colon)), port: Number(endpoint.slice(colon + 1)) }
      this.endpointTargets.set(endpoint, target)
    }
    return target
  }

  /** Close(): the loop ends and existing client connections break. */
  close(): void {
    if (!this.alive) return
    this.alive = false
    this.socket.close()
    for (const client of this.clients.values()) client.end()
    // A client whose dial found no free port is in no cache; its deadline would have ended it.
    while (this.idleHead !== null) this.idleHead.end()
    this.runtime.unregister(this)
  }

  onUdpMessage(_socket: UdpSocket, packet: Packet): void {
    if (!this.alive) return
    const rt = this.runtime
    const nowNs = rt.scheduler.nowNs
    let client = this.clients.get(packet.srcAddr, packet.srcPort)
    let startNs = this.loop.busyUntilNs > nowNs ? this.loop.busyUntilNs : nowNs
    if (client === undefined) {
      // getBackendConn: a new client; tryConnect's first NextEndpoint (a UDP dial does not fail).
      const endpoint = rt.lb.nextEndpointFor(this.service, packet.srcAddr, false, nowNs)
      if (isNextEndpointError(endpoint)) {
        this.stats.rejected++
        return
      }
      this.stats.accepted++
      startNs += rt.costs.connectNs
      client = this.freeClients.length > 0 ? (this.freeClients.pop() as UdpProxyClient) : new UdpProxyClient(this)
      client.start(packet.srcAddr, packet.srcPort, endpoint)
      if (!client.ok) return
      // The get above missed and nothing entered the cache since: no second probe (PairMap.add).
      this.clients.add(packet.srcAddr, packet.srcPort, client)
    }
    const bytes = packet.payloadBytes > UDP_BUFFER_BYTES ? UDP_BUFFER_BYTES : packet.payloadBytes
    const doneNs = startNs + rt.copyCostNs(bytes)
    this.loop.busyUntilNs = doneNs
    rt.pool.push(this.loop, bytes, packet.appTag, packet.appData, packet.flowId, client, client.generation)
    rt.scheduler.stagedTimeNs = doneNs
    rt.atStaged(this, EV_COPY)
  }

  onUdpError(): void {}

  override dropPending(pool: MessagePool): void {
    pool.clear(this.loop)
  }

  /** A new client (the latest deadline): appended; the timer is armed if it was not. */
  idleAppend(client: UdpProxyClient): void {
    client.idlePrev = this.idleTail
    client.idleNext = null
    if (this.idleTail !== null) this.idleTail.idleNext = client
    else this.idleHead = client
    this.idleTail = client
    if (!this.idleArmed) {
      this.idleArmed = true
      const rt = this.runtime
      rt.scheduler.stagedTimeNs = client.lastActivityNs + rt.udpIdleTimeoutNs
      rt.atStaged(this, EV_UDP_IDLE)
    }
  }

  /** `client` read or wrote at `nowNs`: its deadline moves to nowNs + timeout (the latest). */
  idleTouch(client: UdpProxyClient, nowNs: number): void {
    client.lastActivityNs = nowNs
    const next = client.idleNext
    if (next === null) return
    const prev = client.idlePrev
    if (prev !== null) prev.idleNext = next
    else this.idleHead = next
    next.idlePrev = prev
    const tail = this.idleTail as UdpProxyClient
    tail.idleNext = client
    client.idlePrev = tail
    client.idleNext = null
    this.idleTail = client
  }

  /** `client` ended: out of the deadline order (the timer may then fire early and re-arm). */
  idleRemove(client: UdpProxyClient): void {
    const prev = client.idlePrev
    const next = client.idleNext
    if (prev !== null) prev.idleNext = next
    else if (this.idleHead === client) this.idleHead = next
    else return
    if (next !== null) next.idlePrev = prev
    else this.idleTail = prev
    client.idlePrev = null
    client.idleNext = null
  }

  /** The idle timer: the clients whose deadline is now end (ReadFrom timed out); re-armed at the next deadline. */
  idleTimerFired(nowNs: number): void {
    const timeoutNs = this.runtime.udpIdleTimeoutNs
    let head = this.idleHead
    while (head !== null && head.lastActivityNs + timeoutNs <= nowNs) {
      head.end()
      head = this.idleHead
    }
    if (head === null) this.idleArmed = false
    else {
      // at(deadline, this, EV_UDP_IDLE) with the time staged (atStaged): a deadline above 2^31 ns
      // passed as an argument would be boxed, and under a new flow per request this runs per echo.
      const rt = this.runtime
      rt.scheduler.stagedTimeNs = head.lastActivityNs + timeoutNs
      rt.atStaged(this, EV_UDP_IDLE)
    }
  }

  onEvent(_what: number, _nowNs: number): void {
    this.copyDone()
  }

  /** One copy is done per event, in order (events of one queue fire in schedule order). */
  copyDone(): void {
    const q = this.loop
    if (q.length === 0) return
    const pool = this.runtime.pool
    const m = pool.shift(q)
    const client = pool.owners[m] as UdpProxyClient
    const data = pool.data[m]
    pool.owners[m] = null
    pool.data[m] = null
    // A client that ended since is skipped (writeToEndpoint also checks `ended`), even when its
    // object already serves another client (a new generation).
    if (client.generation !== pool.gens[m]) return
    client.writeToEndpoint(pool.bytes[m], pool.tags[m], data, pool.flows[m])
  }
}

/**
 * One client of a UDP service port (a ClientCache entry): a connected socket to its endpoint and
 * the reply loop (proxyClient). An ended client goes back to its socket's free list and serves a
 * later client (`start`): under a new flow per request every datagram makes a client that lives
 * for --udp-timeout, and reusing the objects keeps them out of the garbage collector's old
 * generation. A reused object gets a new id and generation (ProxyRuntime.register), so events and
 * read-loop messages of its previous client are recognized and ignored, as they were for the
 * ended object.
 */
export class UdpProxyClient extends ProxyEventTarget implements UdpListener, CopyQueue {
  ok = false
  private out: UdpSocket | null = null
  private ended = true
  clientAddr: Ipv4 = 0
  clientPort = 0
  endpoint = ""
  /** The last read from or write to the endpoint (SetDeadline's base) and the socket's deadline order. */
  lastActivityNs = 0
  idlePrev: UdpProxyClient | null = null
  idleNext: UdpProxyClient | null = null
  // proxyClient's copy loop back to the client: the client is its queue (CopyQueue's fields in
  // the object itself, one object less per client).
  head = -1
  tail = -1
  length = 0
  busyUntilNs = 0

  /** Assigned in the constructor, not a parameter property: see ProxyRuntime's fields. */
  declare readonly socket: UdpProxySocket

  constructor(socket: UdpProxySocket) {
    super()
    this.socket = socket
  }

  /** getBackendConn after NextEndpoint: dials `endpoint` for the client (a UDP dial does not fail). */
  start(clientAddr: Ipv4, clientPort: number, endpoint: string): void {
    const socket = this.socket
    const rt = socket.runtime
    this.clientAddr = clientAddr
    this.clientPort = clientPort
    this.endpoint = endpoint
    this.ended = false
    this.busyUntilNs = 0
    this.id = rt.register(this, TARGET_UDP_CLIENT)
    this.out = rt.network.udpBind(rt.ns, 0, 0, this)
    this.ok = this.out !== null
    if (this.out !== null) {
      const target = socket.endpointTarget(endpoint)
      this.out.connect(target.address, target.port)
    }
    this.lastActivityNs = rt.scheduler.nowNs
    socket.idleAppend(this)
  }

  /** The read loop's Write to the endpoint, then SetDeadline(now + timeout). */
  writeToEndpoint(bytes: number, tag: number, data: object | null, flow: number): void {
    const out = this.out
    if (this.ended || out === null) return
    // out.send(...) spelled out: one call frame less per datagram (send is sendTo to the peer).
    out.sendTo(out.remoteAddr, out.remotePort, bytes, tag, data, flow)
    this.socket.stats.messagesCopied++
    this.socket.stats.bytesCopied += bytes
    this.socket.idleTouch(this, this.socket.runtime.scheduler.nowNs)
  }

  onUdpMessage(_socket: UdpSocket, packet: Packet): void {
    if (this.ended) return
    const rt = this.socket.runtime
    const nowNs = rt.scheduler.nowNs
    // Read (4 KiB buffer), SetDeadline, then WriteTo the client from the service port's socket.
    this.socket.idleTouch(this, nowNs)
    const bytes = packet.payloadBytes > UDP_BUFFER_BYTES ? UDP_BUFFER_BYTES : packet.payloadBytes
    const q: CopyQueue = this
    const startNs = q.busyUntilNs > nowNs ? q.busyUntilNs : nowNs
    const doneNs = startNs + rt.copyCostNs(bytes)
    q.busyUntilNs = doneNs
    rt.pool.push(q, bytes, packet.appTag, packet.appData, packet.flowId, null)
    rt.scheduler.stagedTimeNs = doneNs
    rt.atStaged(this, EV_COPY)
  }

  onUdpError(_socket: UdpSocket, _error: NetError): void {
    // Read failed (ECONNREFUSED from the endpoint's port unreachable): the client is forgotten.
    this.end()
  }

  onEvent(_what: number, _nowNs: number): void {
    this.copyDone()
  }

  /** A reply's copy is done (the idle deadline is the socket's, see UdpProxySocket.idleTimerFired). */
  copyDone(): void {
    if (this.ended) return
    const q: CopyQueue = this
    if (q.length === 0) return
    const pool = this.socket.runtime.pool
    const m = pool.shift(q)
    const bytes = pool.bytes[m]
    const data = pool.data[m]
    pool.data[m] = null
    if (!this.socket.alive) return this.end()
    this.socket.socket.sendTo(this.clientAddr, this.clientPort, bytes, pool.tags[m], data, pool.flows[m])
    this.socket.stats.messagesCopied++
    this.socket.stats.bytesCopied += bytes
  }

  override dropPending(pool: MessagePool): void {
    pool.clear(this)
  }

  /** svrConn.Close() and delete from the client cache; the object waits for its next client. */
  end(): void {
    if (this.ended) return
    this.ended = true
    const out = this.out
    if (out !== null) {
      out.close()
      this.out = null
    }
    const socket = this.socket
    socket.clients.deleteIf(this.clientAddr, this.clientPort, this)
    socket.idleRemove(this)
    socket.runtime.unregisterClient(this)
    socket.freeClients.push(this)
  }
}
