/**
 * What clients and servers need from the registry that runs them (Apps implements both). Clients
 * and servers import this file, never apps.ts, so the registry sits above them in the import graph
 * (test/tidy.test.ts refuses import cycles). They are named by their index in the registry, as the
 * events that wake them carry it.
 */
import type { Network } from "../net/network.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import type { RequestObserver, ServerIdentity } from "./observer.ts"

interface AppHost {
  readonly network: Network
  readonly observer: RequestObserver
  readonly nowNs: number
}

export interface ClientHost extends AppHost {
  /** Wakes client `clientIndex` (onArrival) at `atNs`. */
  scheduleArrival(clientIndex: number, atNs: number): void
  /** Times out request `requestId` of client `clientIndex` at `atNs`; returns a handle for cancel. */
  scheduleTimeout(clientIndex: number, requestId: number, atNs: number): number
  cancel(handle: number): void
  /** Client `clientIndex` has no request left to start and none in flight. */
  clientFinished(clientIndex: number): void
  /** The server identity owning an address (for replies that carry none, like ICMP echo). */
  identityOf(address: Ipv4): ServerIdentity | null
}

export interface ServerHost extends AppHost {
  /** Wakes server `serverIndex` (onServe) for job `slot` at `atNs`. */
  scheduleServe(serverIndex: number, slot: number, atNs: number): void
}
