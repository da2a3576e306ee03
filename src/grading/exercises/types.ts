import type { KernelVersion, Op } from '../../sim/index.js'

/** What an exercise is generated from: the same spec gives the byte-identical exercise everywhere. */
export interface ExerciseSpec {
  topic: TopicName
  seed: number
  kernel: KernelVersion
  /** 1 (a few processes and operations) to 3 (more processes, forks and operations). */
  difficulty: 1 | 2 | 3
}

export const TOPIC_NAMES = ['anon-walk', 'file-walk', 'address', 'fork-cow', 'struct-page', 'page-walk', 'swap', 'inverse'] as const
export type TopicName = typeof TOPIC_NAMES[number]

/** A mapping: a process and the virtual address (hex) where it maps the page. */
export interface MappingAnswer { pid: number, addr: string }

/** The kinds of questions and the shape of their answers. */
export type AnswerOf = {
  /** Every (pid, address) that maps a page: graded by element. */
  'mapping-set': MappingAnswer[]
  /** A number (a counter, an index, a count, a PFN). */
  number: number
  /** An address (hex string). */
  address: string
  /** The fault path an access takes, or the signal it dies of (sigsegv, sigbus). */
  'fault-path': string
  /** A set of numbers (anon_vma ids, PFNs): graded by element. */
  'number-set': number[]
  /** The index of the right choice. */
  choice: number
  /** Named parts, each a number or null (e.g. a page-table walk: one PFN per level): graded by part. */
  parts: Record<string, number | null>
}
export type QuestionKind = keyof AnswerOf
export type Answer = AnswerOf[QuestionKind]

export interface Question {
  id: string
  kind: QuestionKind
  prompt: string
  /** Multiple-choice questions: the choices, in order. */
  choices?: string[]
  /** Parts questions: the names of the parts to answer. */
  parts?: string[]
  /** Points the question is worth. */
  points: number
  /** What the question is about, machine-readable (for tools and for checking the key independently). */
  about: About
}

/** The subject of a question: a process and address, a file page, a range, a hypothetical op, or choices. */
export interface About {
  pid?: number
  addr?: string
  file?: string
  index?: number
  /** [from, to) */
  range?: [string, string]
  /** The operation a "what if" question asks about. */
  op?: Op
  /** The operations of a multiple-choice question, in the order of its choices. */
  choices?: Op[]
}

/** The answer to one question and the kernel rule that decides it (the feedback names it). */
export interface KeyEntry { answer: Answer, rule: string }

export interface Exercise {
  /** "<topic>/<kernel>/d<difficulty>/s<seed>": regenerates the same exercise. */
  id: string
  spec: ExerciseSpec
  title: string
  /** What the student is given: operations in the /ops vocabulary (files made by createFile, processes named by `proc`). */
  setup: { ops: Op[] }
  /** The processes the setup creates, by name, with the pid each gets. */
  processes: Record<string, number>
  questions: Question[]
}

export interface AnswerKey { id: string, answers: Record<string, KeyEntry> }

export interface GeneratedExercise { exercise: Exercise, key: AnswerKey }

/**
 * The generator's version: part of every exercise id. Raised whenever any (topic, seed, kernel,
 * difficulty) would give a different exercise, so a submission made for one version is never graded
 * against another.
 */
export const GENERATOR_VERSION = 1

export const exerciseId = (s: ExerciseSpec): string => `${s.topic}/${s.kernel}/d${s.difficulty}/s${s.seed}/v${GENERATOR_VERSION}`
