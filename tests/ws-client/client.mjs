// Usage: node client.mjs ws://127.0.0.1:PORT/graphql '{"authorization":"Bearer …"}'
//
// One graphql-ws client, driven over stdin and reporting over stdout, one JSON object a line.
// Commands: {"op":"subscribe","id":"a","query":"…","variables":{…}}, {"op":"unsubscribe","id":"a"},
// {"op":"dispose"}. Events: connected, ping (from the server), next, error, complete, closed
// (with the close code and reason). The client never retries: the tests watch every close.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import readline from 'node:readline';

const [url, params] = process.argv.slice(2);
if (!url) {
  console.error('usage: node client.mjs URL [CONNECTION_PARAMS_JSON]');
  process.exit(2);
}
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: params ? JSON.parse(params) : undefined,
  lazy: false,
  retryAttempts: 0,
  shouldRetry: () => false,
  on: {
    connected: () => emit({ event: 'connected' }),
    ping: (received) => { if (received) emit({ event: 'ping' }); },
    closed: (e) => emit({ event: 'closed', code: e?.code, reason: String(e?.reason ?? '') }),
  },
  onNonLazyError: () => {},
});

const running = new Map();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line);
  if (cmd.op === 'subscribe') {
    const { id } = cmd;
    const stop = client.subscribe(
      { query: cmd.query, variables: cmd.variables ?? {} },
      {
        next: (payload) => emit({ event: 'next', id, payload }),
        error: (error) =>
          emit({ event: 'error', id, error: Array.isArray(error) ? error : { code: error?.code, message: String(error?.reason ?? error?.message ?? error) } }),
        complete: () => emit({ event: 'complete', id }),
      },
    );
    running.set(id, stop);
  } else if (cmd.op === 'unsubscribe') {
    running.get(cmd.id)?.();
  } else if (cmd.op === 'dispose') {
    client.dispose();
    process.exit(0);
  }
}).on('close', () => {
  client.dispose();
  process.exit(0);
});
