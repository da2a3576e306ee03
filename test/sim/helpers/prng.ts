/** The random tests draw from the same PRNG as exercises (src/grading/prng.ts). */
export { mulberry32, Rng } from '../../../src/grading/prng.js'
