/**
 * `kube-netsim calibrate [--out PROFILE.yaml] [--quick]`: measures this machine's kernel
 * (src/calibrate) and writes a calibration profile. Exit 0 ok; 2 cannot run here (not root, a tool
 * missing: the reason, no stack trace); 3 a measurement failed.
 */
import { calibrate, CalibrationUnavailable, renderCalibration } from "../calibrate/calibrate.ts"
import { stringifyProfile } from "../calibrate/profile.ts"
import { EXIT_INTERNAL_ERROR, EXIT_INVALID_INPUT, EXIT_OK, type CliIo } from "./commands.ts"

export interface CalibrateCommandOptions {
  readonly out: string | undefined
  readonly quick: boolean
}

export async function calibrateCommand(io: CliIo, options: CalibrateCommandOptions): Promise<number> {
  const startedMs = io.wallClockMs()
  const date = new Date(startedMs).toISOString().slice(0, 10)
  try {
    const result = await calibrate({
      quick: options.quick,
      date,
      progress: (line) => io.stderr(`calibrate: ${line}\n`),
    })
    io.stdout(renderCalibration(result))
    const seconds = ((io.wallClockMs() - startedMs) / 1000).toFixed(1)
    if (options.out !== undefined) {
      const header = `# Written by \`kube-netsim calibrate${options.quick ? " --quick" : ""}\` on ${date} (${seconds} s).\n# Methods: MODEL.md "Calibration"; each parameter's method says how it was measured.\n`
      io.writeFile(options.out, stringifyProfile(result.profile, header))
      io.stdout(`\nprofile written to ${options.out} (${seconds} s)\n`)
    } else io.stdout(`\n(${seconds} s; --out PROFILE.yaml writes the profile)\n`)
    return EXIT_OK
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    if (error instanceof CalibrationUnavailable) {
      io.stderr(`kube-netsim calibrate: ${message}\n`)
      return EXIT_INVALID_INPUT
    }
    io.stderr(`kube-netsim calibrate: measurement failed: ${message}\n`)
    if (io.env.KUBE_NETSIM_DEBUG === "1" && error instanceof Error && error.stack !== undefined)
      io.stderr(`${error.stack}\n`)
    return EXIT_INTERNAL_ERROR
  }
}
