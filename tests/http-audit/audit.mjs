// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
// Prints one line per audit and exits non-zero if any audit did not pass.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}
const results = await auditServer({ url });
let failed = 0;
for (const r of results) {
  const ok = r.status === 'ok';
  if (!ok) failed += 1;
  console.log(`${ok ? 'ok  ' : r.status.toUpperCase().padEnd(4)} ${r.name}${ok ? '' : ` :: ${r.reason}`}`);
}
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
