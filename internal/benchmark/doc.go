// Package benchmark measures recon against its yardstick, the read floor:
// the time our own source drivers take just to read both tables. Its
// benchmarks seed a PostgreSQL source and a MariaDB target with
// RECON_BENCH_ROWS rows (default 200,000; `make bench` uses 1,000,000) and
// about 1% drift, on throwaway servers, then time
//
//   - read_floor: reading one or both tables through sources, rows discarded;
//   - reconcile: a full reconcile.Run, exceptions written to Parquet;
//   - binary: the built recon binary end to end, reporting its peak RSS.
//
// It has no code besides its benchmarks.
package benchmark
