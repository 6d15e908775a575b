/**
 * Formatting is part of the quick tier: every TypeScript/JavaScript file prettier would format
 * (`.prettierrc.json`, `.prettierignore`: code at 120 columns, no semicolons) must already be
 * formatted, so CI fails on an unformatted change. `npm run format` fixes what this reports.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as prettier from "prettier"
import { describe, expect, it } from "vitest"

/** Files git knows (tracked, and untracked but not ignored), as the repository would ship them. */
function repositoryFiles(): string[] {
  const out = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { encoding: "utf8" })
  return out.split("\n").filter((f) => /\.(ts|mts|js|mjs)$/.test(f))
}

describe("formatting", () => {
  it("every code file is as prettier formats it (npm run format)", async () => {
    const unformatted: string[] = []
    const files = repositoryFiles()
    expect(files.length).toBeGreaterThan(100)
    for (const file of files) {
      const info = await prettier.getFileInfo(file, { ignorePath: ".prettierignore" })
      if (info.ignored || info.inferredParser === null) continue
      const options = await prettier.resolveConfig(file)
      const source = readFileSync(file, "utf8")
      if (!(await prettier.check(source, { ...options, filepath: file }))) unformatted.push(file)
    }
    expect(unformatted, `not formatted (run npm run format): ${unformatted.join(", ")}`).toEqual([])
    // Prettier over ~300 files takes a few seconds alone, but CI and parallel runs share two cores
    // with the simulator's heavier files: a generous limit keeps load from failing a formatted tree.
  }, 180_000)
})
