/**
 * The application layer of a run: every client and server, and the three event kinds they use
 * (arrival, request timeout, server reply). One dispatcher object for all of them, so no closure
 * is allocated per event: events carry (client or server index, request id or job slot).
 */
import type { Network } from "../net/network.ts"
import type { EventHandler, Scheduler } from "../sim/scheduler.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import type { Client } from "./client.ts"
import type { ClientHost, ServerHost } from "./host.ts"
import type { RequestObserver, ServerIdentity } from "./observer.ts"
import type { Server } from "./server.ts"
import { assert } from "../sim/assert.ts"

/** Told when a client has finished (no request left to start, none in flight). */
export interface AppsListener {
  onClientFinished(client: Client): void
}

export class Apps implements EventHandler, ClientHost, ServerHost {
  listener: AppsListener | null = null
  readonly clients: Client[] = []
  readonly servers: Server[] = []
  private readonly identities = new Map<Ipv4, ServerIdentity>()
  // Read per request: `declare`d and assigned in the constructor rather than declared without a
  // value or as parameter properties, which are first defined as undefined, so V8 tracks them as
  // any value (see sim/empty.ts); assigned once, a field keeps the type of what it holds.
  declare private readonly kindArrival: number
  declare private readonly kindTimeout: number
  declare private readonly kindServe: number
  declare readonly scheduler: Scheduler
  declare readonly network: Network
  declare readonly observer: RequestObserver

  constructor(scheduler: Scheduler, network: Network, observer: RequestObserver) {
    this.scheduler = scheduler
    this.network = network
    this.observer = observer
    this.kindArrival = scheduler.registerKind("apps/arrival", this)
    this.kindTimeout = scheduler.registerKind("apps/timeout", this)
    this.kindServe = scheduler.registerKind("apps/serve", this)
    scheduler.preferDispatch(this)
  }

  get nowNs(): number {
    // The tagged copy: clients pass it on as an argument (complete, fail), which would box a
    // read of the double field once per reply.
    return this.scheduler.nowBoxedNs
  }

  addClient(client: Client): void {
    client.index = this.clients.length
    this.clients.push(client)
  }

  /**
   * `index`: a slot reserved with reserveServers (the server of a pod built on first use takes the
   * index, and so the events, it would have had if started at once; its identity is registered).
   */
  addServer(server: Server, index?: number): void {
    if (index !== undefined) {
      assert(index < this.servers.length && this.servers[index] === undefined, "server index not reserved")
      server.index = index
      this.servers[index] = server
      return
    }
    server.index = this.servers.length
    this.servers.push(server)
    this.identities.set(server.identity.address, server.identity)
  }

  /**
   * Indices for `count` servers of `identity` started later (addServer with index); the slots are
   * empty until then (nothing addresses a server before it exists). The identity answers for its
   * address from now, as if they had started now. Returns the first index.
   */
  reserveServers(count: number, identity: ServerIdentity): number {
    const first = this.servers.length
    this.servers.length = first + count
    if (count > 0) this.identities.set(identity.address, identity)
    return first
  }

  /** The server identity owning an address (for replies that carry none, like ICMP echo). */
  identityOf(address: Ipv4): ServerIdentity | null {
    return this.identities.get(address) ?? null
  }

  clientFinished(clientIndex: number): void {
    this.listener?.onClientFinished(this.clients[clientIndex])
  }

  scheduleArrival(clientIndex: number, atNs: number): void {
    this.scheduler.schedule(atNs, this.kindArrival, clientIndex, 0)
  }

  scheduleTimeout(clientIndex: number, requestId: number, atNs: number): number {
    return this.scheduler.schedule(atNs, this.kindTimeout, clientIndex, requestId)
  }

  scheduleServe(serverIndex: number, slot: number, atNs: number): void {
    this.scheduler.schedule(atNs, this.kindServe, serverIndex, slot)
  }

  cancel(handle: number): void {
    this.scheduler.cancel(handle)
  }

  scheduleArrivalStaged(clientIndex: number): void {
    this.scheduler.postStaged(this.kindArrival, clientIndex, 0)
  }

  scheduleTimeoutStaged(clientIndex: number, requestId: number): number {
    return this.scheduler.scheduleStagedSlot(this.kindTimeout, clientIndex, requestId)
  }

  cancelSlot(slot: number, generation: number): void {
    this.scheduler.cancelSlot(slot, generation)
  }

  scheduleServeStaged(serverIndex: number, slot: number): void {
    this.scheduler.postStaged(this.kindServe, serverIndex, slot)
  }

  handleEvent(kind: number, a: number, b: number, nowNs: number): void {
    if (kind === this.kindArrival) this.clients[a].onArrival(nowNs)
    else if (kind === this.kindTimeout) this.clients[a].onTimeout(b, nowNs)
    else if (kind === this.kindServe) this.servers[a].onServe(b, nowNs)
  }
}
