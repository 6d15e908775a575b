/**
 * hsiphash as the kernel computes it on 64-bit machines (SipHash-1-3, lib/siphash.c), checked
 * against lib/test_siphash.c's `test_vectors_hsiphash` (BITS_PER_LONG == 64): key
 * 0x0706050403020100/0x0f0e0d0c0b0a0908, input bytes 0..len-1 for len 0..63.
 */
import { describe, expect, it } from "vitest"
import { hsiphashBytes, hsiphashKey, hsiphashU32 } from "../../../src/netfilter/ipvs/siphash.ts"

// prettier-ignore
const VECTORS = [
  0x050fc4dc, 0x7d57ca93, 0x4dc7d44d, 0xe7ddf7fb, 0x88d38328, 0x49533b67, 0xc59f22a7, 0x9bb11140,
  0x8d299a8e, 0x6c063de4, 0x92ff097f, 0xf94dc352, 0x57b4d9a2, 0x1229ffa7, 0xc0f95d34, 0x2a519956,
  0x7d908b66, 0x63dbd80c, 0xb473e63e, 0x8d297d1c, 0xa6cce040, 0x2b45f844, 0xa320872e, 0xdae6c123,
  0x67349c8c, 0x705b0979, 0xca9913a5, 0x4ade3b35, 0xef6cd00d, 0x4ab1e1f4, 0x43c5e663, 0x8c21d1bc,
  0x16a7b60d, 0x7a8ff9bf, 0x1f2a753e, 0xbf186b91, 0xada26206, 0xa3c33057, 0xae3a36a1, 0x7b108392,
  0x99e41531, 0x3f1ad944, 0xc8138825, 0xc28949a6, 0xfaf8876b, 0x9f042196, 0x68b1d623, 0x8b5114fd,
  0xdf074c46, 0x12cc86b3, 0x0a52098f, 0x9d292f9a, 0xa2f41f12, 0x43a71ed0, 0x73f0bce6, 0x70a7e980,
  0x243c6d75, 0xfdb71513, 0xa67d8a08, 0xb7e8f148, 0xf7a644ee, 0x0f1837f2, 0x4b6694e0, 0xb7bbb3a8,
]

const KEY = hsiphashKey(0x0706050403020100n, 0x0f0e0d0c0b0a0908n)

describe("hsiphash (64-bit kernel)", () => {
  it("matches every test_vectors_hsiphash entry", () => {
    for (let len = 0; len < 64; len++) {
      const data = new Uint8Array(len)
      for (let i = 0; i < len; i++) data[i] = i
      expect(hsiphashBytes(data, KEY), `len ${len}`).toBe(VECTORS[len])
    }
  })

  it("the u32 fast path equals the byte path for a little-endian u32", () => {
    expect(hsiphashU32(0x03020100, KEY)).toBe(VECTORS[4])
    for (const v of [0, 1, 0xffffffff, 0x0a000001, 0xdeadbeef]) {
      const bytes = new Uint8Array([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24])
      expect(hsiphashU32(v, KEY)).toBe(hsiphashBytes(bytes, KEY))
    }
  })
})
