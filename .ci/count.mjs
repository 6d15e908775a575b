// Reads vitest's JSON report and prints the counts line CI reads: "N passed, N failed[, N skipped]".
import { readFileSync } from "node:fs"

const file = process.argv[2]
let report
try {
  report = JSON.parse(readFileSync(file, "utf8"))
} catch {
  console.log("0 passed, 1 failed")
  process.exit(0)
}
const passed = report.numPassedTests ?? 0
// numFailedTestSuites counts describe blocks too (one failing test in a describe in a file made it
// 2): count failed tests, plus files that failed with no failed test (an import or collect error).
const brokenFiles = (report.testResults ?? []).filter(
  (file) => file.status === "failed" && !(file.assertionResults ?? []).some((a) => a.status === "failed"),
).length
const failed = (report.numFailedTests ?? 0) + brokenFiles
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
console.log(`${passed} passed, ${failed} failed` + (skipped > 0 ? `, ${skipped} skipped` : ""))
