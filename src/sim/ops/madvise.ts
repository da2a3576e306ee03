import { z } from 'zod'
import { InvalidArgumentError } from '../errors.js'
import { processOf } from '../lookup.js'
import { ADVICES, checkMadvise, doMadvise, type Advice } from '../madvise.js'
import { Address, addressArg, Pages, ProcRef } from './fields.js'
import { defineOp, journalEntry } from './op.js'

const range = { ...ProcRef, addr: Address, pages: Pages }

/** madvise(2) with one of the advices the simulator models (madvise.ts). */
export const madviseOp = defineOp({
  name: 'madvise',
  cause: 'madvise',
  fields: { ...range, advice: z.enum(ADVICES) },
  check (k, a) {
    const mm = processOf(k, a)
    if (!(ADVICES as readonly string[]).includes(a.advice)) throw new InvalidArgumentError(`advice "${String(a.advice)}" is not supported (one of ${ADVICES.join(', ')})`, 'EINVAL', { advice: a.advice })
    const addr = addressArg(a.addr)
    checkMadvise(k, mm, addr, a.pages, a.advice)
    return { mm, addr }
  },
  apply (k, a, { mm, addr }) {
    doMadvise(k, mm, addr, a.pages, a.advice)
    return null
  }
})

/** A scenario op that is madvise with one advice (dontneed, dontfork, ...), journaled as that madvise. */
function adviceOp<const N extends string> (name: N, advice: Advice) {
  return defineOp({
    name,
    cause: 'madvise',
    fields: range,
    check: (k, a) => madviseOp.check(k, { ...a, advice }),
    apply: (k, a, plan) => madviseOp.apply(k, { ...a, advice }, plan),
    journal: (a, { mm }) => journalEntry('madvise', madviseOp.fields.shape, { ...a, advice }, mm)
  })
}

export const dontneedOp = adviceOp('dontneed', 'dontneed')
export const dontforkOp = adviceOp('dontfork', 'dontfork')
export const doforkOp = adviceOp('dofork', 'dofork')
export const wipeonforkOp = adviceOp('wipeonfork', 'wipeonfork')
export const keeponforkOp = adviceOp('keeponfork', 'keeponfork')
export const pageoutOp = adviceOp('pageout', 'pageout')
export const freeOp = adviceOp('free', 'free')

/** The scenario format's populate: MADV_POPULATE_WRITE with write, else MADV_POPULATE_READ. */
export const populateOp = defineOp({
  name: 'populate',
  cause: 'madvise',
  fields: { ...range, write: z.boolean().optional().meta({ description: 'MADV_POPULATE_WRITE (default false: MADV_POPULATE_READ)', default: false }) },
  check: (k, a) => madviseOp.check(k, { ...a, advice: a.write === true ? 'populate_write' : 'populate_read' }),
  apply: (k, a, plan) => madviseOp.apply(k, { ...a, advice: a.write === true ? 'populate_write' : 'populate_read' }, plan),
  journal: (a, { mm }) => journalEntry('madvise', madviseOp.fields.shape, { ...a, advice: a.write === true ? 'populate_write' : 'populate_read' }, mm)
})
