/**
 * A scenario as a link: the kernel and the journal's ops, JSON compressed with the browser's own
 * deflate-raw (CompressionStream) and written base64url into the fragment, which never reaches a
 * server log. Opening the link replays the ops into a new session; no token is ever in it.
 */
import type { Kernel, Schemas } from './api'

export interface SharedScenario { kernel: Kernel, ops: Array<Schemas['Op']> }

async function pipe (bytes: Uint8Array<ArrayBuffer>, stream: CompressionStream | DecompressionStream): Promise<Uint8Array<ArrayBuffer>> {
  const out = new Blob([bytes]).stream().pipeThrough(stream)
  return new Uint8Array(await new Response(out).arrayBuffer())
}

const toBase64Url = (bytes: Uint8Array): string => {
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
const fromBase64Url = (text: string): Uint8Array<ArrayBuffer> => {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0))
}

export async function scenarioFragment (s: SharedScenario): Promise<string> {
  const packed = await pipe(new TextEncoder().encode(JSON.stringify(s.ops)), new CompressionStream('deflate-raw'))
  return `#kernel=${encodeURIComponent(s.kernel)}&ops=${toBase64Url(packed)}`
}

/** The scenario in a fragment, or null when it holds none; throws a readable error when it is damaged. */
export async function readFragment (hash: string): Promise<SharedScenario | null> {
  const params = new URLSearchParams(hash.replace(/^#/, ''))
  const kernel = params.get('kernel')
  const ops = params.get('ops')
  if (kernel === null || ops === null) return null
  if (kernel !== '2.6.11' && kernel !== '6.18') throw new Error(`the link names an unknown kernel "${kernel}"`)
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder().decode(await pipe(fromBase64Url(ops), new DecompressionStream('deflate-raw'))))
  } catch {
    throw new Error('the link\'s scenario is damaged (it does not decompress to JSON)')
  }
  if (!Array.isArray(parsed)) throw new Error('the link\'s scenario is not a list of ops')
  // The ops are checked by the server when they are applied.
  return { kernel, ops: parsed as Array<Schemas['Op']> }
}
