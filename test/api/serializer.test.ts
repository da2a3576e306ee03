import { test } from 'tap'
import { z } from 'zod'
import { compileWriter, makeSerializerCompiler } from '../../src/plugins/serializer.js'
import { Rmap } from '../../schemas/frames.js'
import { Access } from '../../schemas/memory.js'
import { buildTestApp, call, createSession } from '../helper.js'

/** The compiled reply writers (fast-json-stringify from the zod schemas) against JSON.stringify. */

const route = (schema: unknown): Parameters<ReturnType<typeof makeSerializerCompiler>>[0] =>
  ({ schema, method: 'GET', url: '/x', httpStatus: '200' }) as unknown as Parameters<ReturnType<typeof makeSerializerCompiler>>[0]

test('a response schema compiles to a writer that matches JSON.stringify', async (t) => {
  const reply = {
    pfn: 4101,
    kind: 'anon' as const,
    model: '6.18',
    mappings: [
      { pid: 1, vmaId: 1, addr: '0x10000000', pte: { kind: 'present' as const, raw: '0x8000000001005065', pfn: 4101, present: true, writable: false, user: true, accessed: true, dirty: true, special: false, noExec: true } },
      { pid: 2, vmaId: 2, addr: '0x10000000', pte: { kind: 'swap' as const, raw: '0x2002', swapOffset: 2, exclusive: false } }
    ]
  }
  const write = compileWriter(Rmap)
  t.not(write.toString(), compileWriter(z.any().transform(String)).toString(), 'Rmap gets a compiled writer, not the fallback')
  t.same(JSON.parse(write(reply)), JSON.parse(JSON.stringify(reply)))
  t.equal(compileWriter(Rmap), write, 'compiled once per schema')
  t.equal(compileWriter({ properties: Rmap }), write, 'a schema wrapped in { properties } is found too')
  const text = 'quotes " and \\ and \u2028 and control \u0001'
  t.same(JSON.parse(compileWriter(z.object({ s: z.string() }))({ s: text })).s, text, 'strings are escaped as JSON.stringify would')
})

test('schemas JSON Schema cannot express fall back to JSON.stringify', async (t) => {
  const write = compileWriter(z.string().transform((s) => s.length))
  t.equal(write({ a: [1, 'b'] }), JSON.stringify({ a: [1, 'b'] }))
  t.equal(compileWriter(undefined)({ x: 1 }), '{"x":1}', 'no schema: JSON.stringify')
  t.equal(compileWriter({ type: 'object' })({ x: 1 }), '{"x":1}', 'a JSON Schema (not zod): JSON.stringify')
})

test('validating mode checks the reply against its schema and the writer against JSON.stringify', async (t) => {
  const serialize = makeSerializerCompiler(true)(route(z.object({ n: z.number().int() })))
  t.equal(serialize({ n: 3 }), '{"n":3}')
  t.throws(() => serialize({ n: 'three' }), 'a reply that breaks its schema is refused')
  const fast = makeSerializerCompiler(false)(route(Access))
  t.match(fast({ pid: 1, addr: '0x1000', op: 'read', path: 'zero_page', pteBefore: { kind: 'none', raw: '0x0' }, pte: { kind: 'none', raw: '0x0' } }), /^\{"pid":1,/)
})

test('the compiled writer disagreeing with the checked reply is caught, not sent', async (t) => {
  // zod picks the first union branch that parses (and strips "b"); fast-json-stringify picks the first
  // branch whose JSON Schema accepts the value as it is (additionalProperties: false rules out the first).
  const schema = z.union([z.object({ a: z.string() }), z.object({ a: z.string(), b: z.number() })])
  t.throws(() => makeSerializerCompiler(true)(route(schema))({ a: 'x', b: 1 }), /the compiled serializer wrote \{"a":"x","b":1\} where JSON.stringify wrote \{"a":"x"\}/)
  t.equal(makeSerializerCompiler(false)(route(schema))({ a: 'x', b: 1 }), '{"a":"x","b":1}', 'production writes the value as it is')
})

test('real replies through the app are written by the compiled writers', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app)
  const r = await app.inject({ method: 'POST', url: `${s.base}/ops`, headers: s.headers, payload: { ops: [{ op: 'spawn', proc: 'P' }, { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 1, kind: 'anon' }, { op: 'write', proc: 'P', addr: '0x10000000' }, { op: 'fork', proc: 'P' }] } })
  t.equal(r.statusCode, 200)
  const pfn = (r.json() as { results: Array<{ result: { pfn: number } }> }).results[2].result.pfn
  const rmap = await call(app, s, 'GET', `/frames/${pfn}/rmap`)
  t.equal(rmap.statusCode, 200)
  const body = rmap.json() as { mappings: Array<{ pte: Record<string, unknown> }> }
  t.equal(body.mappings.length, 2)
  t.same(Object.keys(body.mappings[0].pte), ['kind', 'raw', 'pfn', 'present', 'writable', 'user', 'accessed', 'dirty', 'special', 'noExec'])
})
