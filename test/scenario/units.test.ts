/**
 * Unit strings: accepted forms convert exactly to integer engine units; everything else is a
 * message, never a throw or a silent rounding.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  parseBandwidthBps,
  parseBytes,
  parseDurationNs,
  parseLossPpm,
  parseRatePerSecond,
} from "../../src/scenario/units.ts"

describe("units", () => {
  it("parses durations to integer nanoseconds", () => {
    expect(parseDurationNs("250us")).toBe(250_000)
    expect(parseDurationNs("10ms")).toBe(10_000_000)
    expect(parseDurationNs("1.5s")).toBe(1_500_000_000)
    expect(parseDurationNs("2m")).toBe(120_000_000_000)
    expect(parseDurationNs("24h")).toBe(86_400_000_000_000)
    expect(parseDurationNs("0")).toBe(0)
    expect(parseDurationNs("0.1ns")).toBe('invalid duration "0.1ns": not a whole number of nanoseconds')
    for (const bad of ["10 sec", "10", "ms", "-1s", "1e3ms", "1,5s", " 1s"])
      expect(typeof parseDurationNs(bad)).toBe("string")
  })

  it("parses rates, bandwidths, sizes and loss", () => {
    expect(parseRatePerSecond("200/s")).toBe(200)
    expect(parseRatePerSecond("5/ms")).toBe(5000)
    expect(typeof parseRatePerSecond("0/s")).toBe("string")
    expect(parseBandwidthBps("10Gbps")).toBe(10_000_000_000)
    expect(parseBandwidthBps("1.5Mbps")).toBe(1_500_000)
    expect(typeof parseBandwidthBps("10GB")).toBe("string")
    expect(parseBytes(1500)).toBe(1500)
    expect(parseBytes("64KiB")).toBe(65536)
    expect(typeof parseBytes(-1)).toBe("string")
    expect(parseLossPpm("0.1%")).toBe(1000)
    expect(parseLossPpm(0.001)).toBe(1000)
    expect(parseLossPpm("250ppm")).toBe(250)
    expect(typeof parseLossPpm(2)).toBe("string")
  })

  it("converts decimal durations exactly (property)", () => {
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), fc.nat({ max: 999 }), (whole, millis) => {
        const text = `${whole}.${String(millis).padStart(3, "0")}s`
        expect(parseDurationNs(text)).toBe(whole * 1_000_000_000 + millis * 1_000_000)
      }),
    )
  })

  it("never throws on arbitrary strings (property)", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        for (const parse of [parseDurationNs, parseRatePerSecond, parseBandwidthBps, parseBytes, parseLossPpm]) {
          const value = parse(text)
          expect(typeof value === "string" || Number.isFinite(value)).toBe(true)
        }
      }),
    )
  })
})
