import { Rng } from '../prng.js'
import { address } from './address.js'
import { anonWalk } from './anon-walk.js'
import { fileWalk } from './file-walk.js'
import { forkCow } from './fork-cow.js'
import { inverse } from './inverse.js'
import { pageWalk } from './page-walk.js'
import { SetupBuilder } from './setup-builder.js'
import { structPage } from './struct-page.js'
import { swap } from './swap.js'
import type { Topic } from './topic.js'
import { exerciseId, type ExerciseSpec, type GeneratedExercise, type TopicName } from './types.js'

export * from './types.js'

/** The topics, by name. */
export const TOPICS: Readonly<Record<TopicName, Topic>> = {
  'anon-walk': anonWalk,
  'file-walk': fileWalk,
  address,
  'fork-cow': forkCow,
  'struct-page': structPage,
  'page-walk': pageWalk,
  swap,
  inverse
}

/**
 * An exercise and its answer key from (topic, seed, kernel, difficulty): the setup is built and run
 * on an engine of that kernel, the questions are asked about the state it leaves, and the key is
 * read off the same engine. Deterministic: the seed drives a mulberry32 stream (src/grading/prng.ts).
 */
export function generateExercise (spec: ExerciseSpec): GeneratedExercise {
  const topic = TOPICS[spec.topic]
  const b = new SetupBuilder(spec.kernel, new Rng(spec.seed))
  const asked = topic.generate(b, spec.difficulty)
  const id = exerciseId(spec)
  return {
    exercise: {
      id,
      spec: { ...spec },
      title: topic.title(spec.kernel),
      setup: { ops: b.ops.map((o) => ({ ...o })) },
      processes: { ...b.pids },
      questions: asked.map((a) => a.question)
    },
    key: { id, answers: Object.fromEntries(asked.map((a) => [a.question.id, a.key])) }
  }
}
