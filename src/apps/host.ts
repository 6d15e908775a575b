/**
 * What clients and servers need from the registry that runs them (Apps implements both). Clients
 * and servers import this file, never apps.ts, so the registry sits above them in the import graph
 * (test/tidy.test.ts refuses import cycles). They are named by their index in the registry, as the
 * events that wake them carry it.
 */
import type { Network } from "../net/network.ts"
import type { Scheduler } from "../sim/scheduler.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import type { RequestObserver, ServerIdentity } from "./observer.ts"

interface AppHost {
  readonly network: Network
  readonly observer: RequestObserver
  readonly nowNs: number
  /**
   * The run's scheduler, for the staged calls below: a hot caller stores the event's time in
   * scheduler.stagedTimeNs and calls the staged variant, so no time above 2^30 ns is passed as an
   * argument (boxed into a new heap number per call V8 does not inline; Scheduler.stagedTimeNs).
   */
  readonly scheduler: Scheduler
}

export interface ClientHost extends AppHost {
  /** Wakes client `clientIndex` (onArrival) at `atNs`. */
  scheduleArrival(clientIndex: number, atNs: number): void
  /** Times out request `requestId` of client `clientIndex` at `atNs`; returns a handle for cancel. */
  scheduleTimeout(clientIndex: number, requestId: number, atNs: number): number
  cancel(handle: number): void
  /** scheduleArrival at scheduler.stagedTimeNs. */
  scheduleArrivalStaged(clientIndex: number): void
  /**
   * scheduleTimeout at scheduler.stagedTimeNs; returns the event's slot, its generation is
   * scheduler.lastGeneration: the handle as two small integers, for cancelSlot.
   */
  scheduleTimeoutStaged(clientIndex: number, requestId: number): number
  /** cancel(handle) for a handle given as (slot, generation) by scheduleTimeoutStaged. */
  cancelSlot(slot: number, generation: number): void
  /** Client `clientIndex` has no request left to start and none in flight. */
  clientFinished(clientIndex: number): void
  /** The server identity owning an address (for replies that carry none, like ICMP echo). */
  identityOf(address: Ipv4): ServerIdentity | null
}

export interface ServerHost extends AppHost {
  /** Wakes server `serverIndex` (onServe) for job `slot` at `atNs`. */
  scheduleServe(serverIndex: number, slot: number, atNs: number): void
  /** scheduleServe at scheduler.stagedTimeNs. */
  scheduleServeStaged(serverIndex: number, slot: number): void
}
