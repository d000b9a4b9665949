// duckdb_query.js: runs one SQL query with DuckDB (@duckdb/node-api from .deps/, installed by
// scripts/deps.sh) and prints each row's values tab-separated: how Athena-like readers see an
// export. Usage: node duckdb_query.js ROOT 'SELECT ...'   (ROOT: the repository, for .deps/)
const path = require('path');
const root = process.argv[2], sql = process.argv[3];
const { DuckDBInstance } = require(path.join(root, '.deps/node_modules/@duckdb/node-api'));
(async () => {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const reader = await conn.runAndReadAll(sql);
  for (const row of reader.getRows()) console.log(row.map((v) => String(v)).join('\t'));
})().catch((e) => { console.error('duckdb_query: ' + e.message); process.exit(1); });
