import { z } from 'zod'
import { InvalidArgumentError } from '../errors.js'
import { fileNamed, processOf } from '../lookup.js'
import { checkMmap, doMmap, type MmapArgs } from '../mmap.js'
import { parseProt } from '../vma.js'
import { vmaView } from '../views.js'
import { Address, addressArg, FileName, PageOffset, Pages, ProcRef, Prot } from './fields.js'
import { defineOp, journalEntry } from './op.js'

const fields = {
  ...ProcRef,
  addr: Address.optional().meta({ description: 'Where to map; without it the kernel picks (get_unmapped_area)' }),
  fixed: z.enum(['noreplace', 'replace', 'hint']).optional().meta({ description: 'How addr is used: MAP_FIXED_NOREPLACE (default), MAP_FIXED, or a hint', default: 'noreplace' }),
  pages: Pages,
  prot: Prot.optional().meta({ description: 'Protection (default rw)', default: 'rw' }),
  shared: z.boolean().optional().meta({ description: 'MAP_SHARED (default false: MAP_PRIVATE)', default: false }),
  kind: z.enum(['anon', 'file']).optional().meta({ description: 'The scenario format\'s kind: anon ignores file; file needs it' }),
  file: FileName.optional().meta({ description: 'File to map; without it the mapping is anonymous' }),
  offset: PageOffset.optional().meta({ description: 'File offset in pages (default 0)', default: 0 })
}

/** mmap: anonymous or file, private or shared, at a fixed address or where the kernel chooses. */
export const mmapOp = defineOp({
  name: 'mmap',
  cause: 'mmap',
  fields,
  check (k, a) {
    if (a.kind === 'file' && a.file === undefined) throw new InvalidArgumentError('a file mapping names its file')
    const mm = processOf(k, a)
    const fileName = a.kind === 'anon' ? undefined : a.file
    const args: MmapArgs = {
      addr: a.addr === undefined ? undefined : addressArg(a.addr),
      fixed: a.fixed,
      pages: a.pages,
      flags: parseProt(a.prot ?? 'rw'),
      shared: a.shared ?? false,
      mapping: fileName === undefined ? null : fileNamed(k, fileName),
      offset: a.offset ?? 0
    }
    return { mm, args, fileName, at: checkMmap(k, mm, args) }
  },
  apply: (k, _a, p) => vmaView(doMmap(k, p.mm, p.args, p.at)),
  // Defaults written out, the file named only when it is mapped (kind is the scenario's spelling).
  journal: (a, p) => journalEntry('mmap', fields, { ...a, prot: a.prot ?? 'rw', shared: a.shared ?? false, kind: undefined, file: p.fileName }, p.mm)
})
