import { ok, sid } from '../api'
import { useResource } from '../resource'
import { shownChange, selectedPfn } from '../store'

/** Every file: its page cache (index → frame) and its i_mmap (the VMAs that map it). */
export function FilesView () {
  const list = useResource(async (api, c) => {
    const { files } = await ok(api.GET('/v1/sessions/{sid}/files', { params: { path: sid(c) } }))
    return await Promise.all(files.slice(0, 64).map(async (f) => await ok(api.GET('/v1/sessions/{sid}/files/{name}', { params: { path: { ...sid(c), name: f.name } } }))))
  }, [])
  const change = shownChange.value
  if (list.error !== undefined) return <p class='error' role='alert'>{list.error}</p>
  const files = list.data ?? []
  if (files.length === 0) return <p class='empty'>No files: create one, or map shared anonymous memory (shmem).</p>
  return (
    <div class='files-view'>
      {files.map((f) => (
        <section key={f.name} class='file' aria-label={`File ${f.name}`}>
          <h3>{f.kind === 'shmem' ? 'shmem' : 'file'} <code>{f.name}</code>: {f.pages} pages, {f.cached} in the page cache</h3>
          <div class='two'>
            <div>
              <h4>Page cache (address_space)</h4>
              {f.cache.length === 0
                ? <p class='empty'>empty</p>
                : (
                  <table>
                    <thead><tr><th>index</th><th>frame</th><th>mapcount</th><th>dirty</th></tr></thead>
                    <tbody>
                      {f.cache.slice(0, 256).map((p) => (
                        <tr key={p.index} class={change?.pfns.has(p.pfn) === true ? 'changed' : ''}>
                          <td>{p.index}</td>
                          <td><button type='button' onClick={() => { selectedPfn.value = p.pfn }}>{p.pfn}</button></td>
                          <td>{p.mapcount}</td><td>{p.dirty ? 'dirty' : 'clean'}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                  )}
            </div>
            <div>
              <h4>i_mmap (VMAs mapping it)</h4>
              {f.immap.length === 0
                ? <p class='empty'>no mappings</p>
                : (
                  <table>
                    <thead><tr><th>pid</th><th>VMA</th><th>range</th><th>vm_pgoff</th><th>shared</th></tr></thead>
                    <tbody>
                      {f.immap.slice(0, 256).map((v) => (
                        <tr key={`${v.pid}:${v.vmaId}`} class={change?.vmas.has(`${v.pid}:${v.vmaId}`) === true ? 'changed' : ''}>
                          <td>{v.pid}</td><td>#{v.vmaId}</td><td><code>{v.start}–{v.end}</code></td><td>{v.pgoff}</td><td>{v.shared ? 'MAP_SHARED' : 'MAP_PRIVATE'}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                  )}
            </div>
          </div>
        </section>
      ))}
    </div>
  )
}
