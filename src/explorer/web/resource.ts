import { useEffect, useState } from 'preact/hooks'
import { apiClient, type ApiClient, type Credentials } from './api'
import { describeError } from './actions'
import { session, tick, viewCreds } from './store'

export interface Resource<T> { data: T | undefined, error: string | undefined, loading: boolean }
export interface ResourceOptions {
  /** Read the live session even while the views show the past. */
  live?: boolean
  /**
   * false: refetch only when deps change, not on every tick; for data about an item of a list, which
   * passes the list's generation in deps, so that an item the list no longer has is never asked for.
   */
  followTick?: boolean
}

/**
 * Data a view reads from the viewed session, fetched again when the session changes, when `tick`
 * moves (events, operations) and when `deps` change. The previous data stays on screen while the
 * next arrives, so a refresh never blanks a view; a reply that arrives after a newer request is
 * dropped.
 */
export function useResource<T> (fetcher: (api: ApiClient, creds: Credentials) => Promise<T>, deps: unknown[], opts: ResourceOptions = {}): Resource<T> {
  const creds = opts.live === true ? session.value?.creds ?? null : viewCreds.value
  const t = opts.followTick === false ? 0 : tick.value
  const [state, setState] = useState<Resource<T>>({ data: undefined, error: undefined, loading: false })
  // Another session or other arguments: the old data describes something else, so it goes. (A dep
  // that only says "read again", like a list's identity, passes `followTick: false` and keeps it.)
  const key = [creds?.id ?? null, ...deps]
  const [shownKey, setShownKey] = useState(key)
  useEffect(() => {
    if (creds === null) { setState({ data: undefined, error: undefined, loading: false }); return }
    let current = true
    setState((s) => ({ ...s, loading: true }))
    fetcher(apiClient(creds), creds).then(
      (data) => { if (current) setState({ data, error: undefined, loading: false }) },
      (err: unknown) => { if (current) setState((s) => ({ data: s.data, error: describeError(err).summary, loading: false })) }
    )
    return () => { current = false }
  }, [creds, t, ...deps])
  if (opts.followTick !== false && (shownKey.length !== key.length || shownKey.some((k, i) => !Object.is(k, key[i])))) {
    setShownKey(key)
    const blank = { data: undefined, error: undefined, loading: true }
    setState(blank)
    return blank
  }
  return state
}
