package drift

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// colKind is a column's meaning; each dialect picks its own type for it, the
// way real CRMs and billing systems differ.
type colKind int

const (
	kindInt      colKind = iota
	kindText             // unbounded text
	kindShort            // short varchar (keys, codes)
	kindChar10           // fixed-width, blank-padded
	kindMoney2           // exact decimal, scale 2
	kindMoney4           // exact decimal, scale 4
	kindDate             // a calendar date
	kindDateText         // a date kept as text by a sloppy system
	kindWallTime         // a timestamp without zone (the system's local time)
	kindInstant          // a timestamp with zone (an instant)
	kindBool             // a boolean
	kindFlag             // a boolean, NOT NULL DEFAULT false (a soft-delete flag)
)

type column struct {
	name string
	kind colKind
	pk   bool
}

type table struct {
	name string
	cols []column
	rows [][]any // nil is NULL; time.Time values are rendered per column kind
}

// Dialect is the database kind a side is planted in: "postgres", "mysql" or "sqlite".
type Dialect string

func (d Dialect) typeOf(k colKind) string {
	switch d {
	case "postgres":
		return [...]string{"integer", "text", "varchar(40)", "char(10)", "numeric(12,2)", "numeric(14,4)", "date", "varchar(10)", "timestamp(6)", "timestamptz(6)",
			"boolean", "boolean NOT NULL DEFAULT false"}[k]
	case "mysql":
		return [...]string{"INT", "TEXT", "VARCHAR(40)", "CHAR(10)", "DECIMAL(12,2)", "DECIMAL(14,4)", "DATE", "VARCHAR(10)", "DATETIME(6)", "TIMESTAMP(6) NULL",
			"BOOLEAN", "BOOLEAN NOT NULL DEFAULT FALSE"}[k]
	default: // SQLite keeps exact decimals as text; dates by declared type
		return [...]string{"INTEGER", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "DATE", "TEXT", "DATETIME", "TIMESTAMP",
			"BOOLEAN", "BOOLEAN NOT NULL DEFAULT 0"}[k]
	}
}

func (d Dialect) quote(name string) string {
	if d == "mysql" {
		return "`" + name + "`"
	}
	return `"` + name + `"`
}

func (d Dialect) placeholder(i int) string {
	if d == "postgres" {
		return fmt.Sprintf("$%d", i)
	}
	return "?"
}

// render turns a Go value into what the dialect stores for a column kind.
// wall is the zone of zone-less timestamps.
func (d Dialect) render(v any, k colKind, wall *time.Location) any {
	t, ok := v.(time.Time)
	if !ok {
		return v
	}
	switch k {
	case kindWallTime:
		return t.In(wall).Format("2006-01-02 15:04:05.999999")
	case kindInstant:
		switch d {
		case "postgres":
			return t.UTC().Format("2006-01-02 15:04:05.999999+00")
		case "mysql": // the planting session runs in UTC
			return t.UTC().Format("2006-01-02 15:04:05.999999")
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return t.Format("2006-01-02")
}

// create makes and fills tables on one connection.
func (d Dialect) create(ctx context.Context, conn *sql.Conn, wall *time.Location, tables ...table) error {
	if d == "mysql" {
		if _, err := conn.ExecContext(ctx, "SET time_zone = '+00:00'"); err != nil {
			return err
		}
	}
	for _, t := range tables {
		var defs, names, marks []string
		for i, c := range t.cols {
			def := d.quote(c.name) + " " + d.typeOf(c.kind)
			if c.pk {
				def += " PRIMARY KEY"
			}
			defs = append(defs, def)
			names = append(names, d.quote(c.name))
			marks = append(marks, d.placeholder(i+1))
		}
		ddl := "CREATE TABLE " + d.quote(t.name) + " (" + strings.Join(defs, ", ") + ")"
		if d == "mysql" {
			// A case- and accent-insensitive collation, as MySQL installs default to.
			ddl += " CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
		}
		if _, err := conn.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("create %s: %w", t.name, err)
		}
		insert := "INSERT INTO " + d.quote(t.name) + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")"
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, insert)
		if err != nil {
			tx.Rollback()
			return fmt.Errorf("prepare insert into %s: %w", t.name, err)
		}
		args := make([]any, len(t.cols))
		for _, row := range t.rows {
			for i, v := range row {
				args[i] = d.render(v, t.cols[i].kind, wall)
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				tx.Rollback()
				return fmt.Errorf("insert into %s %v: %w", t.name, row, err)
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
