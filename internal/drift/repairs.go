package drift

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The repair scenario: a CRM's accounts (crm_accounts) mirrored into another
// system (mirror_accounts), with a field of every owner and type, drift of
// every kind a plan treats differently, and text that breaks naive SQL.
// Each case says which exceptions it plants, which remain once the plans of
// each direction are applied, and which cells those plans change.

// Directions are the repair directions, as the config names them.
var Directions = []string{"source_to_target", "target_to_source", "both"}

// RepairCase is one planted case of the repair scenario.
type RepairCase struct {
	ID   int
	What string
	// Before are the exceptions a run reports for the case, as
	// Exception.String() texts.
	Before []string
	// After are the exceptions left once a direction's plans are applied.
	After map[string][]string
	// Writes are the cells a direction's plans change, as
	// "<table>.<column>"; "<table>.+" is an inserted row.
	Writes map[string][]string
}

// HostileText is text that breaks naive SQL literals and CSV.
const HostileText = "O'Brien \\ \"Q\" ;-- \r\nline 2\ttab Zoë 😀 e\u0301 $$"

// ConcurrentName is what a person sets the mirror's name of
// ConcurrentID to after the snapshot, and ConcurrentScore the CRM's lead
// score: a plan must not overwrite either.
const (
	ConcurrentID    = 900017
	ConcurrentName  = "changed by a person after the run"
	ConcurrentScore = 99
)

type mirrored struct {
	key                        string // the mirror's crm_id; the CRM's id is its integer
	name                       *string
	score                      *int
	phone, stage               *string
	amount                     *string
	closeDate                  *string
	active                     *bool
	lastContact                *time.Time
	segments, notes, untouched *string
	updated                    *time.Time
	deleted                    bool
}

func cleanAccount(id int) (mirrored, mirrored) {
	at := base.Add(time.Duration(id) * time.Minute)
	score, active := id%100, id%2 == 0
	a := mirrored{
		key: strconv.Itoa(id), name: ptr(fmt.Sprintf("Account %d", id)), score: &score, phone: ptr("+1 555 0100"),
		stage: ptr("Customer"), amount: ptr(fmt.Sprintf("%d.50", 1000+id)), closeDate: ptr("2024-02-29"),
		active: &active, lastContact: &at, segments: ptr("SMB;Retail"), notes: ptr("note"), untouched: ptr("keep me"), updated: &at,
	}
	return a, a
}

// repairCases returns the planted cases and both sides' records.
func repairCases() ([]RepairCase, []mirrored, []mirrored) {
	const rec = "accounts_to_mirror"
	var cases []RepairCase
	var src, tgt []mirrored
	ex := func(kind string, id int, field, side string) string {
		return Exception{rec, kind, strconv.Itoa(id), field, side}.String()
	}
	same := func(e ...string) map[string][]string {
		return map[string][]string{"source_to_target": e, "target_to_source": e, "both": e}
	}
	// fixedBy: the listed directions repair it; the others leave it.
	fixedBy := func(before []string, dirs ...string) map[string][]string {
		after := map[string][]string{}
		for _, d := range Directions {
			if !slices.Contains(dirs, d) {
				after[d] = before
			}
		}
		return after
	}
	add := func(c RepairCase, edit func(s, t *mirrored)) {
		s, t := cleanAccount(c.ID)
		edit(&s, &t)
		cases, src, tgt = append(cases, c), append(src, s), append(tgt, t)
	}
	// A field the source owns differs: source_to_target and both write the mirror.
	owned := func(id int, what, field string, edit func(s, t *mirrored)) {
		before := []string{ex("field_mismatch", id, field, "")}
		add(RepairCase{ID: id, What: what, Before: before, After: fixedBy(before, "source_to_target", "both"),
			Writes: map[string][]string{"source_to_target": {"mirror_accounts." + field}, "both": {"mirror_accounts." + field}}}, edit)
	}
	owned(900001, "name the CRM owns, hostile text", "name", func(s, t *mirrored) { s.name = ptr(HostileText) })
	before := []string{ex("field_mismatch", 900002, "lead_score", "")}
	add(RepairCase{ID: 900002, What: "lead score the mirror owns", Before: before, After: fixedBy(before, "target_to_source", "both"),
		Writes: map[string][]string{"target_to_source": {"crm_accounts.lead_score"}, "both": {"crm_accounts.lead_score"}}},
		func(s, t *mirrored) { t.score = ptr(42) })
	before = []string{ex("field_mismatch", 900003, "phone", ""), ex("timestamp_misaligned", 900003, "", "")}
	add(RepairCase{ID: 900003, What: "phone, owner newest, the CRM is newer", Before: before,
		After:  map[string][]string{"source_to_target": before[1:], "target_to_source": before, "both": before[1:]},
		Writes: map[string][]string{"source_to_target": {"mirror_accounts.phone"}, "both": {"mirror_accounts.phone"}}},
		func(s, t *mirrored) { s.phone, s.updated = ptr("+1 555 0199"), ptr(s.updated.Add(time.Hour)) })
	before = []string{ex("field_mismatch", 900004, "phone", ""), ex("timestamp_misaligned", 900004, "", "")}
	add(RepairCase{ID: 900004, What: "phone, owner newest, the mirror is newer", Before: before,
		After:  map[string][]string{"source_to_target": before, "target_to_source": before[1:], "both": before[1:]},
		Writes: map[string][]string{"target_to_source": {"crm_accounts.phone"}, "both": {"crm_accounts.phone"}}},
		func(s, t *mirrored) { t.phone, t.updated = ptr("+1 555 0142"), ptr(t.updated.Add(time.Hour)) })
	before = []string{ex("field_mismatch", 900005, "phone", "")}
	add(RepairCase{ID: 900005, What: "phone, owner newest, modified at the same instant: review", Before: before, After: same(before...)},
		func(s, t *mirrored) { t.phone = ptr("+1 555 0000") })
	before = []string{ex("field_mismatch", 900006, "stage", "")}
	add(RepairCase{ID: 900006, What: "stage is a review field", Before: before, After: same(before...)},
		func(s, t *mirrored) { s.stage, t.stage = ptr("Closed Won"), ptr("Negotiation") })
	owned(900007, "amount", "amount", func(s, t *mirrored) { s.amount, t.amount = ptr("2500.00"), ptr("2450.5000") })
	owned(900008, "close date, kept as text in the mirror", "close_date", func(s, t *mirrored) { s.closeDate = ptr("2024-12-31") })
	owned(900009, "active flag", "active", func(s, t *mirrored) { t.active = ptr(!*s.active) })
	owned(900010, "last contact, an instant in the CRM, wall-clock time in the mirror", "last_contact",
		func(s, t *mirrored) { s.lastContact = ptr(time.Date(2024, 7, 4, 16, 30, 0, 123456000, time.UTC)) })
	owned(900011, "multi-select segments", "segments", func(s, t *mirrored) { s.segments = ptr("Enterprise; SMB") })
	before = []string{ex("field_mismatch", 900012, "notes", "")}
	add(RepairCase{ID: 900012, What: "notes have no owner", Before: before, After: same(before...)},
		func(s, t *mirrored) { t.notes = ptr("edited in the mirror") })
	// Missing records carry NULL in the fields the other side would not
	// write, so that what is inserted is the whole record.
	before = []string{ex("missing_in_target", 900013, "", "")}
	add(RepairCase{ID: 900013, What: "missing in the mirror, hostile text",
		Before: before,
		After:  map[string][]string{"source_to_target": {ex("timestamp_misaligned", 900013, "", "")}, "both": {ex("timestamp_misaligned", 900013, "", "")}},
		Writes: map[string][]string{"source_to_target": {"mirror_accounts.+"}, "target_to_source": {"crm_accounts.is_deleted"}, "both": {"mirror_accounts.+"}}},
		func(s, t *mirrored) {
			s.name, s.score, s.stage, s.notes, s.untouched = ptr("new\r\n"+HostileText), nil, nil, nil, nil
			t.key = "gone"
		})
	before = []string{ex("missing_in_source", 900014, "", "")}
	add(RepairCase{ID: 900014, What: "missing in the CRM",
		Before: before,
		After:  map[string][]string{"target_to_source": {ex("timestamp_misaligned", 900014, "", "")}, "both": {ex("timestamp_misaligned", 900014, "", "")}},
		Writes: map[string][]string{"source_to_target": {"mirror_accounts.is_deleted"}, "target_to_source": {"crm_accounts.+"}, "both": {"crm_accounts.+"}}},
		func(s, t *mirrored) {
			*t = mirrored{key: t.key, score: ptr(7), phone: ptr("+1 555 0014"), updated: t.updated}
			s.key = "gone"
		})
	before = []string{ex("duplicate_key", 900015, "", "target"), ex("field_mismatch", 900015, "name", "")}
	add(RepairCase{ID: 900015, What: "duplicate key in the mirror: review", Before: before, After: same(before...)},
		func(s, t *mirrored) { s.name = ptr("renamed") })
	before = []string{ex("invalid_record", 900016, "close_date", "target"), ex("field_mismatch", 900016, "name", "")}
	add(RepairCase{ID: 900016, What: "invalid date in the mirror: review", Before: before, After: same(before...)},
		func(s, t *mirrored) { t.closeDate, s.name = ptr("31/12/2024"), ptr("renamed") })
	before = []string{ex("field_mismatch", ConcurrentID, "name", ""), ex("field_mismatch", ConcurrentID, "lead_score", "")}
	add(RepairCase{ID: ConcurrentID, What: "both sides changed by a person after the run: nothing is overwritten", Before: before, After: same(before...)},
		func(s, t *mirrored) { s.name, t.score = ptr("renamed in the CRM"), ptr(11) })
	owned(900018, "name NULL in the CRM", "name", func(s, t *mirrored) { s.name = nil })
	before = []string{ex("timestamp_misaligned", 900019, "", "")}
	add(RepairCase{ID: 900019, What: "timestamps alone differ: reported, never repaired", Before: before, After: same(before...)},
		func(s, t *mirrored) { t.updated = ptr(t.updated.Add(-48 * time.Hour)) })

	// The duplicate: a second mirror row whose key is the same integer.
	dup := tgt[slices.IndexFunc(cases, func(c RepairCase) bool { return c.ID == 900015 })]
	dup.key = " 900015"
	tgt = append(tgt, dup)
	return cases, src, tgt
}

// RepairCases returns the repair scenario's planted cases.
func RepairCases() []RepairCase {
	c, _, _ := repairCases()
	return c
}

// PlantRepairs creates crm_accounts on source and mirror_accounts on target
// with filler clean pairs and the repair scenario's cases.
func PlantRepairs(ctx context.Context, source *sql.DB, sourceDialect Dialect, target *sql.DB, targetDialect Dialect, filler int) error {
	zone, err := time.LoadLocation(BillingZone)
	if err != nil {
		return err
	}
	_, srcRows, tgtRows := repairCases()
	var s, t []mirrored
	for id := 1; id <= filler; id++ {
		a, b := cleanAccount(id)
		s, t = append(s, a), append(t, b)
	}
	s, t = append(s, srcRows...), append(t, tgtRows...)
	crm := table{name: "crm_accounts", cols: []column{
		{"id", kindInt, true}, {"name", kindText, false}, {"lead_score", kindInt, false}, {"phone", kindShort, false},
		{"stage", kindShort, false}, {"amount", kindMoney2, false}, {"close_date", kindDate, false}, {"active", kindBool, false},
		{"last_contact", kindInstant, false}, {"segments", kindText, false}, {"notes", kindText, false},
		{"is_deleted", kindFlag, false}, {"untouched", kindText, false}, {"updated_at", kindInstant, false},
	}}
	for _, a := range s {
		if a.key == "gone" {
			continue
		}
		id, err := strconv.Atoi(strings.TrimSpace(a.key))
		if err != nil {
			return err
		}
		crm.rows = append(crm.rows, []any{id, nullable(a.name), nullInt(a.score), nullable(a.phone), nullable(a.stage), nullable(a.amount),
			nullable(a.closeDate), nullBool(a.active), nullTime(a.lastContact), nullable(a.segments), nullable(a.notes), false,
			nullable(a.untouched), nullTime(a.updated)})
	}
	mirror := table{name: "mirror_accounts", cols: []column{
		{"crm_id", kindShort, true}, {"name", kindText, false}, {"lead_score", kindInt, false}, {"phone", kindShort, false},
		{"stage", kindShort, false}, {"amount", kindMoney4, false}, {"close_date", kindDateText, false}, {"active", kindBool, false},
		{"last_contact", kindWallTime, false}, {"segments", kindText, false}, {"notes", kindText, false},
		{"is_deleted", kindFlag, false}, {"untouched", kindText, false}, {"updated_at", kindWallTime, false},
	}}
	for _, a := range t {
		if a.key == "gone" {
			continue
		}
		mirror.rows = append(mirror.rows, []any{a.key, nullable(a.name), nullInt(a.score), nullable(a.phone), nullable(a.stage), nullable(a.amount),
			nullable(a.closeDate), nullBool(a.active), nullTime(a.lastContact), nullable(a.segments), nullable(a.notes), false,
			nullable(a.untouched), nullTime(a.updated)})
	}
	for _, side := range []struct {
		db      *sql.DB
		dialect Dialect
		t       table
	}{{source, sourceDialect, crm}, {target, targetDialect, mirror}} {
		conn, err := side.db.Conn(ctx)
		if err != nil {
			return err
		}
		err = side.dialect.create(ctx, conn, zone, side.t)
		conn.Close()
		if err != nil {
			return fmt.Errorf("plant %s: %w", side.dialect, err)
		}
	}
	return nil
}

// ChangeConcurrently is what a person does after the run and before its
// plans are applied: changes a field of ConcurrentID on each side.
func ChangeConcurrently(ctx context.Context, source *sql.DB, sourceDialect Dialect, target *sql.DB, targetDialect Dialect) error {
	if _, err := source.ExecContext(ctx, "UPDATE crm_accounts SET lead_score = "+sourceDialect.placeholder(1)+" WHERE id = "+sourceDialect.placeholder(2),
		ConcurrentScore, ConcurrentID); err != nil {
		return err
	}
	_, err := target.ExecContext(ctx, "UPDATE mirror_accounts SET name = "+targetDialect.placeholder(1)+" WHERE crm_id = "+targetDialect.placeholder(2),
		ConcurrentName, strconv.Itoa(ConcurrentID))
	return err
}

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func nullBool(p *bool) any {
	if p == nil {
		return nil
	}
	return *p
}

func nullTime(p *time.Time) any {
	if p == nil {
		return nil
	}
	return *p
}

// RepairConfig returns the config that reconciles and repairs the scenario
// in a direction.
func RepairConfig(crm, mirror System, direction string) string {
	return fill(repairConfigTemplate, "{crm_driver}", crm.Driver, "{crm_dsn}", crm.DSN,
		"{mirror_driver}", mirror.Driver, "{mirror_dsn}", mirror.DSN, "{direction}", direction)
}

const repairConfigTemplate = `version: 1
systems:
  crm:    {driver: {crm_driver}, dsn: "{crm_dsn}"}
  mirror: {driver: {mirror_driver}, dsn: "{mirror_dsn}", timezone: {zone}}
reconciliations:
  - name: accounts_to_mirror
    source: {system: crm, table: crm_accounts, where: "is_deleted = false"}
    target: {system: mirror, table: mirror_accounts, where: "is_deleted = false"}
    key: [{source: id, target: crm_id, type: int}]
    fields:
      - {name: name, type: string, owner: source}
      - {name: lead_score, type: int, owner: target}
      - {name: phone, type: string, owner: newest}
      - {name: stage, type: string, owner: source, review: true}
      - {name: amount, type: decimal, owner: source}
      - {name: close_date, type: date, owner: source}
      - {name: active, type: bool, owner: source}
      - {name: last_contact, type: timestamp, owner: source}
      - {name: segments, type: string, normalize: [multiselect], owner: source}
      - {name: notes, type: string}
    timestamp: {source: updated_at, target: updated_at}
    repair:
      direction: {direction}
      soft_delete: {column: is_deleted, value: true}
      formats: [sql, csv, salesforce, hubspot]
      batch_size: 4
`
