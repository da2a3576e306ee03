import { z } from 'zod'
import { InvalidArgumentError } from '../errors.js'
import { processOf } from '../lookup.js'
import { checkMadvise, doMadvise } from '../madvise.js'
import { Address, addressArg, Pages, ProcRef } from './fields.js'
import { defineOp, journalEntry } from './op.js'

/** The advices that change rmap state, the only ones modelled. */
export const ADVICES = ['dontneed'] as const

const range = { ...ProcRef, addr: Address, pages: Pages }

/** madvise: advice about a range; MADV_DONTNEED zaps its PTEs. */
export const madviseOp = defineOp({
  name: 'madvise',
  cause: 'madvise',
  fields: { ...range, advice: z.enum(ADVICES) },
  check (k, a) {
    const mm = processOf(k, a)
    if (!(ADVICES as readonly string[]).includes(a.advice)) throw new InvalidArgumentError(`advice "${String(a.advice)}" is not supported (only "dontneed")`, 'EINVAL', { advice: a.advice })
    const addr = addressArg(a.addr)
    checkMadvise(mm, addr, a.pages)
    return { mm, addr }
  },
  apply (k, a, { mm, addr }) {
    doMadvise(k, mm, addr, a.pages, a.advice)
    return null
  }
})

/** The scenario format's dontneed: madvise(MADV_DONTNEED), journaled as that madvise. */
export const dontneedOp = defineOp({
  name: 'dontneed',
  cause: 'madvise',
  fields: range,
  check: (k, a) => madviseOp.check(k, { ...a, advice: 'dontneed' }),
  apply: (k, a, plan) => madviseOp.apply(k, { ...a, advice: 'dontneed' }, plan),
  journal: (a, { mm }) => journalEntry('madvise', madviseOp.fields.shape, { ...a, advice: 'dontneed' }, mm)
})
