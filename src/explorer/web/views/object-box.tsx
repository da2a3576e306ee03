import { ok, sid, type Schemas } from '../api'
import { useResource } from '../resource'
import { summary } from '../store'

type ObjectStep = Extract<Schemas['RmapStep'], { step: 'object' }>
type Frame = Schemas['Frame']
interface Member { vmaId: number, pid: number, start: string, end: string, pgoff: number, pages: number }

/** Reading the whole snapshot for an anon_vma's members is skipped for sessions bigger than this. */
const SNAPSHOT_VMAS = 4000
const SNAPSHOT_FRAMES = 65536

/**
 * The object page->mapping points to. An anon_vma: 2.6.11's list of the family's VMAs, or 6.18's
 * anon_vma_chains in the interval tree (members from GET /snapshot). An address_space: its i_mmap.
 * Members whose pgoff range holds the page's index are the ones the walk visits.
 */
export function ObjectBox ({ step, state, frame }: { step: ObjectStep, state: string, frame: Frame }) {
  const s = summary.value
  const index = step.query?.first ?? frame.index
  const small = s !== null && s.counts.vmas <= SNAPSHOT_VMAS && s.counts.framesInUse <= SNAPSHOT_FRAMES
  const anon = useResource(async (api, c) => {
    if (step.kind !== 'anon_vma' || step.id === undefined || !small) return null
    const snap = await ok(api.GET('/v1/sessions/{sid}/snapshot', { params: { path: sid(c) } }))
    const av = snap.anonVmas.find((a) => a.id === step.id)
    if (av === undefined) return null
    const where = new Map<number, Member>()
    for (const p of snap.processes) {
      for (const v of p.vmas) where.set(v.id, { vmaId: v.id, pid: p.pid, start: hex(v.start), end: hex(v.end), pgoff: v.pgoff, pages: (v.end - v.start) / 4096 })
    }
    const ids = snap.kernel === '2.6.11' ? av.vmas : av.tree
    return { av, members: ids.map((id) => where.get(id)).filter((m): m is Member => m !== undefined) }
  }, [step.kind, step.id, small])
  const file = useResource(async (api, c) => {
    if (step.kind !== 'address_space' || step.name === undefined) return null
    return await ok(api.GET('/v1/sessions/{sid}/files/{name}', { params: { path: { ...sid(c), name: step.name } } }))
  }, [step.kind, step.name])

  const holds = (m: { pgoff: number, pages: number }): boolean => index >= m.pgoff && index < m.pgoff + m.pages
  const title = step.kind === 'anon_vma' ? `anon_vma #${step.id ?? '?'}` : step.kind === 'address_space' ? `address_space: ${step.name ?? ''}` : 'no object'
  return (
    <div class={`box object object-${step.kind} ${state}`} aria-current={state === 'current' ? 'step' : undefined} data-testid='object-box'>
      <h3>{title}{state === 'current' && <span class='here'>◆ here</span>}{state === 'pending' && <span class='pending-label'>not yet</span>}</h3>
      {step.structure !== undefined && <p>searched: <strong>{step.structure}</strong>{step.query !== undefined ? ` for index ${step.query.first}` : ''} → {step.vmas} VMA(s)</p>}
      <p class='note'>{step.note}</p>
      {anon.data != null && (
        <>
          <p class='meta'>root #{anon.data.av.root} · parent #{anon.data.av.parent} · refcount {anon.data.av.refcount} · {anon.data.av.numChildren} children · {anon.data.av.numActiveVmas} active VMAs</p>
          <MemberList members={anon.data.members} holds={holds} label={summary.value?.kernel === '2.6.11' ? 'anon_vma->head (list order)' : 'anon_vma_chains in the interval tree (pgoff order)'} />
        </>
      )}
      {step.kind === 'anon_vma' && !small && <p class='note'>Members not listed for sessions over {SNAPSHOT_VMAS} VMAs or {SNAPSHOT_FRAMES} frames (they come from the whole snapshot); the walk below shows those it visits.</p>}
      {file.data != null && (
        <MemberList
          label='i_mmap'
          holds={holds}
          members={file.data.immap.map((v) => ({ vmaId: v.vmaId, pid: v.pid, start: v.start, end: v.end, pgoff: v.pgoff, pages: Number((BigInt(v.end) - BigInt(v.start)) / 4096n) }))}
        />
      )}
      {step.treeNodes !== undefined && step.treeNodes.length > 0 && (
        <>
          <h4>Priority-tree nodes stepped onto</h4>
          <ol class='tree-nodes'>
            {step.treeNodes.map((n, i) => <li key={i}>[{n.radix}, {n.heap}] VMA {n.vmaIds.map((v) => `#${v}`).join(' ')} {n.overlaps ? '✓ holds the index' : '✗ does not hold it'}</li>)}
          </ol>
        </>
      )}
    </div>
  )
}

function MemberList ({ members, holds, label }: { members: Member[], holds: (m: Member) => boolean, label: string }) {
  const shown = members.slice(0, 40)
  return (
    <>
      <h4>{label}: {members.length} VMA(s)</h4>
      <ol class='members'>
        {shown.map((m) => (
          <li key={m.vmaId} class={holds(m) ? 'holds' : 'misses'}>
            VMA #{m.vmaId} (pid {m.pid}) <code>{m.start}–{m.end}</code> pgoff {m.pgoff}–{m.pgoff + m.pages - 1} {holds(m) ? '✓ holds the index' : '✗ not this index'}
          </li>
        ))}
        {members.length > shown.length && <li>… {members.length - shown.length} more</li>}
      </ol>
    </>
  )
}

const hex = (n: number): string => `0x${n.toString(16)}`
