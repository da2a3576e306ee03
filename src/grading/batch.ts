import { ApiError } from '../api-error.js'
import { Simulator, applyBatch, type BatchMode, type BatchResult, type Op, type OpOutcome } from '../sim/index.js'

export interface BatchRequest {
  mode: BatchMode
  /** Scenario files, created first (in name order) in the same batch. */
  files?: Record<string, { pages: number }>
  ops: Op[]
}

export interface BatchAnswer extends BatchResult {
  files: OpOutcome[]
  processes: Record<string, number>
}

/**
 * POST /ops: the scenario's files become createFile ops ahead of the client's ops, the batch runs
 * (atomic batches first on a copy), and the outcomes are numbered as the client's ops[] with the file
 * creations reported apart. An atomic failure is a 422 naming the op; `shape` turns an outcome into
 * its wire form.
 */
export function runBatch (sim: Simulator, req: BatchRequest, shape: (o: OpOutcome) => OpOutcome): BatchAnswer {
  const fileSpecs = req.files ?? {}
  const files: Op[] = Object.keys(fileSpecs).sort().map((name) => ({ op: 'createFile', name, pages: fileSpecs[name].pages }))
  const r = applyBatch(sim, [...files, ...req.ops], req.mode, () => Simulator.fromSnapshot(sim.snapshot(), { verify: false }))
  const renumber = (o: OpOutcome): OpOutcome => shape({ ...o, index: o.index - files.length })
  if (!r.applied) {
    const f = r.firstFailure as OpOutcome
    const inFiles = f.index < files.length
    const where = inFiles ? `creating file ${(files[f.index] as { name: string }).name}` : `op ${f.index - files.length} (${f.op})`
    throw new ApiError(422, 'batch_failed', `${where} failed, so none was applied: ${f.error?.message ?? ''}`, {
      mode: r.mode, applied: false, firstFailure: inFiles ? shape(f) : renumber(f), inFiles
    })
  }
  return {
    ...r,
    files: r.results.slice(0, files.length).map(shape),
    results: r.results.slice(files.length).map(renumber),
    processes: Object.fromEntries(sim.processes().filter((p) => p.name !== null).map((p) => [p.name as string, p.pid]))
  }
}
