/**
 * Generated object names, faithful to the upstream algorithms.
 *
 * - `safeEncodeString`: apimachinery/pkg/util/rand SafeEncodeString. Maps each rune to
 *   alphanums[rune % 27] over the alphabet "bcdfghjklmnpqrstvwxz2456789" (no vowels, no 0/1/3, so no
 *   accidental words). A pod-template-hash is SafeEncodeString(decimal FNV-32a): its characters are
 *   therefore always among "456789bcdf" (digits '0'..'9' map to those ten), as in
 *   `http-go-5c6f458dc9` or `cluster-test-01-6f4dddc749`.
 * - `computeHash`: pkg/controller/controller_utils.go ComputeHash: FNV-32a over the pod template,
 *   then (when collisionCount is set) 8 little-endian bytes of uint32(collisionCount), then
 *   SafeEncodeString(fmt.Sprint(sum32)). Upstream feeds the hasher with hashutil.DeepHashObject, a
 *   go-spew dump of the *defaulted Go struct*; we cannot reproduce that byte stream (it depends on
 *   every defaulted field of the Go type), so we hash a canonical JSON form of the template (object
 *   keys sorted). Same algorithm and alphabet, different input bytes: hashes look real but are not
 *   the values a real cluster would print for the same manifest.
 * - `generateName`: apiserver/pkg/storage/names SimpleNameGenerator: base truncated to 58
 *   characters (63 - 5) followed by 5 characters of utilrand.String (uniform over the same 27-char
 *   alphabet). Upstream draws from math/rand; we draw from a named Rng stream.
 */
import type { Rng } from "../sim/rng.ts"
import type { PodTemplateSpec } from "./types.ts"

export const SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
/** names.SimpleNameGenerator: randomLength = 5, maxGeneratedNameLength = 63 - 5. */
export const GENERATED_SUFFIX_LENGTH = 5
export const GENERATED_NAME_BASE_LENGTH_MAX = 63 - GENERATED_SUFFIX_LENGTH

export function safeEncodeString(text: string): string {
  let out = ""
  for (const char of text) out += SAFE_ALPHANUMS[(char.codePointAt(0) ?? 0) % SAFE_ALPHANUMS.length]
  return out
}

const FNV32_OFFSET = 0x811c9dc5
const FNV32_PRIME = 0x01000193

/** FNV-1a 32-bit over bytes (hash/fnv New32a). */
export function fnv32a(bytes: Uint8Array, hash = FNV32_OFFSET): number {
  let h = hash >>> 0
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]
    h = Math.imul(h, FNV32_PRIME) >>> 0
  }
  return h >>> 0
}

/** JSON with object keys sorted at every level: a stable byte form of plain data. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null"
  if (Array.isArray(value)) return `[${value.map((item: unknown) => canonicalJson(item)).join(",")}]`
  const record = value as Record<string, unknown>
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(",")}}`
}

const encoder = new TextEncoder()

/** The pod-template-hash of a template (see module doc for the input-bytes caveat). */
export function computeHash(template: PodTemplateSpec, collisionCount?: number): string {
  let hash = fnv32a(encoder.encode(canonicalJson(template)))
  if (collisionCount !== undefined) {
    const bytes = new Uint8Array(8)
    new DataView(bytes.buffer).setUint32(0, collisionCount >>> 0, true)
    hash = fnv32a(bytes, hash)
  }
  return safeEncodeString(String(hash))
}

/** utilrand.String(n): n characters uniform over SAFE_ALPHANUMS. */
export function randomString(rng: Rng, length: number): string {
  let out = ""
  for (let i = 0; i < length; i++) out += SAFE_ALPHANUMS[rng.intBelow(SAFE_ALPHANUMS.length)]
  return out
}

/** SimpleNameGenerator.GenerateName(base): e.g. "http-go-5c6f458dc9-" -> "http-go-5c6f458dc9-tjgfs". */
export function generateName(base: string, rng: Rng): string {
  const trimmed = base.length > GENERATED_NAME_BASE_LENGTH_MAX ? base.slice(0, GENERATED_NAME_BASE_LENGTH_MAX) : base
  return trimmed + randomString(rng, GENERATED_SUFFIX_LENGTH)
}
