#!/usr/bin/env node
// The rmap-sim command (package.json "bin"): see cli.ts.
import { main } from './cli.js'

process.exitCode = main(process.argv.slice(2))
