// Serves PostGraphile 5 (the Amber preset, no plugins) over the database Anju benchmarks, so that
// both answer the same documents from the same rows. Usage:
//   node serve.mjs DATABASE_URL PORT [POOL_SIZE]
// Prints "listening PORT" once the schema is built and the port is open.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";

const [databaseUrl, portText, poolText] = process.argv.slice(2);
if (!databaseUrl || !portText) {
  console.error("usage: node serve.mjs DATABASE_URL PORT [POOL_SIZE]");
  process.exit(2);
}
const port = Number(portText);
const poolSize = Number(poolText ?? "16");

const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: databaseUrl,
      schemas: ["public"],
      poolConfig: { max: poolSize },
    }),
  ],
  grafserv: { port, graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
// Build the schema before accepting requests, so the first measured request does not pay for it.
await pgl.getSchema();
server.listen(port, "127.0.0.1", () => console.log(`listening ${port}`));
