import type { SwaggerTransform, SwaggerTransformObject } from '@fastify/swagger'
import type { RouteOptions } from 'fastify'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'

/**
 * How the zod route schemas become the OpenAPI document (/docs/json): fastify-type-provider-zod's
 * transforms, with two corrections to what they hand @fastify/swagger.
 */

/**
 * Each route's schema, by jsonSchemaTransform; and its path as fastify serves it. A '/' route
 * registered inside a prefix (GET and DELETE /v1/sessions/:sid) is served at both /prefix and
 * /prefix/ (fastify's prefixTrailingSlash 'both'), and request.routeOptions.url is /prefix for both;
 * but fastify registers /prefix/ second, reusing the route options object @fastify/swagger keeps,
 * so the document would show the trailing-slash form. It documents the canonical one.
 */
export const transformRoute: SwaggerTransform = (input) => {
  const out = jsonSchemaTransform(input)
  const { prefix, routePath } = input.route as RouteOptions & { prefix?: string, routePath?: string }
  return routePath === '/' && prefix !== undefined && prefix !== '' && out.url === `${prefix}/` ? { ...out, url: prefix } : out
}

const SCHEMAS = '#/components/schemas/'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type JsonObject = Record<string, Json>

/** Every component schema name `node` refers to with a $ref. */
function refsIn (node: Json, into: Set<string>): Set<string> {
  if (Array.isArray(node)) {
    for (const x of node) refsIn(x, into)
  } else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(SCHEMAS)) into.add(v.slice(SCHEMAS.length))
      else refsIn(v, into)
    }
  }
  return into
}

/** `node` with each $ref to a renamed component pointing at its new name. */
function renameRefs (node: Json, renamed: Map<string, string>): Json {
  if (Array.isArray(node)) return node.map((x) => renameRefs(x, renamed))
  if (node === null || typeof node !== 'object') return node
  const out: JsonObject = {}
  for (const [k, v] of Object.entries(node)) {
    const to = k === '$ref' && typeof v === 'string' && v.startsWith(SCHEMAS) ? renamed.get(v.slice(SCHEMAS.length)) : undefined
    out[k] = to !== undefined ? SCHEMAS + to : renameRefs(v, renamed)
  }
  return out
}

/**
 * The document, by jsonSchemaTransformObject, with only the components it uses, each once.
 *
 * A schema given an id (.meta({ id: 'Vma' })) is a component. fastify-type-provider-zod converts
 * every id of zod's registry twice, with toJSONSchema's io 'output' (named Vma: what replies carry)
 * and io 'input' (named VmaInput: what request bodies may carry; z.object() without .strict() allows
 * other keys on input, a .default() field is optional there, a transform's input side differs), and
 * lists both sets whether or not any route refers to them. So:
 * - an XInput whose JSON Schema is the same as X's is X (Snapshot: strict, no defaults, the same
 *   both ways, taken by POST /v1/sessions and given by GET /snapshot);
 * - a component no operation reaches (directly or through other components) is left out (the
 *   XInput of schemas only replies use).
 * An XInput that does differ from X and is used stays, under that name.
 */
export const transformDocument: SwaggerTransformObject = (input) => {
  const doc = jsonSchemaTransformObject(input) as unknown as JsonObject & { components?: JsonObject & { schemas?: JsonObject } }
  const schemas = doc.components?.schemas ?? {}

  // The pairs that are the same: the largest set of (XInput, X) that stay equal when each XInput they
  // refer to is read as its X (start from every pair, drop those that differ, repeat until none does).
  const same = new Map<string, string>()
  for (const name of Object.keys(schemas)) {
    const out = name.endsWith('Input') ? name.slice(0, -'Input'.length) : ''
    if (out !== '' && schemas[out] !== undefined) same.set(name, out)
  }
  for (let changed = true; changed;) {
    changed = false
    for (const [name, out] of same) {
      if (JSON.stringify(renameRefs(schemas[name], same)) !== JSON.stringify(schemas[out])) {
        same.delete(name)
        changed = true
      }
    }
  }
  const merged = renameRefs(doc, same) as typeof doc
  const all = merged.components?.schemas ?? {}

  // The components the operations reach.
  const used = refsIn(merged.paths ?? {}, new Set())
  for (const pending = [...used]; pending.length > 0;) {
    for (const name of refsIn(all[pending.pop() as string] ?? null, new Set())) {
      if (!used.has(name)) { used.add(name); pending.push(name) }
    }
  }
  const kept: JsonObject = {}
  for (const name of Object.keys(all)) if (used.has(name)) kept[name] = all[name]
  return { ...merged, components: { ...merged.components, schemas: kept } } as unknown as ReturnType<SwaggerTransformObject>
}
