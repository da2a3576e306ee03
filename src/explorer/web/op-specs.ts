/**
 * The operations the explorer offers as forms, each calling its documented route. A form's values are
 * strings as the inputs hold them; each spec turns them into its route's typed body.
 */
import { ok, sid, type ApiClient, type Credentials, type Schemas } from './api'

export type FieldKind = 'pid' | 'pfn' | 'file' | 'addr' | 'int' | 'text' | 'select' | 'bool'
export interface FieldSpec {
  name: string
  label: string
  kind: FieldKind
  options?: readonly string[]
  /** Left empty, the field is not sent (the API's default applies). */
  optional?: boolean
  initial?: string
}
export type Values = Record<string, string>

export interface OpSpec {
  id: string
  label: string
  group: 'process' | 'memory' | 'access' | 'file' | 'frame'
  fields: FieldSpec[]
  run: (api: ApiClient, creds: Credentials, v: Values) => Promise<unknown>
  summarize: (reply: never) => string
}

const PROTS = ['rw', 'r', 'none', 'rx', 'rwx', 'w', 'x', 'wx'] as const
const ADVICE = ['dontneed', 'pageout', 'free', 'dontfork', 'dofork', 'wipeonfork', 'keeponfork', 'populate_read', 'populate_write'] as const

const pid: FieldSpec = { name: 'pid', label: 'pid', kind: 'pid' }
const addr: FieldSpec = { name: 'addr', label: 'address', kind: 'addr', initial: '0x10000000' }
const pages: FieldSpec = { name: 'pages', label: 'pages', kind: 'int', initial: '1' }
const pfn: FieldSpec = { name: 'pfn', label: 'PFN', kind: 'pfn' }

const int = (s: string | undefined): number => Number.parseInt(s ?? '', 10)
const opt = (s: string | undefined): string | undefined => s === undefined || s.trim() === '' ? undefined : s.trim()
const path = (c: Credentials, v: Values) => ({ path: { ...sid(c), pid: v.pid } })
const frame = (c: Credentials, v: Values) => ({ path: { ...sid(c), pfn: v.pfn } })

const processLine = (p: Schemas['Process']): string => `pid ${p.pid}${p.name !== null ? ` (${p.name})` : ''}${p.parent !== null ? `, child of ${p.parent}` : ''}`
const vmaLine = (v: Schemas['Vma']): string => `VMA #${v.id} ${v.start}–${v.end} ${v.prot}${v.file !== null ? ` file ${v.file}` : ''}${v.shared ? ' shared' : ''}`
const accessLine = (a: Schemas['Access']): string => {
  const to = a.pfn !== undefined ? ` → PFN ${a.pfn}` : ''
  const from = a.copiedFrom !== undefined ? ` (copied from ${a.copiedFrom})` : ''
  const sig = a.signal !== undefined ? `, then ${a.signal} (${a.siCode ?? ''}${a.reason !== undefined ? `: ${a.reason}` : ''})` : ''
  return `${a.op} ${a.addr}: ${a.path}${to}${from}${sig}`
}

const accessSpec = (op: 'read' | 'write' | 'exec'): OpSpec => ({
  id: op,
  label: op,
  group: 'access',
  fields: [pid, addr],
  run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/processes/{pid}/access', { params: path(c, v), body: { addr: v.addr, op } })),
  summarize: accessLine
})

const range = (v: Values) => ({ addr: v.addr, pages: int(v.pages) })

export const OP_SPECS: OpSpec[] = [
  {
    id: 'spawn',
    label: 'spawn',
    group: 'process',
    fields: [{ name: 'name', label: 'name', kind: 'text', optional: true }],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/processes', { params: { path: sid(c) }, body: { name: opt(v.name) } })),
    summarize: (p: Schemas['Process']) => `spawned ${processLine(p)}`
  },
  {
    id: 'fork',
    label: 'fork',
    group: 'process',
    fields: [pid, { name: 'name', label: 'child name', kind: 'text', optional: true }],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/processes/{pid}/fork', { params: path(c, v), body: { name: opt(v.name) } })),
    summarize: (p: Schemas['Process']) => `forked ${processLine(p)}`
  },
  {
    id: 'exit',
    label: 'exit',
    group: 'process',
    fields: [pid],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/processes/{pid}/exit', { params: path(c, v) })),
    summarize: () => 'exited'
  },
  {
    id: 'mmap',
    label: 'mmap',
    group: 'memory',
    fields: [pid, { ...addr, optional: true }, { ...pages, initial: '4' }, { name: 'prot', label: 'prot', kind: 'select', options: PROTS },
      { name: 'shared', label: 'MAP_SHARED', kind: 'bool' }, { name: 'file', label: 'file', kind: 'file', optional: true },
      { name: 'offset', label: 'file offset (pages)', kind: 'int', optional: true },
      { name: 'fixed', label: 'addr is', kind: 'select', options: ['noreplace', 'replace', 'hint'] }],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/processes/{pid}/mmap', {
      params: path(c, v),
      body: {
        addr: opt(v.addr),
        pages: int(v.pages),
        prot: v.prot as typeof PROTS[number],
        shared: v.shared === 'true',
        file: opt(v.file),
        offset: opt(v.offset) === undefined ? undefined : int(v.offset),
        fixed: v.fixed as 'noreplace' | 'replace' | 'hint'
      }
    })),
    summarize: (vma: Schemas['Vma']) => `mapped ${vmaLine(vma)}`
  },
  {
    id: 'munmap',
    label: 'munmap',
    group: 'memory',
    fields: [pid, addr, pages],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/processes/{pid}/munmap', { params: path(c, v), body: range(v) })),
    summarize: () => 'unmapped'
  },
  {
    id: 'mprotect',
    label: 'mprotect',
    group: 'memory',
    fields: [pid, addr, pages, { name: 'prot', label: 'prot', kind: 'select', options: PROTS, initial: 'r' }],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/processes/{pid}/mprotect', { params: path(c, v), body: { ...range(v), prot: v.prot as typeof PROTS[number] } })),
    summarize: () => 'protection changed'
  },
  {
    id: 'mremap',
    label: 'mremap',
    group: 'memory',
    fields: [pid, addr, pages, { name: 'newPages', label: 'new pages', kind: 'int', initial: '2' },
      { name: 'newAddr', label: 'new address (MREMAP_FIXED)', kind: 'addr', optional: true },
      { name: 'mayMove', label: 'MREMAP_MAYMOVE', kind: 'bool', initial: 'true' }],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/processes/{pid}/mremap', {
      params: path(c, v),
      body: { ...range(v), newPages: int(v.newPages), newAddr: opt(v.newAddr), mayMove: v.mayMove === 'true' }
    })),
    summarize: (r: { addr: string }) => `now at ${r.addr}`
  },
  {
    id: 'madvise',
    label: 'madvise',
    group: 'memory',
    fields: [pid, addr, pages, { name: 'advice', label: 'advice', kind: 'select', options: ADVICE }],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/processes/{pid}/madvise', { params: path(c, v), body: { ...range(v), advice: v.advice as typeof ADVICE[number] } })),
    summarize: () => 'advice applied'
  },
  {
    id: 'mlock',
    label: 'mlock',
    group: 'memory',
    fields: [pid, addr, pages],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/processes/{pid}/mlock', { params: path(c, v), body: range(v) })),
    summarize: () => 'locked'
  },
  {
    id: 'munlock',
    label: 'munlock',
    group: 'memory',
    fields: [pid, addr, pages],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/processes/{pid}/munlock', { params: path(c, v), body: range(v) })),
    summarize: () => 'unlocked'
  },
  accessSpec('read'),
  accessSpec('write'),
  accessSpec('exec'),
  {
    id: 'create-file',
    label: 'create file',
    group: 'file',
    fields: [{ name: 'name', label: 'name', kind: 'text', initial: 'data' }, { ...pages, initial: '8' }],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/files', { params: { path: sid(c) }, body: { name: v.name, pages: int(v.pages) } })),
    summarize: (f: Schemas['File']) => `file ${f.name}: ${f.pages} pages`
  },
  {
    id: 'evict',
    label: 'evict file pages',
    group: 'file',
    fields: [{ name: 'file', label: 'file', kind: 'file' }],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/files/{name}/evict', { params: { path: { ...sid(c), name: v.file } } })),
    summarize: (r: { evicted: unknown[], kept: unknown[] }) => `evicted ${r.evicted.length}, kept ${r.kept.length}`
  },
  {
    id: 'writeback',
    label: 'writeback (fsync)',
    group: 'file',
    fields: [{ name: 'file', label: 'file', kind: 'file' }],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/files/{name}/writeback', { params: { path: { ...sid(c), name: v.file } } })),
    summarize: (r: { written: unknown[], ptesCleaned: number }) => `wrote ${r.written.length} page(s), cleaned ${r.ptesCleaned} PTE(s)`
  },
  {
    id: 'rmap',
    label: 'rmap walk',
    group: 'frame',
    fields: [pfn],
    run: async (api, c, v) => await ok(api.GET('/v1/sessions/{sid}/frames/{pfn}/rmap', { params: frame(c, v) })),
    summarize: (r: Schemas['Rmap']) => `${r.mappings.length} mapping(s): ${r.mappings.slice(0, 8).map((m) => `pid ${m.pid} ${m.addr}`).join(', ')}${r.mappings.length > 8 ? ', …' : ''}`
  },
  {
    id: 'referenced',
    label: 'page_referenced',
    group: 'frame',
    fields: [pfn],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/frames/{pfn}/referenced', { params: frame(c, v) })),
    summarize: (r: { referenced: number, ptes: number }) => `referenced ${r.referenced} (young PTEs cleared: ${r.ptes})`
  },
  {
    id: 'unmap',
    label: 'try_to_unmap',
    group: 'frame',
    fields: [pfn],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/frames/{pfn}/unmap', { params: frame(c, v) })),
    summarize: (r: { unmapped: number, success: boolean, reason?: string, swapSlot?: number }) =>
      `${r.success ? 'unmapped' : 'stopped after'} ${r.unmapped} PTE(s)${r.swapSlot !== undefined ? `, to swap slot ${r.swapSlot}` : ''}${r.reason !== undefined ? `: ${r.reason}` : ''}`
  },
  {
    id: 'mkclean',
    label: 'page_mkclean',
    group: 'frame',
    fields: [pfn],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/frames/{pfn}/mkclean', { params: frame(c, v) })),
    summarize: (r: { cleaned: number, wasDirty: boolean }) => `cleaned ${r.cleaned} PTE(s)${r.wasDirty ? ', page was dirty' : ''}`
  },
  {
    id: 'migrate',
    label: 'migrate',
    group: 'frame',
    fields: [pfn],
    run: async (api, c, v) => await ok(api.POST('/v1/sessions/{sid}/frames/{pfn}/migrate', { params: frame(c, v) })),
    summarize: (r: { newPfn: number, remapped: number }) => `moved to PFN ${r.newPfn}, ${r.remapped} PTE(s) remapped`
  }
]

export const initialValues = (spec: OpSpec): Values =>
  Object.fromEntries(spec.fields.map((f) => [f.name, f.initial ?? (f.kind === 'select' ? f.options?.[0] ?? '' : f.kind === 'bool' ? 'false' : '')]))
