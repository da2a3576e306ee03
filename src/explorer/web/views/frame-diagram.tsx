import { useEffect, useState } from 'preact/hooks'
import { ok, sid, type Schemas } from '../api'
import { fire, tracedFrameOp } from '../actions'
import { pteText } from '../format'
import { useResource } from '../resource'
import { busy, readOnly, selectedPfn, shownChange } from '../store'
import { VirtualList } from '../virtual-list'
import { ObjectBox } from './object-box'

type Step = Schemas['RmapStep']
type VmaStep = Extract<Step, { step: 'vma' }>
type Frame = Schemas['Frame']

const OUTCOME: Record<VmaStep['outcome'], string> = {
  matched: '✓ maps this page',
  outside_vma: '✗ address outside the VMA',
  no_page_table: '✗ no page table there',
  pte_none: '✗ PTE is empty',
  not_present: '✗ PTE not present',
  other_pfn: '✗ PTE maps another frame'
}

/**
 * The diagram of one frame, drawn from the API's own walk (?trace=true): struct page, the object its
 * mapping points to, every VMA the walk visits with the address formula filled in, the four table
 * levels and the PTE. The walk can be stepped through one step at a time, both ways.
 */
export function FrameDiagram ({ pfn }: { pfn: number }) {
  // Read through the frame list, which answers 200 whether or not the frame exists: stepping back in
  // time often selects a frame that does not exist yet, and that is a state to show, not an error.
  const frame = useResource(async (api, c) => {
    for (const kind of [undefined, 'free' as const]) {
      const r = await ok(api.GET('/v1/sessions/{sid}/frames', { params: { path: sid(c), query: { after: pfn - 1, limit: 1, kind } } }))
      if (r.frames[0]?.pfn === pfn) return r.frames[0]
    }
    return null
  }, [pfn])
  const exists = frame.data != null
  const walk = useResource(async (api, c) => exists
    ? await ok(api.GET('/v1/sessions/{sid}/frames/{pfn}/rmap', { params: { path: { ...sid(c), pfn: String(pfn) }, query: { trace: 'true' } } }))
    : null, [pfn, exists])
  const [traced, setTraced] = useState<{ title: string, steps: Step[] } | null>(null)
  useEffect(() => { setTraced(null) }, [pfn])
  const steps: Step[] = traced?.steps ?? walk.data?.trace ?? []
  const [at, setAt] = useState<number | null>(null)
  // A new walk starts shown whole; stepping starts from its first step.
  useEffect(() => { setAt(null) }, [pfn, traced, steps.length])
  const pos = at ?? steps.length - 1

  const f = frame.data
  if (frame.error !== undefined) {
    return (
      <section class='diagram' aria-label={`Frame ${pfn}`}>
        <h2>Frame {pfn}</h2>
        <p class='error' role='alert'>{frame.error}</p>
        <button type='button' onClick={() => { selectedPfn.value = null }}>Close</button>
      </section>
    )
  }
  if (f === undefined) return <section class='diagram' aria-busy='true'><h2>Frame {pfn}</h2><p>Loading…</p></section>
  if (f === null) {
    return (
      <section class='diagram' aria-label={`Frame ${pfn}`} data-testid='diagram'>
        <header class='diagram-head'>
          <h2>Frame {pfn}: not allocated</h2>
          <button type='button' onClick={() => { selectedPfn.value = null }} aria-label='Close the diagram'>✕</button>
        </header>
        <p data-testid='no-frame'>No frame {pfn} in this state: it has not been allocated yet.</p>
      </section>
    )
  }
  const vmaSteps = steps.filter((s): s is VmaStep => s.step === 'vma')
  const object = steps.find((s): s is Extract<Step, { step: 'object' }> => s.step === 'object')
  const done = steps.find((s): s is Extract<Step, { step: 'done' }> => s.step === 'done')
  const matched = vmaSteps.filter((s) => s.outcome === 'matched')
  const state = (i: number): 'current' | 'visited' | 'pending' => i === pos ? 'current' : i < pos ? 'visited' : 'pending'
  const change = shownChange.value
  const mark = change?.pfns.get(pfn)
  const traceable = f.mapcount > 0 && !readOnly.value

  return (
    <section class='diagram' aria-label={`Diagram of frame ${pfn}`} data-testid='diagram'>
      <header class='diagram-head'>
        <h2>Frame {pfn}: {f.kind}{mark !== undefined && <span class='change-badge'>{mark}</span>}</h2>
        <span class='meta' data-testid='mapping-count'>{matched.length} mapping{matched.length === 1 ? '' : 's'} found · mapcount {f.mapcount}</span>
        <button type='button' onClick={() => { selectedPfn.value = null }} aria-label='Close the diagram'>✕</button>
      </header>
      <div class='walk-source inline'>
        <span>{traced === null ? 'Walk: GET rmap (read-only)' : `Walk: ${traced.title}`}</span>
        {traced !== null && <button type='button' onClick={() => setTraced(null)}>Show the current rmap walk</button>}
        <button
          type='button' disabled={!traceable || busy.value} onClick={() => {
            fire(tracedFrameOp('referenced', pfn).then((t) => { if (t !== undefined) setTraced({ title: 'page_referenced (young bits cleared)', steps: t }) }))
          }}
        >Run page_referenced, traced
        </button>
        <button
          type='button' disabled={!traceable || busy.value} onClick={() => {
            fire(tracedFrameOp('unmap', pfn).then((t) => { if (t !== undefined) setTraced({ title: 'try_to_unmap (the mappings are removed)', steps: t }) }))
          }}
        >Run try_to_unmap, traced
        </button>
      </div>
      <Stepper steps={steps} pos={pos} setAt={setAt} />
      <div class='diagram-top'>
        <StructPage f={f} state={steps.length > 0 ? state(0) : 'visited'} />
        <span class='arrow' aria-hidden='true'>→</span>
        {object !== undefined ? <ObjectBox step={object} state={state(1)} frame={f} /> : <div class='box pending'>{f.mapping.kind === 'none' ? 'mapping is NULL: nothing to walk' : 'no walk'}</div>}
      </div>
      <h3 class='walk-title'>VMAs visited ({vmaSteps.length})</h3>
      {vmaSteps.length === 0
        ? <p class='empty'>{f.mapcount === 0 ? 'No PTE maps this frame: the walk visits nothing.' : 'The walk visits no VMA.'}</p>
        : (
          <VirtualList
            label='VMAs the walk visits' count={vmaSteps.length} rowHeight={176} class='walk-list' rowKey={(i) => `${vmaSteps[i].pid}:${vmaSteps[i].vmaId}`}
            scrollTo={pos >= 2 && pos < 2 + vmaSteps.length ? pos - 2 : undefined}
            renderRow={(i) => <VmaRow s={vmaSteps[i]} state={state(2 + i)} changed={change?.ptes.has(`${vmaSteps[i].pid}:${vmaSteps[i].addr}`) === true} onSelect={() => setAt(2 + i)} />}
          />
          )}
      {done !== undefined && <p class={`box done ${state(steps.length - 1)}`}><strong>done:</strong> {done.note}</p>}
    </section>
  )
}

function Stepper ({ steps, pos, setAt }: { steps: Step[], pos: number, setAt: (n: number) => void }) {
  const n = steps.length
  if (n === 0) return null
  const go = (k: number): void => setAt(Math.max(0, Math.min(n - 1, k)))
  const s = steps[pos]
  const label = s.step === 'vma' ? `VMA #${s.vmaId} of pid ${s.pid}` : s.step === 'object' ? (s.kind === 'none' ? 'object' : `${s.kind}${s.id !== undefined ? ` #${s.id}` : ''}`) : s.step === 'page' ? 'struct page' : 'done'
  return (
    <div
      class='stepper' role='group' aria-label='Step through the walk (← →)' tabIndex={0}
      onKeyDown={(e) => {
        if (e.key === 'ArrowLeft') { e.preventDefault(); go(pos - 1) } else if (e.key === 'ArrowRight') { e.preventDefault(); go(pos + 1) } else if (e.key === 'Home') { e.preventDefault(); go(0) } else if (e.key === 'End') { e.preventDefault(); go(n - 1) }
      }}
    >
      <button type='button' onClick={() => go(0)} disabled={pos === 0} aria-label='First step'>«</button>
      <button type='button' onClick={() => go(pos - 1)} disabled={pos === 0} data-testid='step-back'>◀ Step back</button>
      <button type='button' onClick={() => go(pos + 1)} disabled={pos >= n - 1} data-testid='step-next'>Step ▶</button>
      <button type='button' onClick={() => go(n - 1)} disabled={pos >= n - 1} aria-label='Last step'>»</button>
      <p class='step-note' aria-live='polite' data-testid='step-note'><strong>Step {pos + 1} of {n}</strong> ({label}): {s.note}</p>
    </div>
  )
}

function StructPage ({ f, state }: { f: Frame, state: string }) {
  const m = f.mapping
  const decoded = m.kind === 'none'
    ? 'NULL: no object'
    : m.anon
      ? `bit 0 (PAGE_MAPPING_ANON) set: anon_vma #${m.id ?? '?'} at ${m.raw.replace(/1$/, '0')}`
      : `address_space of ${m.name ?? `#${m.id ?? '?'}`}`
  return (
    <div class={`box struct-page ${state}`} aria-current={state === 'current' ? 'step' : undefined} data-testid='struct-page'>
      <h3>struct page <span class='meta'>PFN {f.pfn}</span>{state === 'current' && <span class='here'>◆ here</span>}</h3>
      <dl>
        <dt>flags</dt><dd><code>0x{f.flagsRaw.toString(16)}</code> {f.flags.join(' ') || '—'}</dd>
        <dt>_count</dt><dd><code>{f._count}</code> (page_count {f.refcount}{f.countBias !== 0 ? `, bias ${f.countBias}` : ''})</dd>
        <dt>_mapcount</dt><dd><code>{f._mapcount}</code> (mapcount {f.mapcount})</dd>
        <dt>mapping</dt><dd><code>{m.raw}</code> — {decoded}{!m.live && m.kind !== 'none' ? ' (object freed)' : ''}</dd>
        <dt>index</dt><dd><code>{f.index}</code>{f.swapSlot !== null ? ` · swap slot ${f.swapSlot}` : ''}</dd>
      </dl>
    </div>
  )
}

function VmaRow ({ s, state, changed, onSelect }: { s: VmaStep, state: string, changed: boolean, onSelect: () => void }) {
  const levels = ['pgd', 'pud', 'pmd', 'pte'] as const
  return (
    <div class={`walk-row ${state} outcome-${s.outcome} ${changed ? 'changed' : ''}`} aria-current={state === 'current' ? 'step' : undefined} data-testid='walk-row'>
      <div class='box vma-box'>
        <h4><button type='button' data-primary class='link-button' onClick={onSelect} title='Step the walk to this VMA'>pid {s.pid} · VMA #{s.vmaId}</button>{state === 'current' && <span class='here'>◆ here</span>}{state === 'pending' && <span class='pending-label'>not yet</span>}</h4>
        <div><code>{s.start}–{s.end}</code> vm_pgoff {s.pgoff}</div>
        <div class='formula'><code>{s.formula}</code></div>
      </div>
      {levels.map((name) => {
        const l = s.levels.find((x) => x.level === name)
        return (
          <div key={name} class={`box level ${l === undefined ? 'absent' : ''}`}>
            {name !== 'pgd' && <span class='arrow' aria-hidden='true'>→</span>}
            <h4>{name}</h4>
            {l === undefined
              ? <span>—</span>
              : (
                <>
                  <div>table {l.tablePfn} [{l.index}]</div>
                  <div><code>{l.raw}</code></div>
                  {l.pte !== undefined && <div>{pteText(l.pte)}</div>}
                </>
                )}
          </div>
        )
      })}
      <div class={`box outcome ${s.outcome}`}>
        <strong>{OUTCOME[s.outcome]}</strong>
        {changed && <span class='change-badge'>PTE changed</span>}
        <div class='note'>{s.note}</div>
      </div>
    </div>
  )
}

/** The diagram of the selected frame, or how to get one. */
export function DiagramPanel () {
  const pfn = selectedPfn.value
  if (pfn === null) return <section class='diagram empty' aria-label='Frame diagram'><h2>Frame diagram</h2><p>Select a frame (Frames tab, or a PTE of a process) to see its reverse map.</p></section>
  return <FrameDiagram pfn={pfn} />
}
