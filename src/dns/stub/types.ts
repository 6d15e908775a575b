/**
 * The contract between a stub resolver state machine (glibc.ts, musl.ts, go.ts) and the client
 * that drives it: the machine never touches sockets or clocks; it returns actions and a deadline,
 * and is told about replies and expired deadlines (smoltcp's `poll(now)` / `poll_at` shape).
 *
 * Sockets are small integers chosen by the machine, unique within one lookup: the same number
 * means the same socket (same source port, same conntrack 5-tuple); a new number means a new
 * socket (a new ephemeral port). A `close` action releases one. The client sends each `send`
 * from that socket to `nameservers[server]`:53 over `transport`, and calls `onReply` with the
 * socket a reply arrived on. Over TCP a socket is one connection (the client does the handshake).
 *
 * The returned action array is reused by the machine: it is valid until the next call.
 */
import type { DnsMessage } from "../../wire/dns.ts"

export type StubLibc = "glibc" | "musl" | "go"

export interface StubSend {
  readonly kind: "send"
  readonly socket: number
  readonly transport: "udp" | "tcp"
  /** Index into the resolver configuration's nameservers. */
  readonly server: number
  readonly query: DnsMessage
}

export interface StubClose {
  readonly kind: "close"
  readonly socket: number
}

export interface StubDone {
  readonly kind: "done"
  readonly outcome: StubOutcome
}

export type StubAction = StubSend | StubClose | StubDone

/**
 * How a getaddrinfo call ended. `again` is EAI_AGAIN (timeout or SERVFAIL: `reason` says which),
 * `nxdomain` EAI_NONAME, `nodata` EAI_NODATA (glibc, musl) / "no such host" (Go), `fail` EAI_FAIL.
 */
export interface StubOutcome {
  readonly status: "answered" | "nxdomain" | "nodata" | "again" | "fail"
  readonly reason: "timeout" | "servfail" | "refused" | null
  /** A then AAAA addresses of the answered name, in answer order. */
  readonly addresses: readonly string[]
  /** The FQDN (no trailing dot) that answered, or null. */
  readonly answeredName: string | null
}

/** A lookup in progress. */
export interface StubLookup {
  /** Sends the first queries. Call once. */
  start(nowNs: number): readonly StubAction[]
  /**
   * A datagram or TCP message arrived on `socket` from `nameservers[server]`. Unknown ids, closed
   * sockets and replies from unconfigured servers are ignored.
   */
  onReply(nowNs: number, socket: number, server: number, reply: DnsMessage): readonly StubAction[]
  /** The deadline passed: call when nowNs >= deadlineNs. */
  onTimeout(nowNs: number): readonly StubAction[]
  /** Next time onTimeout must be called, or -1 when nothing waits on a timer. */
  readonly deadlineNs: number
  readonly finished: boolean
}

/** Source of query ids and random choices: the caller's seeded stream (sim/rng.ts Rng fits). */
export interface StubRandom {
  intBelow(n: number): number
}

/** Which address families getaddrinfo asks for (AF_UNSPEC = both, A first). */
export type StubFamilies = "A+AAAA" | "A" | "AAAA"
