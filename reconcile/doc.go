// Package reconcile compares two snapshots of one object, a source and a
// target, record by record, and reports count parity, missing records,
// field divergence, last-modified misalignment, duplicate keys and invalid
// records.
//
// # Approach: external sort, then merge join
//
// Databases do not agree on order. PostgreSQL sorts text by its collation,
// MySQL by case- and accent-insensitive ones that also ignore trailing
// spaces, and one side's integer key may be the other side's varchar. A
// merge over two ORDER BY streams would silently pair the wrong records, so
// the engine never relies on the databases' order. Instead:
//
//  1. Ingest. Each side is read once, both sides concurrently. Every
//     record's key is encoded into bytes whose order and equality are the
//     same for both sides, because the encoding depends on the key's text
//     alone (see key.go: canonical integers sort numerically, other text
//     bytewise). Records whose key is NULL or unparsable are quarantined.
//  2. Sort. Records collect in an arena (half of Options.MemoryBudget
//     per side). When it is full, its records are sorted (abbreviated keys,
//     ties by arrival) and written to a run file. A side that fits is never
//     written to disk.
//  3. Merge join. Both sides' runs are merged (a tree of losers) into one sorted
//     stream per side, by a goroutine per side that hands batches to the
//     join (mergeJoin), and the two streams are walked in step. What the
//     join would parse that the reads can parse ahead of it (checker), they
//     do, and it is kept with the record through the sort. Records
//     with one key are adjacent, which finds duplicates; a key on one side
//     only is a missing record; a key on both sides is compared field by
//     field.
//
// Memory is bounded by the budget, the at most maxFanIn run readers merged
// (more runs are first merged in passes) and one record group per side,
// never by table size. Disk use is about the size of both tables' compared
// columns, and only when they exceed the budget.
//
// Where both databases can send their rows in the engine's key order (a
// KeyScanner with a key of one integer column: numeric order is the
// encoded order, whatever the collation), nothing is sorted: a producer
// per side hands its records to the merge join in batches as they are
// read (stream.go), so reading and comparing overlap. Each producer checks
// the order it gets; a key out of order fails the run rather than
// mismatch it.
//
// # Reading less
//
//   - Checksum mode (Spec.Checksum; checksum.go): the databases sum a
//     hash of every row's canonical text per segment of keys; only the
//     segments that differ are split further and read. The rest count as
//     matched and in agreement.
//   - Partitions (Options.Partition; partition.go, partial.go): a run
//     compares one of K shares of the keys and writes its differences and
//     figures to a partial file; Replay merges K of them into the run one
//     worker would have made. A KeyScanner reads only the partition's rows.
//
// # Shapes beyond one to one
//
//   - Grouped sides (Spec.SourceGroupBy, TargetGroupBy; aggregate.go): a
//     key's rows are folded into one record by each field's Aggregate as
//     they leave the sort, or grouped by the database (grouping.go) where
//     the source says it can do so exactly.
//   - Match tiers (Spec.Match; tiers.go): records the key leaves unmatched
//     go through further sorts by each tier's key; a tier pairs only values
//     unique on both sides.
//   - Counts per period (Spec.CountsBy; periods.go): no records are
//     matched; each side's rows are counted per period of a zone.
//
// # Comparison
//
// Values arrive as text (a source's contract, see Rows), are normalised as
// configured, and are parsed by the field's type: exact decimals, integers,
// floats, booleans, dates, and timestamps compared as UTC instants, where
// text without an offset is wall-clock time in the side's Location. A value
// that does not parse makes the record invalid: it still matches by key, its
// bad field is not compared, its other fields are. Text the same on both
// sides of a pair is only parsed where its value is needed: a value equal
// text cannot make unequal or invalid (a string no normalisation can
// refuse; a column the source's read found to parse, checker;
// an integer, decimal, date or timestamp written as databases write them,
// parsesQuickly) is equal without a parse. What is parsed and written so
// is read straight to its value (parseQuickly; a timestamp's date and
// time at fixed places); anything else takes the general parser, to the
// same value.
//
// # Output: a stream of differences
//
// For each key that differs the engine hands its Sink one Difference: both
// records as stored (key columns, every compared field, the timestamp), what
// differs, duplicates and invalid columns. Its consumers make of it what
// they need: the report writer the exception rows (AppendExceptions), the
// repair planner the statements that put it right.
//
// # Invariants
//
//   - Every record read is counted; every Difference is written to the Sink
//     in key order within a reconciliation, records whose key cannot be
//     used last. A Difference is valid only during Sink.Write.
//   - Of records sharing a key, one is compared, whatever order they came
//     in: the newest by timestamp, ties broken by the smallest values; the
//     others are counted, not compared.
//   - The engine reads no configuration and opens no connection: it gets a
//     Spec and two Snapshots.
package reconcile
