/**
 * The OpenAPI document the server serves (/docs/json) as a contract its replies are checked against,
 * by a validator that knows nothing of the zod schemas the document was made from: Ajv's JSON Schema
 * 2020-12 (the dialect of OpenAPI 3.1) over the document's own schemas. test/helper.ts checks every
 * reply of every test app with it; test/api/contract.test.ts checks the document's statuses are real.
 * Not a test file itself (.taprc runs only *.test.ts).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import formats from 'ajv-formats'

// ajv-formats is CommonJS with exports.default: under NodeNext its default import is the module object.
const addFormats = (formats as unknown as { default: (ajv: Ajv2020) => Ajv2020 }).default

export interface MediaType { schema?: unknown }
export interface ResponseObject { description: string, content?: Record<string, MediaType> }
export interface Operation { operationId?: string, security?: unknown[], responses: Record<string, ResponseObject> }
export interface OpenApiDocument {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components?: { schemas?: Record<string, unknown> }
  security?: unknown[]
}

/** What one reply was: the request's method, its route as fastify registered it, and the reply. */
export interface ReplyFacts {
  method: string
  /** request.routeOptions.url, e.g. /v1/sessions/:sid/files/:name; undefined when no route matched. */
  route: string | undefined
  status: number
  contentType: string | undefined
  body: string
}

const DOC = 'https://rmap-sim.invalid/openapi.json'
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

const pointer = (...parts: string[]): string => parts.map((p) => '/' + p.replace(/~/g, '~0').replace(/\//g, '~1')).join('')

/** The document's path for a fastify route: /v1/sessions/:sid/ → /v1/sessions/{sid}. */
export const documentPath = (route: string): string => route.replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1')

const mediaTypeOf = (contentType: string | undefined): string => (contentType ?? '').split(';')[0].trim().toLowerCase()

export interface OperationRef { path: string, method: string, operation: Operation }

export class Contract {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true })
  private readonly validators = new Map<string, ValidateFunction>()

  constructor (readonly doc: OpenApiDocument) {
    addFormats(this.ajv)
    // The whole document under one id: the response schemas are validated in place, so their
    // "#/components/schemas/..." references resolve against it exactly as a client's would.
    this.ajv.addSchema(doc as unknown as Record<string, unknown>, DOC)
  }

  /** Every operation of the document. */
  operations (): OperationRef[] {
    const out: OperationRef[] = []
    for (const [path, item] of Object.entries(this.doc.paths)) {
      for (const [method, operation] of Object.entries(item)) if (HTTP_METHODS.includes(method)) out.push({ path, method, operation })
    }
    return out
  }

  /** The operation serving `method` on fastify's `route` (HEAD is its GET), if the document has one. */
  operation (method: string, route: string): OperationRef | undefined {
    const path = documentPath(route)
    const m = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase()
    const operation = this.doc.paths[path]?.[m]
    return operation === undefined ? undefined : { path, method: m, operation }
  }

  private validator (ptr: string): ValidateFunction {
    let v = this.validators.get(ptr)
    if (v === undefined) {
      v = this.ajv.compile({ $ref: `${DOC}#${ptr}` })
      this.validators.set(ptr, v)
    }
    return v
  }

  /** Why `body` (JSON text) does not match the schema at `ptr` in the document (empty: it does). */
  private schemaProblems (ptr: string, body: string): string[] {
    let value: unknown
    try { value = JSON.parse(body) } catch { return [`the body is not JSON: ${body.slice(0, 200)}`] }
    const validate = this.validator(ptr)
    if (validate(value)) return []
    return (validate.errors ?? []).slice(0, 8).map((e) => `body${e.instancePath} ${e.message ?? 'is invalid'}${Object.keys(e.params).length > 0 ? ` ${JSON.stringify(e.params)}` : ''}`)
  }

  /**
   * Why a reply breaks the document (empty: it keeps it). A reply of a documented operation must have
   * a status the operation documents, a content type its response lists, and a body its schema
   * accepts (none where the response has no content). A reply no route made (the not-found handler)
   * must be an error with the Error shape. `hidden` routes (the documentation's own pages) are not
   * part of the API.
   */
  check (r: ReplyFacts, hidden = false): string[] {
    if (r.route === undefined) {
      if (r.status < 400) return [`status ${r.status} from no route`]
      const ptr = pointer('components', 'schemas', 'Error')
      return this.doc.components?.schemas?.Error === undefined ? ['the document has no Error component'] : this.schemaProblems(ptr, r.body)
    }
    const op = this.operation(r.method, r.route)
    if (op === undefined) return hidden ? [] : [`${r.method} ${r.route} is not in the document`]
    const name = op.operation.operationId ?? `${op.method} ${op.path}`
    const response = op.operation.responses[String(r.status)]
    if (response === undefined) {
      return [`status ${r.status} is not documented for ${name} (documented: ${Object.keys(op.operation.responses).join(', ')}); body ${r.body.slice(0, 300)}`]
    }
    if (response.content === undefined) {
      return r.body.length === 0 || r.method === 'HEAD' ? [] : [`${name} ${r.status} documents no body, but one was sent: ${r.body.slice(0, 200)}`]
    }
    const media = mediaTypeOf(r.contentType)
    const mediaType = response.content[media]
    if (mediaType === undefined) return [`${name} ${r.status}: content type ${String(r.contentType)} is not documented (${Object.keys(response.content).join(', ')})`]
    if (r.method === 'HEAD' || mediaType.schema === undefined) return []
    if (media !== 'application/json') {
      const type = (mediaType.schema as { type?: unknown }).type
      return type === 'string' ? [] : [`${name} ${r.status}: a ${media} body against a non-string schema`]
    }
    return this.schemaProblems(pointer('paths', op.path, op.method, 'responses', String(r.status), 'content', media, 'schema'), r.body)
      .map((p) => `${name} ${r.status}: ${p}`)
  }
}

/** One Contract per distinct document (test apps with the same settings serve the same one). */
const contracts = new Map<string, Contract>()

export function contractFor (doc: OpenApiDocument): Contract {
  const key = JSON.stringify(doc)
  let c = contracts.get(key)
  if (c === undefined) {
    c = new Contract(doc)
    contracts.set(key, c)
  }
  return c
}
