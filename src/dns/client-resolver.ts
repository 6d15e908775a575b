/**
 * The seam between a workload's client and name resolution. A client asks before each new
 * connection (glibc's getaddrinfo runs per connect: curl, wget and most HTTP stacks call it for
 * every connection they open and keep no cache), except where its connection mode reuses one.
 *
 * Two implementations: the `static` table (dns/resolve.ts, answered once per workload by the
 * runtime, no packet; a client with no resolver uses it) and `packets` (dns/stub-driver.ts: the
 * pod's stub resolver sends real queries from its network namespace).
 */
import type { Ipv4 } from "../wire/ipv4.ts"

/** Why a lookup failed, as the request's failure reason names it. */
export type DnsFailure = "dns-timeout" | "nxdomain" | "dns-nodata" | "dns-servfail" | "dns-refused" | "dns-fail"

export interface ResolverListener {
  /** The lookup `token` ended: `failure` null means `address` is the first address of the answer. */
  onResolved(token: number, address: Ipv4, failure: DnsFailure | null, nowNs: number): void
}

export interface ClientResolver {
  /**
   * Starts a lookup of the client's target name. Returns the address when known at once, or -1:
   * then `listener.onResolved(token, ...)` is called exactly once, later.
   */
  lookup(listener: ResolverListener, token: number, nowNs: number): number
}
