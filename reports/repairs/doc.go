// Package repairs turns a reconciliation's differences into repair plans:
// per side recon may write, guarded SQL in the side's own dialect and the
// same changes as bulk-upsert files (generic CSV, a Salesforce Bulk API 2.0
// job, HubSpot batch-upsert bodies), and a review queue (review.parquet)
// of what a person must decide. It is a consumer of the engine's Difference
// stream, like the report writer; it writes files and sends nothing.
//
// Which way a field is repaired follows its owner, the system of record:
// a mismatch is written to the side that does not own the field, if the
// plan's Direction lets recon write that side; owner newest writes toward
// the side whose record is older by its last-modified timestamp. A record
// missing on a writable side is inserted (key and the fields that side
// does not own); missing on a side recon may not write, the other side's
// record is soft-deleted if a soft-delete column is configured.
//
// Invariants:
//   - Nothing is ever deleted: no statement is DELETE, TRUNCATE, DROP or
//     REPLACE, and the other formats only upsert.
//   - Every UPDATE is guarded: it changes the row only while its key, its
//     compared fields and its timestamp still read exactly as the snapshot
//     read them, so a repair never overwrites a newer value, and a second
//     run of a plan changes no row. Every INSERT does nothing when the key
//     exists. See queries.Change.
//   - Review fields, ties under owner newest, duplicate keys and invalid
//     records are never in a plan; they go to review.parquet, one row each.
//   - A SQL plan has one statement per line (literals never hold a raw line
//     break), batches between BEGIN and COMMIT lines, and nothing else but
//     comments and the session's SET statements: it runs as it is in the
//     database's own client, and ReadSQL reads it back for recon apply.
//   - Memory is bounded: plans stream to disk as differences arrive; only a
//     HubSpot body (at most 100 records) is held.
package repairs
