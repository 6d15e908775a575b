/**
 * Chain-name hashing is memoised (every node names the same chains on every sync): the same name
 * hashes once, and memoised names equal freshly computed ones (recomputed test vectors elsewhere).
 */
import { describe, expect, it } from "vitest"
import {
  chainNameHashStats,
  endpointChainName,
  serviceChainName,
  serviceExternalChainName,
} from "../../src/proxy/iptables/names.ts"

describe("chain-name memo", () => {
  it("hashes a service port name once across chains, syncs and nodes", () => {
    const name = "memo-ns/memo-svc:p80"
    const before = chainNameHashStats.computed
    const first = serviceChainName(name, "tcp")
    for (let i = 0; i < 100; i++) {
      expect(serviceChainName(name, "tcp")).toBe(first)
      serviceExternalChainName(name, "tcp")
      endpointChainName(name, "tcp", "10.244.1.2:80")
    }
    expect(chainNameHashStats.computed - before).toBe(2)
    expect(first.slice(9)).toBe(serviceExternalChainName(name, "tcp").slice(9))
  })
})
