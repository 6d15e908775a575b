/**
 * The formatting check behind test/format.test.ts and `npm run format:manifest`.
 *
 * Prettier over every code file costs seconds of CPU (parsing ~400 TypeScript files), most of the
 * quick tier's formatting budget. test/format-manifest.txt lists, for every code file as last
 * checked, a hash of its path and content; a file whose current path and content hash to an entry
 * was formatted when the manifest was written (the writer checks every file first and refuses to
 * write while one is unformatted), so the quick tier runs prettier only on the files whose hash is
 * not listed: new and changed files, whatever the commit. An unformatted file therefore always
 * reaches prettier and fails the test. The manifest's first line names the prettier version and
 * hashes the configuration; when either differs, no entry counts and every file is checked. The
 * extensive tier ignores the manifest and checks every file. A stale manifest costs time, never
 * correctness: `npm run format:manifest` refreshes it.
 */
import { createHash } from "node:crypto"
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export const ROOT = join(import.meta.dirname, "..")
export const MANIFEST = join(ROOT, "test", "format-manifest.txt")
/** Files whose content decides how prettier formats every file. */
const CONFIG_FILES = [".prettierrc.json", ".prettierignore"]

export interface CodeFile {
  /** Path relative to the repository root, as git prints it. */
  readonly path: string
  readonly source: string
}

/** Files git knows (tracked, and untracked but not ignored) that prettier may format, with their content. */
export function codeFiles(): CodeFile[] {
  const out = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    encoding: "utf8",
  })
  return out
    .split("\n")
    .filter((f) => /\.(ts|mts|js|mjs)$/.test(f))
    .filter((f) => existsSync(join(ROOT, f))) // a file deleted but not yet staged
    .map((path) => ({ path, source: readFileSync(join(ROOT, path), "utf8") }))
}

/** The manifest entry of a file: its path and content, hashed (a rename or any edit changes it). */
export function entryOf(file: CodeFile): string {
  return createHash("sha256").update(file.path).update("\0").update(file.source).digest("hex").slice(0, 32)
}

/** The manifest's first line: the prettier version and a hash of the configuration files. */
export async function manifestHeader(): Promise<string> {
  const { version } = await import("prettier")
  const config = createHash("sha256")
  for (const name of CONFIG_FILES) {
    const path = join(ROOT, name)
    config
      .update(name)
      .update("\0")
      .update(existsSync(path) ? readFileSync(path, "utf8") : "")
      .update("\0")
  }
  return `# kube-netsim format manifest: prettier ${version}, config ${config.digest("hex").slice(0, 16)}`
}

/** Entries of the committed manifest that still apply (none if the prettier version or config changed). */
export async function readManifest(path = MANIFEST): Promise<Set<string>> {
  if (!existsSync(path)) return new Set()
  const lines = readFileSync(path, "utf8").split("\n")
  if (lines[0] !== (await manifestHeader())) return new Set()
  // Each line: the entry, a space, the path (for people reading a diff; the entry alone decides).
  return new Set(
    lines
      .slice(1)
      .filter((l) => l !== "")
      .map((l) => l.split(" ")[0]),
  )
}

export interface CheckResult {
  /** Files prettier would change. */
  readonly unformatted: string[]
  /** Files prettier formats (not ignored, a parser for the extension), listed or checked. */
  readonly formatted: CodeFile[]
  /** How many files prettier checked (the rest were listed in the manifest). */
  readonly checked: number
}

/**
 * Runs prettier's check on every file whose entry is not in `known`, as `prettier --check` would
 * (`.prettierignore`, the resolved config, the parser inferred from the path).
 */
export async function checkFormatting(files: readonly CodeFile[], known: ReadonlySet<string>): Promise<CheckResult> {
  const unformatted: string[] = []
  const formatted: CodeFile[] = []
  let checked = 0
  let prettier: typeof import("prettier") | undefined
  for (const file of files) {
    if (known.has(entryOf(file))) {
      formatted.push(file)
      continue
    }
    prettier ??= await import("prettier")
    const filepath = join(ROOT, file.path)
    const info = await prettier.getFileInfo(filepath, { ignorePath: join(ROOT, ".prettierignore") })
    if (info.ignored || info.inferredParser === null) continue
    checked++
    const options = await prettier.resolveConfig(filepath)
    if (await prettier.check(file.source, { ...options, filepath })) formatted.push(file)
    else unformatted.push(file.path)
  }
  return { unformatted, formatted, checked }
}

/** `npm run format:manifest`: checks every file, then writes the manifest; refuses while one is unformatted. */
async function main(): Promise<void> {
  const result = await checkFormatting(codeFiles(), new Set())
  if (result.unformatted.length > 0) {
    process.stderr.write(`not formatted (run npm run format): ${result.unformatted.join(", ")}\n`)
    process.exit(1)
  }
  const lines = result.formatted
    .map((f) => `${entryOf(f)} ${f.path}`)
    .sort((a, b) => (a.slice(33) < b.slice(33) ? -1 : 1))
  writeFileSync(MANIFEST, `${await manifestHeader()}\n${lines.join("\n")}\n`)
  process.stdout.write(`${MANIFEST}: ${lines.length} formatted files\n`)
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) await main()
