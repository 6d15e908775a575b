/**
 * The kernel's hsiphash on 64-bit machines (lib/siphash.c, `BITS_PER_LONG == 64`): there
 * "HalfSipHash1-3" is implemented as full SipHash-1-3 with a 128-bit key (`hsiphash_key_t` is two
 * `unsigned long`) and the u32 result is the low half of `(v0 ^ v1) ^ (v2 ^ v3)`. ip_vs_mh.c keys it
 * with fixed constants (generate_hash_secret), so Maglev tables are reproducible exactly.
 *
 * 64-bit lanes are kept as (hi, lo) uint32 pairs in module state so a hash costs no allocation
 * (BigInt would allocate per operation). Verified against lib/test_siphash.c's 64-bit vectors.
 */

// SipHash state v0..v3 as hi/lo halves.
let v0h = 0,
  v0l = 0,
  v1h = 0,
  v1l = 0,
  v2h = 0,
  v2l = 0,
  v3h = 0,
  v3l = 0

function sipRound(): void {
  let lo = 0,
    hi = 0,
    t = 0
  // v0 += v1
  lo = (v0l + v1l) >>> 0
  v0h = (v0h + v1h + (lo < v0l ? 1 : 0)) >>> 0
  v0l = lo
  // v1 = rol(v1, 13) ^ v0
  hi = ((v1h << 13) | (v1l >>> 19)) >>> 0
  lo = ((v1l << 13) | (v1h >>> 19)) >>> 0
  v1h = (hi ^ v0h) >>> 0
  v1l = (lo ^ v0l) >>> 0
  // v0 = rol(v0, 32)
  t = v0h
  v0h = v0l
  v0l = t
  // v2 += v3
  lo = (v2l + v3l) >>> 0
  v2h = (v2h + v3h + (lo < v2l ? 1 : 0)) >>> 0
  v2l = lo
  // v3 = rol(v3, 16) ^ v2
  hi = ((v3h << 16) | (v3l >>> 16)) >>> 0
  lo = ((v3l << 16) | (v3h >>> 16)) >>> 0
  v3h = (hi ^ v2h) >>> 0
  v3l = (lo ^ v2l) >>> 0
  // v0 += v3
  lo = (v0l + v3l) >>> 0
  v0h = (v0h + v3h + (lo < v0l ? 1 : 0)) >>> 0
  v0l = lo
  // v3 = rol(v3, 21) ^ v0
  hi = ((v3h << 21) | (v3l >>> 11)) >>> 0
  lo = ((v3l << 21) | (v3h >>> 11)) >>> 0
  v3h = (hi ^ v0h) >>> 0
  v3l = (lo ^ v0l) >>> 0
  // v2 += v1
  lo = (v2l + v1l) >>> 0
  v2h = (v2h + v1h + (lo < v2l ? 1 : 0)) >>> 0
  v2l = lo
  // v1 = rol(v1, 17) ^ v2
  hi = ((v1h << 17) | (v1l >>> 15)) >>> 0
  lo = ((v1l << 17) | (v1h >>> 15)) >>> 0
  v1h = (hi ^ v2h) >>> 0
  v1l = (lo ^ v2l) >>> 0
  // v2 = rol(v2, 32)
  t = v2h
  v2h = v2l
  v2l = t
}

/** A 128-bit key as two 64-bit words, each split into uint32 halves. */
export interface HsiphashKey {
  readonly k0h: number
  readonly k0l: number
  readonly k1h: number
  readonly k1l: number
}

export function hsiphashKey(k0: bigint, k1: bigint): HsiphashKey {
  return {
    k0h: Number((k0 >> 32n) & 0xffffffffn),
    k0l: Number(k0 & 0xffffffffn),
    k1h: Number((k1 >> 32n) & 0xffffffffn),
    k1l: Number(k1 & 0xffffffffn),
  }
}

// PREAMBLE: SIPHASH_CONST_0..3 ("somepseudorandomlygeneratedbytes") xor the key.
function preamble(key: HsiphashKey): void {
  v0h = (0x736f6d65 ^ key.k0h) >>> 0
  v0l = (0x70736575 ^ key.k0l) >>> 0
  v1h = (0x646f7261 ^ key.k1h) >>> 0
  v1l = (0x6e646f6d ^ key.k1l) >>> 0
  v2h = (0x6c796765 ^ key.k0h) >>> 0
  v2l = (0x6e657261 ^ key.k0l) >>> 0
  v3h = (0x74656462 ^ key.k1h) >>> 0
  v3l = (0x79746573 ^ key.k1l) >>> 0
}

// HPOSTAMBLE for 64-bit: v3 ^= b; 1 round; v0 ^= b; v2 ^= 0xff; 3 rounds; low 32 bits of the xor.
function postamble(bh: number, bl: number): number {
  v3h = (v3h ^ bh) >>> 0
  v3l = (v3l ^ bl) >>> 0
  sipRound()
  v0h = (v0h ^ bh) >>> 0
  v0l = (v0l ^ bl) >>> 0
  v2l = (v2l ^ 0xff) >>> 0
  sipRound()
  sipRound()
  sipRound()
  return (v0l ^ v1l ^ v2l ^ v3l) >>> 0
}

/** hsiphash(&v, sizeof(u32), key) for a host-order (little-endian) u32, as ip_vs_mh_hashkey calls it. */
export function hsiphashU32(value: number, key: HsiphashKey): number {
  preamble(key)
  // b = (len << 56) | le32(data), len = 4
  return postamble(4 << 24, value >>> 0)
}

/** hsiphash over arbitrary bytes (__hsiphash_aligned); used by tests against the kernel's vectors. */
export function hsiphashBytes(data: Uint8Array, key: HsiphashKey): number {
  preamble(key)
  const len = data.length
  const end = len - (len % 8)
  let i = 0
  for (; i < end; i += 8) {
    const ml = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) >>> 0
    const mh = (data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24)) >>> 0
    v3h = (v3h ^ mh) >>> 0
    v3l = (v3l ^ ml) >>> 0
    sipRound()
    v0h = (v0h ^ mh) >>> 0
    v0l = (v0l ^ ml) >>> 0
  }
  let bh = ((len & 0xff) << 24) >>> 0
  let bl = 0
  for (let j = 0; i + j < len; j++) {
    const byte = data[i + j]
    if (j < 4) bl = (bl | (byte << (8 * j))) >>> 0
    else bh = (bh | (byte << (8 * (j - 4)))) >>> 0
  }
  return postamble(bh, bl)
}
