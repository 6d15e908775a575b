/** The shipped calibration profile of this machine (`kube-netsim calibrate --out`, README "Calibration"). */
import { join } from "node:path"

export const PROFILE_FILE = join(
  import.meta.dirname,
  "..",
  "..",
  "profiles",
  "amd-epyc-2vcpu-vm-linux-6.18-2026-12.yaml",
)
