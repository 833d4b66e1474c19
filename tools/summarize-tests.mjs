// Reads the vitest JSON reports written under a directory and prints the one summary line CI reads:
// `tests: N passed, N failed`. Exits non-zero when a test failed, a suite failed to load, or no
// report exists for a package that has tests.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir || !existsSync(dir)) {
  console.error(`summarize-tests: no report directory ${dir ?? '(none given)'}`);
  console.log('tests: 0 passed, 1 failed');
  process.exit(1);
}
let passed = 0;
let failed = 0;
let brokenSuites = 0;
const reports = readdirSync(dir).filter((f) => f.endsWith('.json'));
for (const file of reports) {
  const report = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  brokenSuites += (report.testResults ?? []).filter((suite) => suite.status === 'failed' && (suite.assertionResults ?? []).length === 0).length;
}
const packages = readdirSync('packages');
const missing = packages.filter((p) => !reports.includes(`${p}.json`));
if (missing.length > 0) console.error(`summarize-tests: no report for ${missing.join(', ')}`);
if (brokenSuites > 0) console.error(`summarize-tests: ${brokenSuites} test file(s) failed to load`);
const totalFailed = failed + brokenSuites + missing.length;
console.log(`tests: ${passed} passed, ${totalFailed} failed`);
process.exit(totalFailed > 0 || passed === 0 ? 1 : 0);
