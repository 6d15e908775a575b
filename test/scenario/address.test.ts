/**
 * The input-boundary address parsers (ip-address) against the engine's own dotted-quad parser
 * (src/wire/ipv4.ts, used on iptables-save text and inside the engine): they must agree on every
 * input, so a scenario that validates never holds an address the engine reads differently.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { parseAddress, parsePrefix } from "../../src/scenario/address.ts"
import { formatIpv4, parseCidr, parseIpv4 } from "../../src/wire/ipv4.ts"

const octet = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map(String),
  fc.constantFrom("256", "01", "00", "1e1", "", "-1", "0x1", " 1"),
)
const quadish = fc.oneof(
  fc.tuple(octet, octet, octet, octet).map((parts) => parts.join(".")),
  fc.tuple(octet, octet, octet).map((parts) => parts.join(".")),
  fc.string({ maxLength: 16 }),
)

describe("boundary address parsing (ip-address)", () => {
  it("agrees with the engine's parser on addresses, valid or not", () => {
    fc.assert(
      fc.property(quadish, (text) => {
        const parsed = parseAddress(text)
        const engine = parseIpv4(text)
        expect(parsed.ok, text).toBe(engine !== undefined)
        if (parsed.ok) expect(parsed.value).toBe(engine)
      }),
      { numRuns: 2000 },
    )
  })

  it("round-trips every uint32 through its dotted quad", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (address) => {
        const parsed = parseAddress(formatIpv4(address))
        expect(parsed.ok && parsed.value).toBe(address)
      }),
    )
  })

  it("agrees with the engine's CIDR parser, strict and loose, where the prefix length is canonical", () => {
    const prefixLength = fc.oneof(fc.integer({ min: 0, max: 32 }).map(String), fc.constantFrom("33", "", "-1", "a"))
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), prefixLength, fc.boolean(), (address, length, strict) => {
        const text = `${formatIpv4(address)}/${length}`
        const parsed = parsePrefix(text, "CIDR", strict)
        const engine = parseCidr(text, strict)
        expect(parsed.ok, text).toBe(engine !== undefined)
        if (parsed.ok) expect(parsed.value).toEqual(engine)
      }),
      { numRuns: 2000 },
    )
  })

  it("refuses IPv6 as not modelled, and names the network when host bits are set", () => {
    for (const text of ["::1", "fd00::10", "2001:db8::1", "::ffff:10.0.0.1"])
      expect(parseAddress(text)).toEqual({
        ok: false,
        message: `address "${text}" is IPv6: IPv6 is not modelled (the simulator is IPv4 single-stack)`,
      })
    expect(parsePrefix("fd00:10:96::/112")).toEqual({
      ok: false,
      message: 'CIDR "fd00:10:96::/112" is IPv6: IPv6 is not modelled (the simulator is IPv4 single-stack)',
    })
    expect(parsePrefix("10.96.0.1/12")).toEqual({
      ok: false,
      message: 'invalid CIDR "10.96.0.1/12": host bits are set (did you mean 10.96.0.0/12?)',
    })
    expect(parsePrefix("10.96.0.1/12", "CIDR", false)).toEqual({
      ok: true,
      value: { address: 0x0a600000, prefixLength: 12, mask: 0xfff00000 },
    })
  })
})
