// Package reports writes the report directory of one reconciliation run:
//
//	<outDir>/<run id>/
//	  exceptions.parquet  one row per exception
//	  summary.json        the run and the figures of each reconciliation
//	  report.md           a page for people: key figures, worst fields, samples
//	  report.html         the same page for a browser: one file, no scripts
//
// The schema of exceptions.parquet is a contract with its readers (DuckDB,
// pyarrow, Spark …); its columns, in order:
//
//	run_id             STRING, required
//	reconciliation     STRING, required
//	kind               STRING, required (a reconcile.Kind)
//	record_key         STRING, nullable
//	field              STRING, nullable
//	side               STRING, nullable ("source" or "target")
//	source_value       STRING, nullable
//	target_value       STRING, nullable
//	source_updated_at  TIMESTAMP(MICROS, isAdjustedToUTC), nullable
//	target_updated_at  TIMESTAMP(MICROS, isAdjustedToUTC), nullable
//	source_key         STRING, nullable (the source's key as stored)
//	target_key         STRING, nullable (the target's key as stored)
//	first_seen_run     STRING, required (the run that first found it)
//	first_seen_at      TIMESTAMP(MICROS, isAdjustedToUTC), required
//	match_tier         INT32, nullable (the tier that paired the records)
//
// New columns are only ever added at the end. STRING is BYTE_ARRAY
// annotated UTF8 and holds valid UTF-8 only. Nullable
// columns carry no statistics rather than wrong ones, and the file has no
// page index. A run without exceptions still gets a file with the schema and
// no rows. summary.json has the keys run_id, started_at, finished_at
// (RFC 3339, UTC), status and reconciliations (reconcile.Result as JSON,
// with field_mismatches never null and breaches never null).
//
// Invariants:
//   - Atomic directory: files are written under the hidden outDir/.<id>.partial
//     and Close renames it to outDir/<id>, so a reader never sees a half
//     report. Abort removes the partial directory.
//   - Bounded memory: Parquet row groups are flushed every 64Ki rows or 8 MiB
//     of compressed pages, and the pages keep only the first few exceptions
//     of each kind per reconciliation, however many exceptions a run has.
package reports
