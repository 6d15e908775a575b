/**
 * Formatting is part of the quick tier: every TypeScript/JavaScript file prettier would format
 * (`.prettierrc.json`, `.prettierignore`: code at 120 columns, no semicolons) must already be
 * formatted, so CI fails on an unformatted change. `npm run format` fixes what this reports.
 * The quick tier runs prettier only on files that changed since test/format-manifest.txt was
 * written (see test/format-check.ts); the extensive tier checks every file.
 */
import { describe, expect, it } from "vitest"
import { checkFormatting, codeFiles, entryOf, readManifest } from "./format-check.ts"
import { extensive } from "./tier.ts"

describe("formatting", () => {
  it(`every code file is as prettier formats it (npm run format)${extensive ? "" : "; files unchanged since the manifest are not re-checked"}`, async () => {
    const files = codeFiles()
    expect(files.length).toBeGreaterThan(100)
    const known = extensive ? new Set<string>() : await readManifest()
    const result = await checkFormatting(files, known)
    expect(result.unformatted, `not formatted (run npm run format): ${result.unformatted.join(", ")}`).toEqual([])
    // Not an assertion (a stale manifest costs time only): say when refreshing it would pay.
    if (!extensive && result.checked > 40)
      console.warn(`format: prettier checked ${result.checked} files not in the manifest; npm run format:manifest`)
    // Prettier over ~400 files takes a few seconds alone, but CI and parallel runs share two cores
    // with the simulator's heavier files: a generous limit keeps load from failing a formatted tree.
  }, 180_000)

  it("an unformatted file fails the check even if the manifest lists the file's formatted version", async () => {
    const formatted = { path: "test/format-probe.ts", source: "const a = [1, 2]\n" }
    const unformatted = { path: formatted.path, source: "const a = [ 1,2 ];\n" }
    const known = new Set([entryOf(formatted)])
    expect(await checkFormatting([unformatted], known)).toMatchObject({ unformatted: [formatted.path], checked: 1 })
    // The listed content is taken as formatted without running prettier; an unlisted formatted one passes.
    expect(await checkFormatting([formatted], known)).toMatchObject({ unformatted: [], checked: 0 })
    expect(await checkFormatting([formatted], new Set())).toMatchObject({ unformatted: [], checked: 1 })
  }, 60_000)
})
