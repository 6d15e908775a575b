// Sums a callgrind output's instructions in JIT-compiled code by JS function, naming code addresses
// through V8's /tmp/perf-PID.map (written by node --perf-basic-prof).
// Usage: node bench/jit-count/by-function.mjs CALLGRIND_OUT [TOP]
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"

const [file, topText] = process.argv.slice(2)
if (file === undefined) {
  console.error("usage: by-function.mjs CALLGRIND_OUT [TOP]")
  process.exit(2)
}
const top = Number(topText ?? "40")
const annotated = execFileSync("callgrind_annotate", ["--threshold=100", file], {
  encoding: "utf8",
  maxBuffer: 1 << 30,
})
const pid = /pid:? ?(\d+)/i.exec(readFileSync(file, "utf8").slice(0, 4096))?.[1]
if (pid === undefined) throw new Error(`${file}: no pid in the callgrind header`)
const map = readFileSync(`/tmp/perf-${pid}.map`, "utf8")
  .trim()
  .split("\n")
  .map((line) => {
    const [start, size, ...name] = line.split(" ")
    return { start: BigInt(`0x${start}`), end: BigInt(`0x${start}`) + BigInt(`0x${size}`), name: name.join(" ") }
  })
  .sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0))
const byFunction = new Map()
let total = 0
for (const line of annotated.split("\n")) {
  const m = /^\s*([\d,]+)\s.*\?\?\?:(0x[0-9a-f]+)/.exec(line)
  if (m === null) continue
  const count = Number(m[1].replaceAll(",", ""))
  const address = BigInt(m[2])
  let lo = 0
  let hi = map.length - 1
  let name = "?"
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (map[mid].start <= address) {
      if (address < map[mid].end) {
        name = map[mid].name
        break
      }
      lo = mid + 1
    } else hi = mid - 1
  }
  name = name.replace(/file:\/\/\/\S*?\/(src|bench)\//, "$1/")
  byFunction.set(name, (byFunction.get(name) ?? 0) + count)
  total += count
}
console.log(`jit total ${(total / 1e6).toFixed(1)}M instructions`)
for (const [name, count] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${(count / 1e6).toFixed(2).padStart(8)} ${name}`)
