/**
 * Builds the browser explorer (src/explorer/web) into a folder the server serves at /: one esbuild
 * bundle for the script, one for the style sheet, and the page itself, each also brotli- and
 * gzip-compressed. `npm run build` runs it into
 * dist/explorer (npm start builds first, so a user never builds by hand); the browser tests build
 * into a folder of their own so they always test the current sources.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { packageRoot } from '../package-root.js'

const WEB = join(dirname(fileURLToPath(import.meta.url)), 'web')
/** Files served as they are. */
const STATIC = ['index.html', 'favicon.svg']

export async function buildExplorer (outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true })
  await build({
    entryPoints: { explorer: join(WEB, 'main.tsx'), 'explorer-style': join(WEB, 'explorer.css') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120', 'firefox120', 'safari17'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning'
  })
  for (const f of STATIC) copyFileSync(join(WEB, f), join(outDir, f))
  // Served precompressed (@fastify/static preCompressed): the bundle is 116 kB, 37 kB gzipped.
  for (const f of ['explorer.js', 'explorer-style.css', 'index.html']) {
    const body = readFileSync(join(outDir, f))
    writeFileSync(join(outDir, `${f}.br`), brotliCompressSync(body))
    writeFileSync(join(outDir, `${f}.gz`), gzipSync(body, { level: 9 }))
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ?? join(packageRoot(), 'dist', 'explorer')
  await buildExplorer(out)
  console.log(`explorer built into ${out}`)
}
