import { useEffect } from 'preact/hooks'
import { dropReplayOnUnload, fire, startUp } from './actions'
import { lastChange, session, tab, type Tab } from './store'
import { EventsView } from './views/events-view'
import { FilesView } from './views/files-view'
import { DiagramPanel } from './views/frame-diagram'
import { FramesView } from './views/frames-view'
import { OpsPanel } from './views/ops-panel'
import { ProcessesView } from './views/processes-view'
import { SessionBar } from './views/session-bar'
import { Timeline } from './views/timeline'

const TABS: Array<[Tab, string]> = [['processes', 'Processes'], ['frames', 'Frames'], ['files', 'Files'], ['events', 'Events']]

export function App () {
  useEffect(() => {
    fire(startUp())
    addEventListener('pagehide', dropReplayOnUnload)
    return () => removeEventListener('pagehide', dropReplayOnUnload)
  }, [])
  const live = session.value
  return (
    <>
      <a class='skip' href='#main'>Skip to the machine</a>
      <header class='top'>
        <h1>rmap-sim <span>explorer</span></h1>
        <SessionBar />
        <a class='docs' href='/docs'>API reference</a>
      </header>
      {live === null
        ? <Welcome />
        : (
          <div class='layout'>
            <OpsPanel />
            <main id='main' tabIndex={-1}>
              <Timeline />
              <p class='last-change' role='status' aria-live='polite' data-testid='last-change'>
                {lastChange.value !== null ? <>Live, last change: {lastChange.value.text}</> : 'Changes made by any client appear here as they happen.'}
              </p>
              <div class='panes'>
                <section class='machine' aria-label='The machine'>
                  <Tabs />
                  <div role='tabpanel' id={`panel-${tab.value}`} aria-labelledby={`tab-${tab.value}`} class='tab-panel'>
                    {tab.value === 'processes' && <ProcessesView />}
                    {tab.value === 'frames' && <FramesView />}
                    {tab.value === 'files' && <FilesView />}
                    {tab.value === 'events' && <EventsView />}
                  </div>
                </section>
                <DiagramPanel />
              </div>
            </main>
          </div>
          )}
    </>
  )
}

/** Tabs as WAI-ARIA describes them: one tab stop, arrow keys move between tabs. */
function Tabs () {
  const move = (e: KeyboardEvent): void => {
    const i = TABS.findIndex(([t]) => t === tab.value)
    const next = e.key === 'ArrowRight' ? (i + 1) % TABS.length : e.key === 'ArrowLeft' ? (i + TABS.length - 1) % TABS.length : -1
    if (next < 0) return
    e.preventDefault()
    tab.value = TABS[next][0]
    requestAnimationFrame(() => document.getElementById(`tab-${TABS[next][0]}`)?.focus())
  }
  return (
    <div role='tablist' aria-label='Views of the machine' onKeyDown={move} class='tabs'>
      {TABS.map(([t, label]) => (
        <button
          key={t} id={`tab-${t}`} role='tab' type='button' aria-selected={tab.value === t} aria-controls={`panel-${t}`}
          tabIndex={tab.value === t ? 0 : -1} onClick={() => { tab.value = t }}
        >{label}
        </button>
      ))}
    </div>
  )
}

function Welcome () {
  return (
    <main id='main' class='welcome' tabIndex={-1}>
      <h2>See the reverse map</h2>
      <p>
        Create a session above (or open one of yours with its id and token), then spawn a process, mmap,
        write, fork, and pick a frame: the diagram shows its <code>struct page</code>, the anon_vma or
        address_space its <code>mapping</code> points to, every VMA the rmap walk visits with
        <code> vm_start + (index - vm_pgoff) * PAGE_SIZE</code> filled in, and the four page-table levels down to the PTE.
      </p>
      <p>Everything here goes through the documented API (<a href='/docs'>/docs</a>); changes made by other clients arrive live.</p>
    </main>
  )
}
