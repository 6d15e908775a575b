/**
 * The loader's fast YAML path (src/scenario/fast-yaml.ts) is exact or declines: for every text it
 * accepts, the `yaml` package (same options) parses the text without errors to the same value,
 * key order and number types included. Checked on the repository's scenario files, on a small
 * generated cluster-scale scenario, on hand-written edge cases, and on seeded single-character
 * mutations of them (which mostly make texts the fast path must decline or resolve differently).
 */
import { readdirSync, readFileSync } from "node:fs"
import { isDeepStrictEqual } from "node:util"
import { describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { clusterScaleYaml } from "../../bench/cluster-scale.ts"
import { fastParseYaml, YAML_OPTIONS } from "../../src/scenario/fast-yaml.ts"
import { parseYamlFile } from "../../src/scenario/source.ts"

/** The value the `yaml` package gives (as parseYamlFile takes it), or "error". */
function slow(text: string): { value: unknown } | "error" {
  const docs = parseAllDocuments(text, YAML_OPTIONS)
  if (!Array.isArray(docs) || docs.length !== 1 || docs[0].errors.length > 0) return "error"
  try {
    return { value: docs[0].toJS({ maxAliasCount: 1000 }) }
  } catch {
    return "error"
  }
}

/** Fails when the fast path accepts `text` with another value than the `yaml` package's. */
function agrees(text: string): boolean {
  const fast = fastParseYaml(text)
  if (fast === undefined) return true
  const reference = slow(text)
  return (
    reference !== "error" &&
    isDeepStrictEqual(fast.value, reference.value) &&
    JSON.stringify(fast.value) === JSON.stringify(reference.value)
  )
}

const CASES = [
  "a: 1\nb: 01\nc: -0\nd: 0x1F\ne: 0o17\nf: .5\ng: 1e3\nh: .inf\ni: -.Inf\nj: .nan\nk: true\nl: False\nm: NULL\no:\np: +12\nq: 1_000\n",
  '# c\nk: v # trailing\nlist:\n- a\n- b\nafter: { x: [1, 2, { y: z }], \'q\': "r s", "t":u }\n',
  "- a: 1\n  b:\n    - c\n    - - d\n      - e\n  f: []\n- {}\n- [a, b]\n-   g: h\n",
  "top:\n  nested:\n    deep: x\n  back: y\nlast: 'it''s'\n",
  "a: b c\n",
  "a: b\n  c\n",
  "a: 'x\n  y'\n",
  'a: "x\\ty"\n',
  "a: &x 1\nb: *x\n",
  "a: !!str 1\n",
  "a: |\n  x\n",
  "a: 1\na: 2\n",
  'a: 1\n"a": 2\n',
  "<<: { a: 1 }\n",
  "__proto__: 1\n",
  "1: x\n",
  "true: x\n",
  "a: {b: 1,}\n",
  "n: ~\n",
  "a: [1,]\n",
  "a: [b: c]\n",
  "a: {b}\n",
  "a: {b:c}\n",
  "---\na: 1\n",
  "a: 1\n---\nb: 2\n",
  "%YAML 1.2\n---\na: 1\n",
  "a:\tb\n",
  "a: b\r\n",
  "\ufeffa: 1\n",
  "a:b\n",
  "a: -\n",
  "- - a\n  - b\n",
  "a:\n  - b\n c: d\n",
  "a: 1\n b: 2\n",
  "a:\n- b\nc:\n  - d\n",
  "  a: 1\n  b: 2\n",
  "a: x#y\n",
  "a: x #y\n",
  "a: 'x'#y\n",
  "a: [x]#y\n",
  "-x: -y\n",
  "a: --b\n",
  "k: 12:30\n",
  "a: 2001-12-14\n",
  "a: 0b101\n",
  "a: 0xZZ\n",
  "a: 1.\n",
  "a: +.5\n",
  "a: [ ]\n",
  "a: { }\n",
  "",
  "# only a comment\n",
  "a: [1, [2, [3, []]], {}]\n",
  "a: {b: {c: {d: e}}}\n",
  "'a': 1\n\"b\": 2\n",
  "a: \"\"\nb: ''\n",
]

function texts(): string[] {
  const files = readdirSync("scenarios")
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => readFileSync(`scenarios/${f}`, "utf8"))
  const generated = clusterScaleYaml({
    nodes: 3,
    services: 4,
    pods: 8,
    clients: 2,
    workloads: 2,
    count: 3,
    duration: "1s",
  })
  return [...CASES, generated, ...files]
}

describe("fast YAML path", () => {
  it("accepts the generated cluster-scale scenario and typical files", () => {
    const generated = clusterScaleYaml({
      nodes: 3,
      services: 4,
      pods: 8,
      clients: 2,
      workloads: 2,
      count: 3,
      duration: "1s",
    })
    expect(fastParseYaml(generated)).toBeDefined()
    expect(fastParseYaml(CASES[0])).toBeDefined()
    expect(fastParseYaml(CASES[1])).toBeDefined()
    expect(fastParseYaml(CASES[2])).toBeDefined()
  })

  it("gives the yaml package's value for every text it accepts", () => {
    const disagreeing = texts().filter((text) => !agrees(text))
    expect(disagreeing).toEqual([])
  })

  it("agrees on seeded single-character mutations", () => {
    // A small linear congruential generator: the same mutations on every run.
    let state = 12345
    const random = (n: number): number => {
      state = (state * 1103515245 + 12345) % 2147483648
      return state % n
    }
    const alphabet = " \n:-#{}[],'\"abc01.x\t&*!|>?"
    const bases = [...CASES.slice(0, 4), texts()[CASES.length]]
    const disagreeing: string[] = []
    for (let i = 0; i < 600; i++) {
      const base = bases[i % bases.length]
      const at = random(base.length + 1)
      const kind = random(3)
      const c = alphabet[random(alphabet.length)]
      const text =
        kind === 0
          ? base.slice(0, at) + c + base.slice(at)
          : kind === 1
            ? base.slice(0, at) + base.slice(at + 1)
            : base.slice(0, at) + c + base.slice(at + 1)
      if (!agrees(text)) disagreeing.push(text)
    }
    expect(disagreeing).toEqual([])
  })

  it("keeps positions: locate parses with the yaml package when first asked", () => {
    const text = "a: 1\nlist:\n  - { x: 1, y: [2, 3] }\n"
    const yaml = parseYamlFile("f.yaml", text)
    expect(yaml.issues).toEqual([])
    expect(yaml.documents[0].value).toEqual({ a: 1, list: [{ x: 1, y: [2, 3] }] })
    expect(yaml.documents[0].locate(["list", 0, "y", 1])).toEqual({ file: "f.yaml", line: 3, column: 20 })
    expect(yaml.documents[0].locateKey(["list", 0, "y"])).toEqual({ file: "f.yaml", line: 3, column: 13 })
    yaml.release()
    expect(yaml.documents[0].locate(["list", 0, "y", 1])).toEqual({ file: "f.yaml", line: 3, column: 20 })
  })
})
