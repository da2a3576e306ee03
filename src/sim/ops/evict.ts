import { fileNamed } from '../lookup.js'
import { evictFile } from '../rmap.js'
import { FileName } from './fields.js'
import { defineOp } from './op.js'

/** evict: drop the file's clean, unmapped page-cache pages. */
export const evictOp = defineOp({
  name: 'evict',
  cause: 'evict',
  fields: { file: FileName },
  check: (k, a) => ({ space: fileNamed(k, a.file) }),
  apply: (k, _a, { space }) => evictFile(k, space)
})
