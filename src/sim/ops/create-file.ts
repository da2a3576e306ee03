import { ConflictError, InvalidArgumentError, LimitError } from '../errors.js'
import { fileView } from '../views.js'
import { z } from 'zod'
import { FileName } from './fields.js'
import { defineOp } from './op.js'

/** createFile: a regular file of `pages` pages, nothing of it cached yet. */
export const createFileOp = defineOp({
  name: 'createFile',
  cause: 'create_file',
  fields: { name: FileName, pages: z.number().int().min(1).max(2 ** 30).meta({ description: 'The file\'s size in pages' }) },
  check (k, a) {
    if (typeof a.name !== 'string' || a.name.length === 0 || a.name.length > 255 || a.name.includes('/')) throw new InvalidArgumentError('a file name is 1 to 255 characters without "/"', 'EINVAL', { name: a.name })
    if (!Number.isSafeInteger(a.pages) || a.pages <= 0) throw new InvalidArgumentError('a file has at least one page', 'EINVAL', { pages: a.pages })
    if (a.pages > k.limits.maxFilePages) throw new LimitError(`a file may have at most ${k.limits.maxFilePages} pages`, { pages: a.pages })
    if (k.files.has(a.name)) throw new ConflictError(`file "${a.name}" exists`, 'EEXIST', { name: a.name })
    if (k.files.size >= k.limits.maxFiles) throw new LimitError(`the session already has ${k.files.size} files (limit ${k.limits.maxFiles})`)
    return {}
  },
  apply (k, a) {
    const space = k.newSpace(a.name, 'file', a.pages)
    k.files.set(a.name, space)
    return fileView(space)
  },
  journal: (a) => ({ op: 'createFile', name: a.name, pages: a.pages })
})
