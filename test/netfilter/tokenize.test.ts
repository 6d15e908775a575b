/**
 * tokenize (iptables-restore's add_param_to_argv) against a character-by-character reference:
 * the slice-based implementation must split, unquote and unescape identically, and reject an
 * unterminated quote the same way.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { tokenize } from "../../src/netfilter/rule.ts"
import { RuleParseError } from "../../src/netfilter/xt.ts"

function reference(line: string): string[] | "error" {
  const out: string[] = []
  let current = ""
  let inToken = false
  let quote = ""
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quote !== "") {
      if (c === "\\" && i + 1 < line.length) current += line[++i]
      else if (c === quote) quote = ""
      else current += c
      continue
    }
    if (c === '"' || c === "'") {
      quote = c
      inToken = true
    } else if (c === " " || c === "\t") {
      if (inToken) out.push(current)
      current = ""
      inToken = false
    } else {
      current += c
      inToken = true
    }
  }
  if (quote !== "") return "error"
  if (inToken) out.push(current)
  return out
}

function actual(line: string): string[] | "error" {
  try {
    return tokenize(line)
  } catch (error) {
    if (error instanceof RuleParseError) return "error"
    throw error
  }
}

describe("tokenize", () => {
  it("matches the character-by-character reference", () => {
    const chars = fc.constantFrom("a", "b", "-", "0", " ", "\t", '"', "'", "\\")
    fc.assert(
      fc.property(
        fc.array(chars, { maxLength: 30 }).map((a) => a.join("")),
        (line) => {
          expect(actual(line)).toEqual(reference(line))
        },
      ),
      { numRuns: 5000 },
    )
  })

  it("splits kube-proxy lines", () => {
    expect(tokenize(`-A KUBE-SVC-X -m comment --comment "ns/svc:p -> 10.0.0.1:80" -j KUBE-SEP-Y`)).toEqual([
      "-A",
      "KUBE-SVC-X",
      "-m",
      "comment",
      "--comment",
      "ns/svc:p -> 10.0.0.1:80",
      "-j",
      "KUBE-SEP-Y",
    ])
    expect(tokenize(`a"b c"d 'e\\'f'`)).toEqual(["ab cd", "e'f"])
  })
})
