import { UnsupportedError } from '../errors.js'
import type { KernelState } from '../kernel-state.js'

/**
 * The session's kernel has `feature` (a name from KernelModel.missingFeatures), or UnsupportedError
 * naming the version that added it. `what` is how the message names the operation.
 */
export function checkFeature (k: KernelState, feature: string, what: string, details: Record<string, unknown> = {}): void {
  const since = k.model.missingFeatures[feature]
  if (since !== undefined) {
    throw new UnsupportedError(`${what} is not in Linux ${k.model.version}: it came in ${since}`, 'EINVAL', { ...details, feature, addedIn: since })
  }
}
