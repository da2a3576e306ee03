import { useState } from 'preact/hooks'
import { ok, sid } from '../api'
import { applyScenarioText, fire, runOp } from '../actions'
import { initialValues, OP_SPECS, type FieldSpec, type OpSpec, type Values } from '../op-specs'
import { useResource } from '../resource'
import { busy, log, readOnly, selectedPfn, selectedPid } from '../store'

const GROUPS: Record<OpSpec['group'], string> = { process: 'Processes', memory: 'Memory', access: 'Access', file: 'Files', frame: 'rmap (a frame)' }

/** Forms for every operation, a box for a pasted scenario, and the log of what the API answered. */
export function OpsPanel () {
  return (
    <section class='ops-panel' aria-label='Operations'>
      <h2>Operations</h2>
      {readOnly.value && <p class='note' role='note'>Viewing the past: operations are off until you return to live.</p>}
      <OpForm />
      <ScenarioBox />
      <OpLog />
    </section>
  )
}

function OpForm () {
  const [specId, setSpecId] = useState('spawn')
  const spec = OP_SPECS.find((s) => s.id === specId) ?? OP_SPECS[0]
  const [values, setValues] = useState<Values>(() => initialValues(spec))
  const choose = (id: string): void => {
    const next = OP_SPECS.find((s) => s.id === id) ?? OP_SPECS[0]
    setSpecId(id)
    // Keep what was typed in fields the next form shares (pid, addr, pages).
    setValues({ ...initialValues(next), ...Object.fromEntries(Object.entries(values).filter(([k, v]) => next.fields.some((f) => f.name === k) && v !== '')) })
  }
  const set = (name: string, v: string): void => setValues({ ...values, [name]: v })
  const disabled = busy.value || readOnly.value
  return (
    <form
      class='op-form' aria-label='Run an operation'
      onSubmit={(e) => { e.preventDefault(); fire(runOp(spec, withSelection(spec, values))) }}
    >
      <label>Operation{' '}
        <select value={specId} onChange={(e) => choose((e.target as HTMLSelectElement).value)} data-testid='op-select'>
          {Object.entries(GROUPS).map(([g, label]) => (
            <optgroup key={g} label={label}>
              {OP_SPECS.filter((s) => s.group === g).map((s) => <option key={s.id} value={s.id}>{s.label}</option>)}
            </optgroup>
          ))}
        </select>
      </label>
      <div class='fields'>
        {spec.fields.map((f) => <Field key={`${spec.id}-${f.name}`} field={f} value={values[f.name] ?? ''} set={(v) => set(f.name, v)} />)}
      </div>
      <button type='submit' disabled={disabled} data-testid='run-op'>Run {spec.label}</button>
    </form>
  )
}

/** A pid or PFN left empty takes the one selected in the views. */
function withSelection (spec: OpSpec, v: Values): Values {
  const out = { ...v }
  for (const f of spec.fields) {
    if (f.kind === 'pid' && (out[f.name] ?? '') === '' && selectedPid.value !== null) out[f.name] = String(selectedPid.value)
    if (f.kind === 'pfn' && (out[f.name] ?? '') === '' && selectedPfn.value !== null) out[f.name] = String(selectedPfn.value)
  }
  return out
}

function Field ({ field, value, set }: { field: FieldSpec, value: string, set: (v: string) => void }) {
  const id = `field-${field.name}`
  const input = (e: Event): void => set((e.target as HTMLInputElement).value)
  switch (field.kind) {
    case 'bool':
      return <label class='check'><input type='checkbox' name={field.name} checked={value === 'true'} onChange={(e) => set((e.target as HTMLInputElement).checked ? 'true' : 'false')} /> {field.label}</label>
    case 'select':
      return <label>{field.label} <select name={field.name} value={value} onChange={input}>{field.options?.map((o) => <option key={o}>{o}</option>)}</select></label>
    case 'pid':
      return <label>{field.label} <input id={id} name={field.name} value={value} onInput={input} inputMode='numeric' pattern='[0-9]*' list='pid-list' size={6} placeholder={selectedPid.value !== null ? `${selectedPid.value} (selected)` : 'pid'} required={selectedPid.value === null} /><PidList /></label>
    case 'pfn':
      return <label>{field.label} <input id={id} name={field.name} value={value} onInput={input} inputMode='numeric' pattern='[0-9]*' size={8} placeholder={selectedPfn.value !== null ? `${selectedPfn.value} (selected)` : 'PFN'} required={selectedPfn.value === null} /></label>
    case 'file':
      return <label>{field.label} <input id={id} name={field.name} value={value} onInput={input} list='file-list' size={10} required={field.optional !== true} /><FileList /></label>
    case 'int':
      return <label>{field.label} <input id={id} name={field.name} value={value} onInput={input} inputMode='numeric' pattern='[0-9]*' size={6} required={field.optional !== true} /></label>
    default:
      return <label>{field.label} <input id={id} name={field.name} value={value} onInput={input} size={field.kind === 'addr' ? 14 : 10} spellcheck={false} required={field.optional !== true} placeholder={field.kind === 'addr' ? '0x…' : ''} /></label>
  }
}

function PidList () {
  const r = useResource(async (api, c) => await ok(api.GET('/v1/sessions/{sid}/processes', { params: { path: sid(c) } })), [])
  return <datalist id='pid-list'>{r.data?.processes.map((p) => <option key={p.pid} value={String(p.pid)}>{p.name ?? ''}</option>)}</datalist>
}

function FileList () {
  const r = useResource(async (api, c) => await ok(api.GET('/v1/sessions/{sid}/files', { params: { path: sid(c) } })), [])
  return <datalist id='file-list'>{r.data?.files.map((f) => <option key={f.name} value={f.name} />)}</datalist>
}

const EXAMPLE = JSON.stringify({
  ops: [
    { op: 'spawn', proc: 'P' },
    { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 2, kind: 'anon' },
    { op: 'write', proc: 'P', addr: '0x10000000' },
    { op: 'fork', proc: 'P', child: 'C' },
    { op: 'write', proc: 'C', addr: '0x10000000' }
  ]
}, null, 1)

function ScenarioBox () {
  const [text, setText] = useState('')
  const [keepGoing, setKeepGoing] = useState(false)
  return (
    <details class='scenario'>
      <summary>Paste a scenario (the /ops format)</summary>
      <form onSubmit={(e) => { e.preventDefault(); fire(applyScenarioText(text, keepGoing ? 'continue' : 'atomic')) }}>
        <label for='scenario-text'>Scenario JSON: a list of ops, or an object with <code>ops</code> (and <code>files</code>)</label>
        <textarea id='scenario-text' rows={8} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} placeholder={EXAMPLE} spellcheck={false} />
        <label class='check'><input type='checkbox' checked={keepGoing} onChange={(e) => setKeepGoing((e.target as HTMLInputElement).checked)} /> continue past a failing op (otherwise all or nothing)</label>
        <div class='inline'>
          <button type='submit' disabled={busy.value || readOnly.value || text.trim() === ''}>Apply scenario</button>
          <button type='button' onClick={() => setText(EXAMPLE)}>Insert the example</button>
        </div>
      </form>
    </details>
  )
}

function OpLog () {
  const entries = log.value
  return (
    <section class='op-log' aria-label='Results'>
      <h3>Results</h3>
      <ol class='log' aria-live='polite' aria-relevant='additions' data-testid='op-log'>
        {entries.length === 0 && <li class='empty'>Nothing yet: results and errors appear here as the API gives them.</li>}
        {[...entries].reverse().slice(0, 60).map((e) => (
          <li key={e.id} class={e.ok ? 'ok' : 'err'} data-testid={e.ok ? 'log-ok' : 'log-error'} data-entry={e.id}>
            <span class='mark' aria-hidden='true'>{e.ok ? '✓' : '✗'}</span>
            <span class='sr-only'>{e.ok ? 'Succeeded:' : 'Failed:'}</span>
            <strong>{e.title}</strong> — <span class='summary'>{e.summary}</span>
            <details><summary>reply{e.status !== undefined ? ` (${e.status})` : ''}</summary><pre>{JSON.stringify(e.body, null, 1)}</pre></details>
          </li>
        ))}
      </ol>
    </section>
  )
}
