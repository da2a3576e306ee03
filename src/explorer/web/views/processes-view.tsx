import { Fragment } from 'preact'
import { ok, sid, type Schemas } from '../api'
import { pteText, sizeOf } from '../format'
import { useResource } from '../resource'
import { shownChange, selectedPfn, selectedPid, tab } from '../store'
import { VirtualList } from '../virtual-list'

type Vma = Schemas['Vma']
/** A process as the list gives it with ?vmas=true. */
type Process = Schemas['Process'] & { vmaList?: Vma[] }

/** Every process as a row with its VMAs laid out along its address space; the selected one in detail. */
export function ProcessesView () {
  // One read gives every process with its VMAs: the rows never ask for a process that has gone.
  const list = useResource(async (api, c) => await ok(api.GET('/v1/sessions/{sid}/processes', { params: { path: sid(c), query: { vmas: 'true' } } })), [])
  const procs: Process[] = list.data?.processes ?? []
  const selected = selectedPid.value
  const shown = selected === null ? undefined : procs.find((p) => p.pid === selected)
  const change = shownChange.value
  return (
    <div class='processes-view'>
      {list.error !== undefined && <p class='error' role='alert'>{list.error}</p>}
      {procs.length === 0
        ? <p class='empty'>No processes yet: spawn one.</p>
        : <VirtualList label='Processes' count={procs.length} rowHeight={82} rowKey={(i) => procs[i].pid} renderRow={(i) => <ProcessRow p={procs[i]} changed={change?.pids.has(procs[i].pid) === true} />} class='processes-list' />}
      {selected !== null && list.data !== undefined && (shown !== undefined
        ? <ProcessDetail key={shown.pid} p={shown} listed={list.data} />
        : <p class='note' role='status'>pid {selected} does not exist in this state.</p>)}
    </div>
  )
}

function rssText (p: Process): string {
  const r = p.rss as Record<string, number>
  return Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', ')
}

function ProcessRow ({ p, changed }: { p: Process, changed: boolean }) {
  const selected = selectedPid.value === p.pid
  return (
    <div class={`process-row ${changed ? 'changed' : ''} ${selected ? 'selected' : ''}`} data-testid={`process-${p.pid}`}>
      <div class='process-line'>
        <button type='button' data-primary aria-pressed={selected} onClick={() => { selectedPid.value = selected ? null : p.pid }}>
          pid {p.pid}{p.name !== null ? ` ${p.name}` : ''}
        </button>
        {changed && <span class='change-badge'>changed</span>}
        <span class='meta'>{p.parent !== null ? `child of ${p.parent} · ` : ''}{p.vmas} VMAs · rss {rssText(p)} · {p.pageTablePages} page-table pages</span>
      </div>
      <VmaStrip pid={p.pid} vmas={p.vmaList ?? []} />
    </div>
  )
}

/**
 * The VMAs in address order, each as wide as its size on a log scale, with the holes between them
 * written out: a 47-bit address space drawn to scale would show nothing.
 */
function VmaStrip ({ pid, vmas }: { pid: number, vmas: Vma[] }) {
  const change = shownChange.value
  if (vmas.length === 0) return <div class='vma-strip empty'>no VMAs</div>
  const shown = vmas.slice(0, 24)
  return (
    <div class='vma-strip' aria-label={`Address space of pid ${pid}`}>
      {shown.map((v, i) => {
        const gap = i === 0 ? null : BigInt(v.start) - BigInt(shown[i - 1].end)
        const changed = change?.vmas.has(`${pid}:${v.id}`) === true
        return (
          <Fragment key={v.id}>
            {gap !== null && gap > 0n && <span class='gap' title={`hole of ${sizeOf(Number(gap / 4096n))}`}>⋯</span>}
            <span
              class={`vma vma-${v.file !== null ? 'file' : 'anon'} ${v.shared ? 'shared' : ''} ${changed ? 'changed' : ''}`}
              style={{ flexGrow: 0, width: `${Math.min(260, 110 + 16 * Math.log2(v.pages))}px` }}
              title={`VMA #${v.id} ${v.start}–${v.end} (${v.pages} pages) ${v.prot}${v.file !== null ? ` ${v.file}` : ''}`}
            >
              {v.start.replace(/^0x0*/, '0x')} {v.prot}{v.file !== null ? ` ${v.file}` : ''}{v.shared ? ' S' : ''}{changed ? ' *' : ''}
            </span>
          </Fragment>
        )
      })}
      {vmas.length > shown.length && <span class='gap'>+{vmas.length - shown.length} more</span>}
    </div>
  )
}

/** The selected process: its VMAs from the list, its PTEs read after each new list (`listed`). */
function ProcessDetail ({ p, listed }: { p: Process, listed: unknown }) {
  const pid = p.pid
  const ptes = useResource(async (api, c) => await ok(api.GET('/v1/sessions/{sid}/processes/{pid}/ptes', { params: { path: { ...sid(c), pid: String(pid) }, query: { limit: 512 } } })), [pid, listed], { followTick: false })
  const change = shownChange.value
  return (
    <section class='process-detail' aria-label={`Process ${pid}`}>
      <h3>pid {p.pid}{p.name !== null ? ` (${p.name})` : ''}: VMAs</h3>
      <table>
        <thead><tr><th>VMA</th><th>start</th><th>end</th><th>pages</th><th>vm_pgoff</th><th>prot</th><th>flags</th><th>maps</th><th>anon_vma</th></tr></thead>
        <tbody>
          {(p.vmaList ?? []).map((v: Vma) => (
            <tr key={v.id} class={change?.vmas.has(`${pid}:${v.id}`) === true ? 'changed' : ''}>
              <td>#{v.id}</td><td><code>{v.start}</code></td><td><code>{v.end}</code></td><td>{v.pages}</td><td>{v.pgoff}</td><td>{v.prot}</td>
              <td class='flags'>{v.flags.join(' ')}</td>
              <td>{v.file !== null ? `${v.fileKind ?? 'file'} ${v.file}` : 'anonymous'}{v.shared ? ' (shared)' : ''}</td>
              <td>{v.anonVma !== null ? `#${v.anonVma}` : '—'}{v.anonVmaChain.length > 0 ? ` chain ${v.anonVmaChain.map((a) => `#${a}`).join(' ')}` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>PTEs</h3>
      {ptes.data !== undefined && ptes.data.entries.length === 0 && <p class='empty'>No PTEs: nothing touched yet.</p>}
      <table class='ptes'>
        <thead><tr><th>address</th><th>PTE</th><th>raw</th><th>frame</th></tr></thead>
        <tbody>
          {ptes.data?.entries.map((e) => (
            <tr key={e.addr} class={change?.ptes.has(`${pid}:${e.addr}`) === true ? 'changed' : ''}>
              <td><code>{e.addr}</code></td><td>{pteText(e.pte)}</td><td><code>{e.pte.raw}</code></td>
              <td>{e.pte.pfn !== undefined && <button type='button' onClick={() => { selectedPfn.value = e.pte.pfn ?? null; tab.value = 'frames' }}>show frame {e.pte.pfn}</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {ptes.data?.next !== null && ptes.data?.next !== undefined && <p class='note'>First 512 PTEs shown.</p>}
    </section>
  )
}
