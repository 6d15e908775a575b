/** Helpers shared by the stub resolver machines. */
import { DnsType, type DnsMessage } from "../../wire/dns.ts"
import type { StubAction, StubFamilies, StubOutcome } from "./types.ts"

/** Query types of one getaddrinfo exchange, in the order glibc, musl and Go send them. */
export function familyQtypes(families: StubFamilies): readonly number[] {
  return families === "A+AAAA" ? [DnsType.A, DnsType.AAAA] : families === "A" ? [DnsType.A] : [DnsType.AAAA]
}

/** `name` + "." + `suffix`, the root suffix "." giving the name itself. */
export function joinName(name: string, suffix: string): string {
  return suffix === "." || suffix === "" ? name : `${name}.${suffix}`
}

/** A and AAAA addresses carried in a reply's answer section. */
export function replyAddresses(reply: DnsMessage, out: string[]): void {
  for (const r of reply.answers) if (r.type === DnsType.A || r.type === DnsType.AAAA) out.push(r.address)
}

/** True when the reply answers with at least one record of `qtype` (or a CNAME chain ending in one). */
export function hasAnswerOfType(reply: DnsMessage, qtype: number): boolean {
  for (const r of reply.answers) if (r.type === qtype) return true
  return false
}

export function doneAction(outcome: StubOutcome): StubAction {
  return { kind: "done", outcome }
}

export const NO_ADDRESSES: readonly string[] = []
