package sources

import "strings"

// Family groups the many database type names into what recon can compare.
type Family int

// The type families.
const (
	Unknown Family = iota // no declared type (SQLite expressions) or unrecognised
	Text
	Integer
	Decimal
	Float
	Bool
	Date
	Timestamp
)

var familyNames = [...]string{"unknown", "text", "integer", "decimal", "float", "boolean", "date", "timestamp"}

func (f Family) String() string { return familyNames[f] }

// FamilyOf classifies a database type name as Column.DatabaseType has it
// (PostgreSQL, MySQL/MariaDB and SQLite spellings).
func FamilyOf(databaseType string) Family {
	t := strings.ToUpper(databaseType)
	switch {
	case t == "":
		return Unknown
	case t == "BOOL" || t == "BOOLEAN" || t == "BIT":
		return Bool
	case (strings.Contains(t, "INT") && t != "INTERVAL" && !strings.Contains(t, "POINT")) || t == "YEAR":
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
