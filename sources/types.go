package sources

import (
	"slices"
	"strings"
)

// Family groups the many database type names into what recon can compare.
type Family int

// The type families.
const (
	Unknown Family = iota // no declared type (SQLite expressions) or unrecognised: anything goes
	Text
	Integer
	Decimal
	Float
	Bool
	Date
	Timestamp
	Other // recognised, but no scalar type parses its text: arrays, ranges, intervals, binary, geometry…
)

var familyNames = [...]string{"unknown", "text", "integer", "decimal", "float", "boolean", "date", "timestamp", "other"}

func (f Family) String() string { return familyNames[f] }

// otherTypes are whole type names, or prefixes, that are not scalars recon parses.
var otherTypes = []string{"INTERVAL", "BYTEA", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "BINARY", "VARBINARY",
	"TIME", "TIMETZ", "TIME WITHOUT TIME ZONE", "TIME WITH TIME ZONE", "GEOMETRY", "POINT", "LINESTRING", "POLYGON",
	"MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION", "LINE", "LSEG", "BOX", "PATH", "CIRCLE",
	"XML", "INET", "CIDR", "MACADDR", "MACADDR8", "TSVECTOR", "TSQUERY"}

// FamilyOf classifies a database type name as Column.DatabaseType has it
// (PostgreSQL, MySQL/MariaDB and SQLite spellings).
func FamilyOf(databaseType string) Family {
	t := strings.ToUpper(strings.TrimSpace(databaseType))
	base, _, _ := strings.Cut(t, "(")
	switch {
	case t == "":
		return Unknown
	case strings.HasPrefix(t, "_") || strings.HasSuffix(t, "[]") || strings.Contains(t, "RANGE"):
		return Other // lib/pq names int[] "_INT4"; an int4range is no integer
	case slices.Contains(otherTypes, base):
		return Other
	case t == "BOOL" || t == "BOOLEAN" || base == "BIT":
		return Bool
	case strings.Contains(t, "INT") || t == "YEAR":
		return Integer
	case strings.Contains(t, "NUMERIC") || strings.Contains(t, "DECIMAL") || t == "MONEY":
		return Decimal
	case strings.Contains(t, "FLOAT") || strings.Contains(t, "DOUBLE") || strings.Contains(t, "REAL"):
		return Float
	case strings.Contains(t, "TIMESTAMP") || strings.Contains(t, "DATETIME"):
		return Timestamp
	case strings.Contains(t, "DATE"):
		return Date
	case strings.Contains(t, "CHAR") || strings.Contains(t, "TEXT") || strings.Contains(t, "CLOB") ||
		t == "UUID" || t == "ENUM" || t == "SET" || t == "NAME" || strings.HasPrefix(t, "JSON"):
		return Text
	}
	return Unknown
}
