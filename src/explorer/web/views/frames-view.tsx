import { useState } from 'preact/hooks'
import { ok, sid, type Schemas } from '../api'
import { useResource } from '../resource'
import { shownChange, selectedPfn } from '../store'
import { VirtualList } from '../virtual-list'

type Frame = Schemas['Frame']
type Kind = Frame['kind']
const KINDS: Kind[] = ['anon', 'file', 'shmem', 'swapcache', 'zero', 'pagetable', 'kernel', 'free']
const PAGE = 1024

/** Every frame in use, filtered by kind or mapped, read page by page as the list scrolls. */
export function FramesView () {
  const [kind, setKind] = useState<Kind | ''>('')
  const [mappedOnly, setMappedOnly] = useState(false)
  const [pages, setPages] = useState(1)
  const list = useResource(async (api, c) => {
    const frames: Frame[] = []
    let after: number | undefined
    let more = true
    for (let i = 0; i < pages && more; i++) {
      const r = await ok(api.GET('/v1/sessions/{sid}/frames', { params: { path: sid(c), query: { limit: PAGE, after, kind: kind === '' ? undefined : kind, mapped: mappedOnly ? 'true' : undefined } } }))
      frames.push(...r.frames)
      more = r.next !== null
      after = r.next ?? undefined
    }
    return { frames, more }
  }, [kind, mappedOnly, pages])
  const frames = list.data?.frames ?? []
  const change = shownChange.value
  const selected = selectedPfn.value
  return (
    <div class='frames-view'>
      <div class='inline filters'>
        <label>Kind{' '}
          <select value={kind} onChange={(e) => { setKind((e.target as HTMLSelectElement).value as Kind | ''); setPages(1) }}>
            <option value=''>any</option>
            {KINDS.map((k) => <option key={k}>{k}</option>)}
          </select>
        </label>
        <label class='check'><input type='checkbox' checked={mappedOnly} onChange={(e) => { setMappedOnly((e.target as HTMLInputElement).checked); setPages(1) }} /> mapped only</label>
        <span class='meta'>{frames.length}{list.data?.more === true ? '+' : ''} frames</span>
      </div>
      {list.error !== undefined && <p class='error' role='alert'>{list.error}</p>}
      <div class='frame-head' aria-hidden='true'><span>PFN</span><span>kind</span><span>mapcount</span><span>refcount</span><span>mapping</span><span>flags</span></div>
      <VirtualList
        label='Frames' count={frames.length} rowHeight={32} rowKey={(i) => frames[i].pfn} class='frames-list'
        scrollTo={selected === null ? undefined : frames.findIndex((f) => f.pfn === selected)}
        onNearEnd={() => { if (list.data?.more === true && !list.loading) setPages(pages + 1) }}
        renderRow={(i) => {
          const f = frames[i]
          const mark = change?.pfns.get(f.pfn)
          return (
            <div class={`frame-row kind-${f.kind} ${mark !== undefined ? 'changed' : ''} ${selected === f.pfn ? 'selected' : ''}`} data-testid={`frame-${f.pfn}`}>
              <button type='button' data-primary aria-pressed={selected === f.pfn} onClick={() => { selectedPfn.value = f.pfn }} aria-label={`Frame ${f.pfn}, ${f.kind}, mapcount ${f.mapcount}`}>{f.pfn}</button>
              <span class='kind'>{f.kind}{mark !== undefined && <span class='change-badge'>{mark}</span>}</span>
              <span>{f.mapcount}</span>
              <span>{f.refcount}</span>
              <span class='mapping'>{mappingText(f)}</span>
              <span class='flags'>{f.flags.join(' ')}</span>
            </div>
          )
        }}
      />
    </div>
  )
}

export function mappingText (f: Frame): string {
  const m = f.mapping
  if (m.kind === 'none') return '—'
  return `${m.kind === 'anon_vma' ? 'anon_vma' : 'address_space'}${m.id !== null ? ` #${m.id}` : ''}${m.name !== undefined ? ` ${m.name}` : ''} @${f.index}`
}
