import { fileNamed } from '../lookup.js'
import { writebackFile } from '../page-writeback.js'
import { FileName } from './fields.js'
import { defineOp } from './op.js'

/** writeback: write the file's dirty page-cache pages (fsync), as the session's kernel does it. */
export const writebackOp = defineOp({
  name: 'writeback',
  cause: 'writeback',
  fields: { file: FileName },
  check: (k, a) => ({ space: fileNamed(k, a.file) }),
  apply: (k, _a, { space }) => writebackFile(k, space)
})
