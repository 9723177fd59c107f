// Package benchmark measures recon against its yardstick, the read floor:
// the time our own source drivers take just to read both tables. Its
// benchmarks seed a PostgreSQL source and a MariaDB target on throwaway
// servers: opportunities against invoices with text keys and about 1%
// drift at each size of RECON_BENCH_TEXT_SIZES (default RECON_BENCH_ROWS,
// default 200,000; `make bench` uses 1M and 10M), finance and CRM shapes
// at RECON_BENCH_ROWS, and orders with integer keys at each of
// RECON_BENCH_SIZES; then they time
//
//   - read_floor: reading one or both tables through sources, rows discarded;
//   - reconcile: a full reconcile.Run, exceptions written to Parquet;
//   - the built recon binary end to end, reporting its peak RSS, against
//     the floor measured just before it (the median of several pairs).
//
// It has no code besides its benchmarks.
package benchmark
