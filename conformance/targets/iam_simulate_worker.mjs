#!/usr/bin/env node
// Worker of the `iam-simulate` conformance target (conformance/targets/iam_simulate.py).
//
// Our own code, not part of @cloud-copilot/iam-simulate: that package is
// AGPL-3.0, installed from the npm registry into conformance/node_modules and
// only called through its public API (`runSimulation`) from this separate
// process.
//
// Protocol: one long-lived process. Each stdin line is one JSON batch
//   {"id": N, "policies": ["policy text", ...], "cases": [CASE, ...]}
// and gets exactly one stdout line
//   {"id": N, "answers": [ANSWER, ...]}          (one answer per case, in order)
// or, if the line itself cannot be read, {"id": N|null, "error": "..."}.
//
// CASE (built by the Python adapter):
//   {"principal": ARN, "account": "123456789012",
//    "identity": [POLICY], "boundary": POLICY|null, "session": POLICY|null,
//    "resource": POLICY|null, "scps": [[POLICY]], "rcps": [[POLICY]],
//    "requests": [{"action": "s3:GetObject", "resource": ARN,
//                  "context": {"aws:SourceIp": "10.0.0.1", "aws:TagKeys": ["a"]}}]}
//   POLICY = {"name": "policy id", "ref": index into "policies"}
//   (each distinct policy text travels and is parsed once per batch)
// ANSWER: {"results": [RESULT, ...]} or {"error": "..."} (the case could not be built)
// RESULT: {"decision": "Allowed"|"ExplicitlyDenied"|"ImplicitlyDenied",
//          "shape": "single"|"wildcard", "boundary": RESULT-OF-PB|null,
//          "scp": RESULT-OF-SCPS|null, "ignored": [context keys iam-simulate dropped]}
//         or {"error": "..."} (iam-simulate rejected or failed on this request)
//
// A batch line with "bench": true is timed instead of answered: its Simulation
// objects are built, then runSimulation runs over every request of it once, on
// the clock, in this same (warm) process; the answer line is
//   {"id": N, "bench": {"requests": n, "seconds": s, "errors": e}}
// so the harness bench measures iam-simulate alone and through the harness in
// one process, interleaved (bench/harness.py).
//
// A bad case or request never stops the worker: every case and every request
// is caught on its own. stdout on a pipe is synchronous on Linux, so each
// answer line is flushed as it is written.
//
// Benchmark: `node iam_simulate_worker.mjs --selftest-bench N [FILE [REPEAT]]`
// times N raw runSimulation calls (cycling over the requests of FILE, batch
// lines in the format above, or a small built-in mix) after one warm-up pass,
// best of REPEAT (default 3) runs, and prints one JSON line with requests/s.
// The Simulation objects are built before the clock starts, so the figure is
// runSimulation alone: no JSON, no pipe, no Python.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'

// The package is resolved from IAMCONF_NPM_PREFIX (where `npm ci --prefix DIR` installed it), or
// from conformance/ beside this script: an installed copy of the suite has no node_modules of its own,
// and ES module imports ignore NODE_PATH.
const prefix = process.env.IAMCONF_NPM_PREFIX || join(dirname(fileURLToPath(import.meta.url)), '..')
const requireFromPrefix = createRequire(join(prefix, 'package.json'))
const { runSimulation } = await import(pathToFileURL(requireFromPrefix.resolve('@cloud-copilot/iam-simulate')).href)

// Labels only: iam-simulate uses orgIdentifier to name a level in its analysis.
function levelName(kind, index, count) {
  if (index === 0) return `${kind}-root`
  if (index === count - 1) return `${kind}-account`
  return `${kind}-ou-${index}`
}

// Parses each policy text of a batch once, on first use.
class PolicyTable {
  constructor(texts) {
    this.texts = Array.isArray(texts) ? texts : []
    this.parsed = new Map()
  }

  load(p, where) {
    if (!this.parsed.has(p.ref)) {
      const text = this.texts[p.ref]
      if (typeof text !== 'string') throw new Error(`${where} policy ${JSON.stringify(p.name)}: no text ${p.ref}`)
      try {
        this.parsed.set(p.ref, JSON.parse(text))
      } catch (e) {
        this.parsed.set(p.ref, e)
      }
    }
    const policy = this.parsed.get(p.ref)
    if (policy instanceof Error) {
      throw new Error(`${where} policy ${JSON.stringify(p.name)} is not JSON: ${policy.message}`)
    }
    return policy
  }

  named(list, where) {
    const seen = new Map()
    return list.map((p) => {
      // iam-simulate reports errors keyed by name: keep names unique.
      const n = (seen.get(p.name) ?? 0) + 1
      seen.set(p.name, n)
      return { name: n === 1 ? p.name : `${p.name}#${n}`, policy: this.load(p, where) }
    })
  }

  levels(levels, kind) {
    return levels.map((level, i) => ({
      orgIdentifier: levelName(kind, i, levels.length),
      policies: this.named(level, kind)
    }))
  }
}

// Everything of a Simulation except the request, built once per case.
function casePolicies(c, table) {
  const sim = {
    identityPolicies: table.named(c.identity ?? [], 'identity'),
    serviceControlPolicies: table.levels(c.scps ?? [], 'scp'),
    resourceControlPolicies: table.levels(c.rcps ?? [], 'rcp'),
    // A context key in the case is in the request. Without this, iam-simulate
    // drops aws:ResourceTag/* keys for S3 resources (bucket ABAC off).
    additionalSettings: { s3: { bucketAbacEnabled: true } }
  }
  if (c.boundary) sim.permissionBoundaryPolicies = table.named([c.boundary], 'boundary')
  if (c.session) sim.sessionPolicy = table.load(c.session, 'session')
  if (c.resource) sim.resourcePolicy = table.load(c.resource, 'resource')
  return sim
}

function simulationsOf(c, table) {
  const policies = casePolicies(c, table)
  return c.requests.map((r) => ({
    ...policies,
    request: {
      principal: c.principal,
      action: r.action,
      resource: { resource: r.resource, accountId: c.account },
      contextVariables: r.context ?? {}
    }
  }))
}

function analysisOf(response) {
  if (response.resultType === 'single') return response.result?.analysis
  // A wildcard run has one analysis per resource pattern; report the first one's guardrails.
  return response.results?.[0]?.analysis
}

function ignoredOf(response) {
  if (response.resultType === 'single') return response.result?.ignoredContextKeys ?? []
  const keys = new Set()
  for (const r of response.results ?? []) for (const k of r.ignoredContextKeys ?? []) keys.add(k)
  return [...keys]
}

function errorText(errors) {
  if (!errors) return 'error without details'
  const { message, ...rest } = errors
  return Object.keys(rest).length ? `${message}: ${JSON.stringify(rest)}` : String(message)
}

async function simulate(sim) {
  try {
    const response = await runSimulation(sim, { simulationMode: 'Strict' })
    if (response.resultType === 'error') return { error: errorText(response.errors) }
    const analysis = analysisOf(response)
    return {
      decision: response.overallResult,
      shape: response.resultType,
      boundary: analysis?.permissionBoundaryAnalysis?.result ?? null,
      scp: sim.serviceControlPolicies.length ? (analysis?.scpAnalysis?.result ?? null) : null,
      ignored: ignoredOf(response)
    }
  } catch (e) {
    return { error: `runSimulation threw: ${e?.message ?? String(e)}` }
  }
}

async function answerCase(c, table) {
  let sims
  try {
    sims = simulationsOf(c, table)
  } catch (e) {
    return { error: e?.message ?? String(e) }
  }
  const results = []
  for (const sim of sims) results.push(await simulate(sim))
  return { results }
}

async function answerLine(line) {
  let batch
  try {
    batch = JSON.parse(line)
  } catch (e) {
    return { id: null, error: `batch line is not JSON: ${e.message}` }
  }
  if (!batch || !Array.isArray(batch.cases)) return { id: batch?.id ?? null, error: 'batch has no "cases" list' }
  if (batch.bench === true) return { id: batch.id ?? null, bench: await timeBatch(batch) }
  const table = new PolicyTable(batch.policies)
  const answers = []
  for (const c of batch.cases) {
    try {
      answers.push(await answerCase(c, table))
    } catch (e) {
      answers.push({ error: e?.message ?? String(e) })
    }
  }
  return { id: batch.id ?? null, answers }
}

async function serve() {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity })
  for await (const line of rl) {
    if (!line.trim()) continue
    process.stdout.write(JSON.stringify(await answerLine(line)) + '\n')
  }
}

// -- benchmark ----------------------------------------------------------------

// runSimulation alone over every request of one batch line, once, in this process.
async function timeBatch(batch) {
  const table = new PolicyTable(batch.policies)
  const sims = batch.cases.flatMap((c) => simulationsOf(c, table))
  let errors = 0
  const start = process.hrtime.bigint()
  for (const sim of sims) {
    const response = await runSimulation(sim, { simulationMode: 'Strict' })
    if (response.resultType === 'error') errors++
  }
  return { requests: sims.length, seconds: Number(process.hrtime.bigint() - start) / 1e9, errors }
}

const BUILTIN_MIX = {
  policies: [
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 's3:Get*', Resource: 'arn:aws:s3:::bench/*' },
        { Effect: 'Deny', Action: 's3:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }
      ]
    })
  ],
  cases: [
    {
      principal: 'arn:aws:iam::111122223333:user/bench',
      account: '111122223333',
      identity: [{ name: 'p', ref: 0 }],
      requests: [
        { action: 's3:GetObject', resource: 'arn:aws:s3:::bench/a', context: { 'aws:SecureTransport': 'true' } },
        { action: 's3:GetObject', resource: 'arn:aws:s3:::bench/a', context: { 'aws:SecureTransport': 'false' } },
        { action: 's3:PutObject', resource: 'arn:aws:s3:::bench/a', context: {} }
      ]
    }
  ]
}

// Every Simulation of the batch lines of FILE (or of the built-in mix), built before timing.
function benchSimulations(file) {
  const batches = file
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line.trim())
        .map((line) => JSON.parse(line))
    : [BUILTIN_MIX]
  return batches.flatMap((batch) => {
    const table = new PolicyTable(batch.policies)
    return batch.cases.flatMap((c) => simulationsOf(c, table))
  })
}

// One untimed pass over every distinct request (iam-data loads lazily), then
// `repeat` timed runs of n requests; the best run is reported.
async function bench(n, file, repeat) {
  const sims = benchSimulations(file)
  if (!sims.length) throw new Error('no requests to run')
  for (const sim of sims) await simulate(sim)
  let best = Infinity
  let errors = 0
  for (let r = 0; r < repeat; r++) {
    errors = 0
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) {
      const response = await runSimulation(sims[i % sims.length], { simulationMode: 'Strict' })
      if (response.resultType === 'error') errors++
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9)
  }
  const out = { requests: n, distinct: sims.length, errors, seconds: best, requests_per_s: n / best }
  process.stdout.write(JSON.stringify(out) + '\n')
}

const argv = process.argv.slice(2)
if (argv[0] === '--selftest-bench') {
  await bench(Number(argv[1] ?? 5000), argv[2], Number(argv[3] ?? 3))
} else {
  await serve()
}
