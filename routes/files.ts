import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { errors, FileParams, SessionParams } from '../schemas/common.js'
import { CreateFileBody, Evict, File, FileDetailSchema, FileList, fileDetailOut, Writeback } from '../schemas/files.js'
import { tagSim } from '../src/plugins/session-auth.js'

/** Files: their page cache and i_mmap. */
const fileRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post('/files', {
    schema: { operationId: 'createFile', tags: ['files'], summary: 'Create a file of a given size in pages', params: SessionParams, body: CreateFileBody, response: { 201: File, ...errors(400, 401, 404, 409, 413, 415, 429, 503) } }
  }, async (request, reply) => reply.code(201).send(tagSim(request).createFile(request.body)))

  app.get('/files', {
    schema: { operationId: 'listFiles', tags: ['files'], summary: 'List files', params: SessionParams, response: { 200: FileList, ...errors(401, 404, 429, 503) } }
  }, async (request) => ({ files: request.simSession.sim.files() }))

  app.get('/files/:name', {
    schema: { operationId: 'getFile', tags: ['files'], summary: "A file's page cache (frame and mapcount of each page) and the VMAs in its i_mmap", params: FileParams, response: { 200: FileDetailSchema, ...errors(400, 401, 404, 429, 503) } }
  }, async (request) => fileDetailOut(request.simSession.sim.fileInfo(request.params.name)))

  app.post('/files/:name/evict', {
    schema: { operationId: 'evictFile', tags: ['files', 'rmap operations'], summary: 'Evict the clean, unmapped page-cache pages of the file', params: FileParams, response: { 200: Evict, ...errors(400, 401, 404, 413, 415, 429, 503) } }
  }, async (request) => tagSim(request).evict({ file: request.params.name }))

  app.post('/files/:name/writeback', {
    schema: { operationId: 'writebackFile', tags: ['files', 'rmap operations'], summary: 'Write back the file\'s dirty pages (fsync): 6.18 cleans the shared PTEs first (folio_mkclean), 2.6.11 only the pages', params: FileParams, response: { 200: Writeback, ...errors(400, 401, 404, 413, 415, 429, 503) } }
  }, async (request) => tagSim(request).writeback({ file: request.params.name }))
}

export default fileRoutes
