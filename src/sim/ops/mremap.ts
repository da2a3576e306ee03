import { z } from 'zod'
import { processOf } from '../lookup.js'
import { checkMremap, doMremap, type MremapArgs } from '../mremap.js'
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
    return { mm, args, plan: checkMremap(k, mm, args) }
  },
  apply: (k, _a, p) => ({ addr: doMremap(k, p.mm, p.args, p.plan) })
})
