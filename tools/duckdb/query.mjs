// Runs one SQL query in an in-memory DuckDB and prints each result row as a
// line of JSON, values as DuckDB's JSON conversion gives them (BIGINT and
// timestamps as strings, TIMESTAMP WITH TIME ZONE in the zone of TZ). Tests
// use it as a Parquet reader independent of the one that wrote the files.
//
// Usage: node query.mjs "SELECT count(*) AS n FROM read_parquet('x.parquet')"
import { DuckDBInstance } from '@duckdb/node-api';

const sql = process.argv[2];
if (!sql) {
  console.error('usage: node query.mjs "<sql>"');
  process.exit(2);
}

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
try {
  const reader = await conn.runAndReadAll(sql);
  for (const row of reader.getRowObjectsJson()) {
    process.stdout.write(JSON.stringify(row) + '\n');
  }
} catch (err) {
  console.error(`query failed: ${err.message}`);
  process.exitCode = 1;
} finally {
  conn.closeSync();
  instance.closeSync();
}
