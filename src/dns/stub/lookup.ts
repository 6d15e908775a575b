/** One entry point for the three stub resolvers: a lookup object for (libc, resolv.conf, name). */
import { parseStubConf, type StubConf } from "./conf.ts"
import { GlibcLookup, newGlibcResolverState, type GlibcResolverState } from "./glibc.ts"
import { GoLookup } from "./go.ts"
import { MuslLookup } from "./musl.ts"
import type { StubFamilies, StubLibc, StubLookup, StubRandom } from "./types.ts"

export interface StubLookupOptions {
  readonly families?: StubFamilies
  /** glibc only: the thread's resolver state (sticky single-request switch); fresh when omitted. */
  readonly glibcState?: GlibcResolverState
}

export function stubConf(libc: StubLibc, resolvConfText: string): StubConf {
  return parseStubConf(libc, resolvConfText)
}

export function createStubLookup(
  conf: StubConf,
  name: string,
  random: StubRandom,
  options: StubLookupOptions = {},
): StubLookup & { readonly plannedNames: readonly string[] } {
  const families = options.families ?? "A+AAAA"
  switch (conf.libc) {
    case "glibc":
      return new GlibcLookup(conf, name, families, options.glibcState ?? newGlibcResolverState(), random)
    case "musl":
      return new MuslLookup(conf, name, families, random)
    case "go":
      return new GoLookup(conf, name, families, random)
  }
}
