/* Reference vectors for src/sim/rng.ts, pinned in test/sim/rng.test.ts.
   Regenerate: gcc -O2 -Wall -o /tmp/rng-vectors test/sim/reference/rng-vectors.c && /tmp/rng-vectors
   next(): xoshiro128** 1.1 exactly as published by David Blackman and Sebastiano Vigna (2018,
   public domain), https://prng.di.unimi.it/xoshiro128starstar.c ; fmix32: the finalizer of
   MurmurHash3_x86_32 (Austin Appleby, public domain, smhasher MurmurHash3.cpp); fnv1a: FNV-1a 32
   (Fowler, Noll, Vo; http://www.isthe.com/chongo/tech/comp/fnv/). derive(): the seed derivation of
   Rng.stream (the formula of src/sim/rng.ts in unsigned C arithmetic). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static inline uint32_t rotl(const uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
static uint32_t s[4];
uint32_t next(void) {
  const uint32_t result = rotl(s[1] * 5, 7) * 9;
  const uint32_t t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return result;
}
static uint32_t fmix32(uint32_t h) {
  h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16; return h;
}
static uint32_t fnv1a(const char *name, uint32_t basis) {
  uint32_t h = basis;
  for (const char *p = name; *p; p++) { h ^= (uint8_t)*p; h *= 0x01000193; }
  return h;
}
/* The derivation MODEL.md describes, written from the description in src/sim/rng.ts (Rng.stream). */
static void derive(uint64_t seed, const char *name) {
  uint32_t lo = (uint32_t)seed, hi = (uint32_t)(seed >> 32);
  uint32_t key = fmix32(fmix32(lo ^ 0x5bd1e995) ^ fmix32(hi + 0x27d4eb2f) ^ fnv1a(name, 0x811c9dc5));
  uint32_t nameMix = fnv1a(name, 0x01000193);
  s[0] = fmix32(key ^ 0x85ebca6b);
  s[1] = fmix32((key + 0x9e3779b9) ^ nameMix);
  s[2] = fmix32(key ^ 0xc2b2ae35 ^ fmix32(nameMix));
  s[3] = fmix32((key + 0x3c6ef372) ^ 0x27d4eb2f);
}
static void outputs(int n) { for (int i = 0; i < n; i++) printf("%s%u", i ? ", " : "", next()); printf("\n"); }
int main(void) {
  s[0] = 1; s[1] = 2; s[2] = 3; s[3] = 4;
  printf("state 1,2,3,4: "); outputs(10);
  s[0] = 0x9e3779b9; s[1] = 0x243f6a88; s[2] = 0xb7e15162; s[3] = 0xdeadbeef;
  printf("state 9e3779b9,243f6a88,b7e15162,deadbeef: "); outputs(6);
  s[0] = 1; s[1] = 2; s[2] = 3; s[3] = 4;
  for (int i = 0; i < 1000000; i++) next();
  printf("state 1,2,3,4 after 1e6: "); outputs(2);
  printf("fmix32: 0->%u 1->%u 0xdeadbeef->%u 0xffffffff->%u\n", fmix32(0), fmix32(1), fmix32(0xdeadbeef), fmix32(0xffffffff));
  printf("fnv1a32: \"\"->%08x \"a\"->%08x \"foobar\"->%08x\n", fnv1a("", 0x811c9dc5), fnv1a("a", 0x811c9dc5), fnv1a("foobar", 0x811c9dc5));
  const struct { uint64_t seed; const char *name; } cases[] = { {1, "node/node-1/netfilter"}, {0, ""}, {20261202, "workload/wget/arrivals"}, {9007199254740991ULL, "a"} };
  for (int c = 0; c < 4; c++) {
    derive(cases[c].seed, cases[c].name);
    printf("stream(%llu, \"%s\"): state %u, %u, %u, %u; outputs ", (unsigned long long)cases[c].seed, cases[c].name, s[0], s[1], s[2], s[3]);
    outputs(4);
  }
  return 0;
}
