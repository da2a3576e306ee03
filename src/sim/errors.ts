/**
 * Typed errors of the simulator. Every operation validates before it changes anything, so an error
 * means the state is exactly as it was. `code` is stable (routes map it to HTTP without string
 * matching); `errno` names what the real system call would have returned.
 */
export type SimErrorCode = 'not_found' | 'invalid_argument' | 'conflict' | 'limit' | 'unsupported' | 'segfault' | 'bus_error'

export class SimError extends Error {
  readonly code: SimErrorCode
  readonly errno: string
  readonly details?: Record<string, unknown>
  constructor (code: SimErrorCode, errno: string, message: string, details?: Record<string, unknown>) {
    super(message)
    this.name = new.target.name
    this.code = code
    this.errno = errno
    this.details = details
  }
}

/** Unknown pid, pfn, file or label (ESRCH / ENOENT). */
export class NotFoundError extends SimError {
  constructor (message: string, errno = 'ENOENT', details?: Record<string, unknown>) {
    super('not_found', errno, message, details)
  }
}

/** Arguments the kernel would refuse with EINVAL (or EFAULT / ENOMEM for bad ranges). */
export class InvalidArgumentError extends SimError {
  constructor (message: string, errno = 'EINVAL', details?: Record<string, unknown>) {
    super('invalid_argument', errno, message, details)
  }
}

/** The operation collides with existing state, e.g. MAP_FIXED_NOREPLACE over a mapping (EEXIST). */
export class ConflictError extends SimError {
  constructor (message: string, errno = 'EEXIST', details?: Record<string, unknown>) {
    super('conflict', errno, message, details)
  }
}

/** A session limit would be exceeded (the simulated machine is out of frames, processes, ...). */
export class LimitError extends SimError {
  constructor (message: string, details?: Record<string, unknown>) {
    super('limit', 'ENOMEM', message, details)
  }
}

/** A request that is valid but cannot be carried out on this object (e.g. migrating the zero page). */
export class UnsupportedError extends SimError {
  constructor (message: string, errno = 'EINVAL', details?: Record<string, unknown>) {
    super('unsupported', errno, message, details)
  }
}
