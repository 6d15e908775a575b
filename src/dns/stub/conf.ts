/**
 * resolv.conf as each stub resolver reads it (../shared/reference/dns.md §2.2-2.4). They differ:
 *
 * - glibc (resolv/res_init.c): `nameserver` up to MAXNS = 3; the last `search`/`domain` line wins,
 *   unlimited domains since 2.26; options `ndots:N` (cap RES_MAXNDOTS 15), `timeout:N` (cap
 *   RES_MAXRETRANS 30), `attempts:N` (cap RES_MAXRETRY 5), `rotate`, `single-request`,
 *   `single-request-reopen`, `use-vc`, `no-tld-query`. Defaults ndots 1, timeout 5 s (RES_TIMEOUT),
 *   attempts 2 (RES_DFLRETRY); no nameserver -> the local one (127.0.0.1).
 * - musl (src/network/resolvconf.c): lines are read into a 256-byte buffer and a line that does not
 *   fit (255 characters or more before the newline) is skipped whole; only `ndots` (cap 15),
 *   `attempts` (cap 10), `timeout` (cap 60) are parsed, everything else (single-request*, use-vc,
 *   rotate) is ignored; defaults 1 / 2 / 5; up to 3 nameservers, 127.0.0.1 when none.
 * - Go (net/dnsconfig_unix.go): up to 3 nameservers; the last `search`/`domain` wins; `ndots`
 *   (0..15), `timeout` (>= 1), `attempts` (>= 1), `rotate`, `single-request` and
 *   `single-request-reopen` (both: A and AAAA one after the other), `use-vc`/`usevc`/`tcp`
 *   (TCP only); defaults 1 / 5 s / 2; no nameserver -> 127.0.0.1 and ::1.
 */
import type { StubLibc } from "./types.ts"

export interface StubConf {
  readonly libc: StubLibc
  readonly nameservers: readonly string[]
  /** Search domains without trailing dot; "." (root) kept as ".". */
  readonly search: readonly string[]
  readonly ndots: number
  readonly timeoutS: number
  readonly attempts: number
  readonly rotate: boolean
  readonly singleRequest: boolean
  readonly singleRequestReopen: boolean
  readonly useVc: boolean
  readonly noTldQuery: boolean
}

/** musl's `char line[256]` in __get_resolv_conf. */
const MUSL_LINE_BUFFER_BYTES = 256

function clampInt(text: string, min: number, max: number): number {
  // atoi/strtoul-like: leading digits only, garbage -> 0.
  const m = /^\d+/.exec(text)
  const n = m === null ? 0 : Number(m[0])
  return Math.min(max, Math.max(min, n))
}

export function parseStubConf(libc: StubLibc, text: string): StubConf {
  const nameservers: string[] = []
  let search: string[] = []
  let ndots = 1
  let timeoutS = 5
  let attempts = 2
  let rotate = false
  let singleRequest = false
  let singleRequestReopen = false
  let useVc = false
  let noTldQuery = false
  for (const line of text.split("\n")) {
    if (libc === "musl" && line.length + 1 >= MUSL_LINE_BUFFER_BYTES) continue
    const fields = line.trim().split(/\s+/)
    const key = fields[0]
    if (key === "" || key.startsWith("#") || key.startsWith(";")) continue
    if (key === "nameserver") {
      if (fields.length >= 2 && nameservers.length < 3) nameservers.push(fields[1])
    } else if (key === "search" || key === "domain") {
      search = []
      for (const d of fields.slice(1)) {
        if (d.startsWith("#") || d.startsWith(";")) break
        search.push(d === "." || !d.endsWith(".") ? d : d.slice(0, -1))
      }
    } else if (key === "options") {
      for (const option of fields.slice(1)) {
        if (option.startsWith("ndots:")) ndots = clampInt(option.slice(6), 0, 15)
        else if (option.startsWith("timeout:"))
          timeoutS = clampInt(
            option.slice(8),
            libc === "go" || libc === "musl" ? 1 : 0,
            libc === "glibc" ? 30 : libc === "musl" ? 60 : Number.MAX_SAFE_INTEGER,
          )
        else if (option.startsWith("attempts:"))
          attempts = clampInt(option.slice(9), 1, libc === "glibc" ? 5 : libc === "musl" ? 10 : Number.MAX_SAFE_INTEGER)
        else if (libc === "musl") continue
        else if (option === "rotate") rotate = true
        else if (option === "single-request") singleRequest = true
        else if (option === "single-request-reopen") {
          singleRequestReopen = true
          // Go has one flag for both; glibc keeps them apart.
          if (libc === "go") singleRequest = true
        } else if (option === "use-vc" || (libc === "go" && (option === "usevc" || option === "tcp"))) useVc = true
        else if (option === "no-tld-query" && libc === "glibc") noTldQuery = true
      }
    }
  }
  if (nameservers.length === 0) nameservers.push("127.0.0.1")
  if (nameservers.length === 1 && libc === "go" && text.indexOf("nameserver") < 0) nameservers.push("::1")
  return {
    libc,
    nameservers,
    search,
    ndots,
    timeoutS,
    attempts,
    rotate,
    singleRequest,
    singleRequestReopen,
    useVc,
    noTldQuery,
  }
}

/** Number of dots in a name (trailing dot included, as glibc and musl count them). */
export function countDots(name: string): number {
  let dots = 0
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) === 46) dots++
  return dots
}
