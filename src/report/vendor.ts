/**
 * The charting libraries the report inlines: Vega, Vega-Lite and vega-embed, their minified
 * browser builds read from node_modules (package.json dependencies), so that the page opens with
 * no network. Read once per process. Also the generator line of the page footer.
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { createRequire } from "node:module"

const requireFromHere = createRequire(import.meta.url)

export interface VendorScript {
  /** Package name, for the page's credits and the tests. */
  readonly name: string
  readonly version: string
  readonly source: string
}

/** The builds, in load order (vega-lite and vega-embed expect the globals before them). */
const BUILDS: readonly { name: string; file: string }[] = [
  { name: "vega", file: "build/vega.min.js" },
  { name: "vega-lite", file: "build/vega-lite.min.js" },
  { name: "vega-embed", file: "build/vega-embed.min.js" },
]

let cached: readonly VendorScript[] | undefined

export function vendorScripts(): readonly VendorScript[] {
  if (cached !== undefined) return cached
  cached = BUILDS.map(({ name, file }) => {
    const dir = packageDir(name)
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version?: unknown }
    const source = readFileSync(join(dir, file), "utf8")
    return { name, version: typeof pkg.version === "string" ? pkg.version : "?", source: stripSourceMap(source) }
  })
  return cached
}

/**
 * The package's directory, found by Node's own module resolution of the package (require.resolve
 * of its main entry, so hoisting and workspaces work as for any import), then up to the directory
 * whose package.json names it (the packages' "exports" hide package.json itself).
 */
function packageDir(name: string): string {
  let entry: string
  try {
    entry = requireFromHere.resolve(name)
  } catch {
    throw new Error(`cannot find the ${name} package (npm install) for the HTML report`)
  }
  for (let dir = dirname(entry); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json")
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === name)
      return dir
    if (dirname(dir) === dir) throw new Error(`${name}: no package.json above ${entry}`)
  }
}

/** The `//# sourceMappingURL=` comment would make developer tools fetch a file the page lacks. */
function stripSourceMap(source: string): string {
  return source.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n")
}

let generatorCached: string | undefined

/** "kube-netsim VERSION", for the page footer. */
export function reportGenerator(): string {
  if (generatorCached !== undefined) return generatorCached
  let version = "0.0.0"
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
    if (typeof pkg === "object" && pkg !== null && "version" in pkg && typeof pkg.version === "string")
      version = pkg.version
  } catch {
    // The version is cosmetic.
  }
  generatorCached = `kube-netsim ${version}`
  return generatorCached
}
