/**
 * Chain names and number formatting against upstream values.
 * Hash examples: kube-proxy.md §2.11 (recomputed from upstream tests); probabilities:
 * pkg/proxy/iptables/proxier_test.go TestComputeProbability (kube-proxy.md §2.4).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  base32Std,
  computeProbability,
  endpointChainName,
  formatFixedGo,
  isServiceChainName,
  masqueradeMark,
  masqueradeMarkGo,
  portProtoHash,
  serviceChainName,
  serviceExternalChainName,
} from "../../src/proxy/iptables/names.ts"

describe("chain names", () => {
  it("reproduces the checked hash examples", () => {
    expect(serviceChainName("ns1/svc1:p80", "tcp")).toBe("KUBE-SVC-XPGD46QRK7WJZT7O")
    expect(endpointChainName("ns1/svc1:p80", "tcp", "10.180.0.1:80")).toBe("KUBE-SEP-SXIVWICOYRO3J4NJ")
    expect(portProtoHash("ns1/svc1", "tcp")).toBe("AQI2S6QIMU7PVVRP")
    expect(portProtoHash("ns2/svc2:p8080", "tcp")).toBe("2VJB64SDSIJUP5T6")
    expect(endpointChainName("ns1/svc1", "tcp", "10.0.1.5:80")).toBe("KUBE-SEP-EQCHZ7S2PJ72OHAY")
    expect(serviceExternalChainName("ns2/svc2:p80", "tcp")).toBe("KUBE-EXT-GNZBNJ2PO5MGZ6GT")
    expect(endpointChainName("ns3/svc3:p80", "tcp", "10.0.3.1:80")).toBe("KUBE-SEP-BSWRHOQ77KEXZLNL")
  })

  it("base32 matches RFC 4648 test vectors", () => {
    const enc = (s: string): string => base32Std(new TextEncoder().encode(s))
    expect(enc("")).toBe("")
    expect(enc("f")).toBe("MY======")
    expect(enc("fo")).toBe("MZXQ====")
    expect(enc("foo")).toBe("MZXW6===")
    expect(enc("foob")).toBe("MZXW6YQ=")
    expect(enc("fooba")).toBe("MZXW6YTB")
    expect(enc("foobar")).toBe("MZXW6YTBOI======")
  })

  it("recognises service chains", () => {
    expect(isServiceChainName("KUBE-SEP-ABC")).toBe(true)
    expect(isServiceChainName("KUBE-FW-ABC")).toBe(true)
    expect(isServiceChainName("KUBE-SERVICES")).toBe(false)
    expect(isServiceChainName("KUBE-MARK-MASQ")).toBe(false)
  })

  it("formats the masquerade mark as iptables-save and as Go %#08x", () => {
    expect(masqueradeMark(14)).toBe("0x4000")
    expect(masqueradeMarkGo(14)).toBe("0x00004000")
    expect(masqueradeMark(0)).toBe("0x1")
  })
})

describe("computeProbability", () => {
  it("matches TestComputeProbability", () => {
    expect(computeProbability(1)).toBe("1.0000000000")
    expect(computeProbability(2)).toBe("0.5000000000")
    expect(computeProbability(3)).toBe("0.3333333333")
    expect(computeProbability(4)).toBe("0.2500000000")
    expect(computeProbability(5)).toBe("0.2000000000")
    expect(computeProbability(6)).toBe("0.1666666667")
    expect(computeProbability(10)).toBe("0.1000000000")
    expect(computeProbability(100)).toBe("0.0100000000")
    expect(computeProbability(1000)).toBe("0.0010000000")
    expect(computeProbability(10000)).toBe("0.0001000000")
    expect(computeProbability(100000)).toBe("0.0000100000")
    expect(computeProbability(100001)).toBe("0.0000099999")
  })

  it("rounds exact ties to even like Go, where toFixed rounds up", () => {
    // 1/2048 = 0.00048828125 exactly: Go "%0.10f" -> 0.0004882812.
    expect((1 / 2048).toFixed(10)).toBe("0.0004882813")
    expect(computeProbability(2048)).toBe("0.0004882812")
    expect(formatFixedGo(0.125, 2)).toBe("0.12")
    expect(formatFixedGo(0.375, 2)).toBe("0.38")
    expect(formatFixedGo(2.5, 0)).toBe("2")
  })

  it("agrees with toFixed for every n except the exact tie", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), (n) => {
        fc.pre(n !== 2048)
        expect(computeProbability(n)).toBe((1 / n).toFixed(10))
      }),
      { numRuns: 2000 },
    )
  })
})
