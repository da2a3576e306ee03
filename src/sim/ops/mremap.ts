import { z } from 'zod'
import { PAGE_SIZE } from '../constants.js'
import { populateLocked } from '../mlock.js'
import { processOf } from '../lookup.js'
import { checkMremap, doMremap, type MremapArgs } from '../mremap.js'
import { VM } from '../vma.js'
import { Address, addressArg, Pages, ProcRef } from './fields.js'
import { defineOp } from './op.js'

/** mremap: shrink, grow in place, or move (the PTEs move; pgoff is kept). */
export const mremapOp = defineOp({
  name: 'mremap',
  cause: 'mremap',
  fields: {
    ...ProcRef,
    addr: Address,
    pages: Pages,
    newPages: Pages,
    newAddr: Address.optional().meta({ description: 'MREMAP_FIXED destination (must not overlap the old range)' }),
    mayMove: z.boolean().optional().meta({ description: 'MREMAP_MAYMOVE (default true)', default: true })
  },
  check (k, a) {
    const mm = processOf(k, a)
    const args: MremapArgs = { addr: addressArg(a.addr), pages: a.pages, newPages: a.newPages, newAddr: a.newAddr === undefined ? undefined : addressArg(a.newAddr), mayMove: a.mayMove }
    const plan = checkMremap(k, mm, args)
    // A VM_LOCKED mapping that grows has its new part faulted in (mm_populate; 2.6.11 make_pages_present).
    const locked = a.newPages > a.pages && ((mm.vmaAt(args.addr)?.flags ?? 0) & VM.LOCKED) !== 0
    if (locked) k.frames.ensureAvailable(2 * (a.newPages - a.pages) + 3, 'mremap of an mlocked mapping')
    return { mm, args, plan, locked }
  },
  apply (k, _a, p) {
    const addr = doMremap(k, p.mm, p.args, p.plan)
    if (p.locked) populateLocked(k, p.mm, addr + p.args.pages * PAGE_SIZE, addr + p.args.newPages * PAGE_SIZE)
    return { addr }
  }
})
