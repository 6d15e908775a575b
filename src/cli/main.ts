/**
 * Process entry point (bin/kube-netsim.js loads this through tsx): runs the CLI on the process's
 * arguments and sets the exit code. All behaviour lives in app.ts so that tests can run it
 * in-process.
 */
import { processIo, runCli } from "./app.ts"

process.exitCode = await runCli(process.argv.slice(2), processIo())
