// `npm run test:piscina`: Piscina's own test suite run against GatedPool.
//
// Fetches Piscina's published package at the version heapgate depends on (`npm pack`, from npm's
// cache when it has it), installs the few packages its tests import (tsx, concat-stream,
// abort-controller) beside it, and replaces its entry points (`dist/main.js`, `dist/index.js`)
// with a shim: `class Piscina extends GatedPool {}` plus Piscina's statics (taken from the real
// Piscina heapgate runs on). Its test files run unchanged, with Node's test runner, one file at a
// time. `--baseline` runs them against the real Piscina instead (no shim), for comparison.
// `--options='{"slowStart":false}'` gives every pool the shim makes these options under the test's
// own (an object the test passes; anything else goes through as is), to see what one setting
// accounts for. `--only=<part of a file name>` runs the matching files only (results not written).
//
// Prints every test's outcome and a summary; writes scripts/results/piscina-suite.json.
// Not part of `npm test`: it takes minutes.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The suite's files run on this Node; heapgate refuses Node < 22 at import, which would fail
// every test with nothing but an empty message.
const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor < 22 && !process.argv.includes('--baseline')) {
  console.error(`test-piscina: heapgate needs Node >= 22; this is Node ${process.version}. Run \`npm run test:piscina\` (npm scripts use the Node 24 devDependency).`);
  process.exit(1);
}

const baseline = process.argv.includes('--baseline');
const extraArg = process.argv.find((arg) => arg.startsWith('--options='))?.slice('--options='.length);
const extra = extraArg === undefined ? undefined : JSON.parse(extraArg);
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(join(root, 'package.json'));
const version = JSON.parse(readFileSync(join(root, 'node_modules', 'piscina', 'package.json'), 'utf8')).version;
const realPiscina = require.resolve('piscina');
const heapgate = join(root, 'dist', 'index.js');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const work = mkdtempSync(join(tmpdir(), 'heapgate-piscina-suite-'));
console.log(`Piscina ${version}'s test suite against ${baseline ? 'the real Piscina (baseline)' : 'GatedPool'}${extra ? ` with ${JSON.stringify(extra)}` : ''}, in ${work}`);
execFileSync(npm, ['pack', `piscina@${version}`, '--prefer-offline', '--pack-destination', work], { cwd: work, stdio: 'pipe' });
const tarball = readdirSync(work).find((file) => file.endsWith('.tgz'));
execFileSync('tar', ['-xzf', join(work, tarball), '-C', work]);
const pkg = join(work, 'package');
// The packages its tests import, beside it (resolution walks up from package/test to work/).
execFileSync(npm, ['install', '--prefix', work, '--prefer-offline', '--no-audit', '--no-fund', '--no-save', 'tsx@4', 'concat-stream@2', 'abort-controller@3'], { stdio: 'pipe' });

if (!baseline) {
  const shim = `'use strict';
// heapgate's shim: Piscina's tests, run against GatedPool.
const real = require(${JSON.stringify(realPiscina)});
const { GatedPool } = require(${JSON.stringify(heapgate)});
const extra = ${JSON.stringify(extra ?? null)};
class Piscina extends GatedPool {
  constructor(...args) {
    const [options] = args;
    if (extra && args.length > 0 && typeof options === 'object' && options !== null && Object.getPrototypeOf(options) === Object.prototype) super({ ...extra, ...options });
    else if (extra && args.length === 0) super({ ...extra });
    else super(...args);
  }
  static get isWorkerThread() { return real.isWorkerThread; }
  static get workerData() { return real.workerData; }
  static get version() { return real.version; }
  static get Piscina() { return Piscina; }
  static get FixedQueue() { return real.FixedQueue; }
  static get ArrayTaskQueue() { return real.ArrayTaskQueue; }
  static move(value) { return real.move(value); }
  static get transferableSymbol() { return real.transferableSymbol; }
  static get valueSymbol() { return real.valueSymbol; }
  static get queueOptionsSymbol() { return real.queueOptionsSymbol; }
}
module.exports = Piscina;
for (const key of ['isWorkerThread', 'workerData', 'version', 'FixedQueue', 'ArrayTaskQueue', 'move', 'transferableSymbol', 'valueSymbol', 'queueOptionsSymbol']) {
  Object.defineProperty(module.exports, key, { get: () => real[key], enumerable: true });
}
`;
  writeFileSync(join(pkg, 'dist', 'main.js'), shim);
  writeFileSync(join(pkg, 'dist', 'index.js'), shim);
  // Tests that import Piscina's internal helpers (move-test: isMovable from dist/common) get those
  // of the Piscina GatedPool runs on, whose private symbols Piscina.move() uses.
  const realDist = dirname(realPiscina);
  for (const internal of ['common.js', 'symbols.js']) writeFileSync(join(pkg, 'dist', internal), `'use strict';\nmodule.exports = require(${JSON.stringify(join(realDist, internal))});\n`);
}

const tsx = join(work, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');
const files = readdirSync(join(pkg, 'test'))
  .filter((file) => file.endsWith('.test.ts'))
  .filter((file) => !only || file.includes(only))
  .sort();
const baselineNames = new Map();
try {
  const previous = JSON.parse(readFileSync(join(root, 'scripts', 'results', 'piscina-suite-baseline.json'), 'utf8'));
  for (const r of previous.results) baselineNames.set(r.file, [...(baselineNames.get(r.file) ?? []), r.name]);
} catch {
  // No baseline yet: a file that fails as a whole counts once.
}

/** Runs one test file (or only the test named `name` in it); returns its test cases, or why it failed as a whole. */
function runFile(file, name) {
  const report = join(work, `${file}${name === undefined ? '' : `-${baselineNames.get(file).indexOf(name)}`}.xml`);
  const pattern = name === undefined ? [] : [`--test-name-pattern=^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`];
  const run = spawnSync(process.execPath, ['--enable-source-maps', `--import=${tsx}`, '--test', ...pattern, '--test-reporter=junit', `--test-reporter-destination=${report}`, join('test', file)], {
    cwd: pkg,
    encoding: 'utf8',
    timeout: 60_000,
  });
  let xml = '';
  try {
    xml = readFileSync(report, 'utf8');
  } catch {
    // No report: the file did not load, or hung past the timeout.
  }
  const cases = [...xml.matchAll(/<testcase name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)]
    .map(([, caseName, , body = '']) => {
      const failure = /<failure[^>]*message="([^"]*)"/.exec(body);
      const skipped = /<skipped/.test(body);
      return { file, name: decode(caseName), passed: !failure && !skipped, skipped, why: failure ? decode(failure[1]).slice(0, 300) : undefined };
    })
    // Run by name, the other tests of the file are reported as skipped: only the one named counts.
    .filter((r) => name === undefined || r.name === name);
  // A file that failed as a whole (did not load, hung, or failed outside a test) has no cases of its own.
  const wholeFailure = cases.length === 0 || cases.every((r) => r.name.endsWith('.test.ts'));
  const why = run.error ? String(run.error.message) : (run.stderr || run.stdout).trim().split('\n').slice(-4).join(' | ');
  return wholeFailure ? { why: why.slice(0, 400) } : { cases };
}

const results = [];
for (const file of files) {
  const whole = runFile(file);
  let mine = whole.cases;
  if (!mine) {
    // One hung or crashing test stops a whole file: run its tests (named by a baseline run) one at
    // a time, so that each counts for itself. Without a baseline the file counts as one failure.
    const names = baselineNames.get(file) ?? [];
    console.log(`${file}: failed as a whole (${whole.why}); ${names.length > 0 ? `running its ${names.length} tests one at a time` : 'no baseline to name its tests'}`);
    mine = names.length === 0 ? [{ file, name: '(file)', passed: false, why: whole.why }] : names.map((name) => {
            const alone = runFile(file, name);
            return alone.cases?.[0] ?? { file, name, passed: false, why: `on its own: ${alone.why}` };
          });
  }
  results.push(...mine);
  console.log(`${file}: ${mine.filter((r) => r.passed).length}/${mine.length}`);
  for (const r of mine.filter((r) => !r.passed)) console.log(`  ✗ ${r.name}${r.skipped ? ' (skipped)' : ''}${r.why ? `: ${r.why}` : ''}`);
}

function decode(text) {
  return text.replaceAll('&quot;', '"').replaceAll('&apos;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&#10;', ' ').replaceAll('&amp;', '&');
}

const passed = results.filter((r) => r.passed).length;
console.log(`\n${baseline ? 'real Piscina' : 'GatedPool'}: ${passed} of ${results.length} passed (Piscina ${version}, Node ${process.version})`);
if (!only) {
  const tag = baseline ? '-baseline' : extra ? `-${Object.entries(extra).map(([key, value]) => `${key}-${value}`).join('-')}` : '';
  mkdirSync(join(root, 'scripts', 'results'), { recursive: true });
  writeFileSync(join(root, 'scripts', 'results', `piscina-suite${tag}.json`), `${JSON.stringify({ version, node: process.version, date: new Date().toISOString(), against: baseline ? 'piscina' : 'heapgate', options: extra, passed, total: results.length, results }, null, 2)}\n`);
}
