package parquetfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A row type the flat marshaller cannot lay out is refused when the file is
// created, naming the field, not when its first row group is flushed.
func TestCreateRefusesColumnsItCannotLayOut(t *testing.T) {
	type withFloat struct {
		Name  string  `parquet:"name=name, type=BYTE_ARRAY, convertedtype=UTF8, repetitiontype=REQUIRED"`
		Ratio float64 `parquet:"name=ratio, type=DOUBLE, repetitiontype=REQUIRED"`
	}
	path := filepath.Join(t.TempDir(), "x.parquet")
	_, err := Create[withFloat](path)
	if err == nil || !strings.Contains(err.Error(), "withFloat.Ratio is a float64") {
		t.Fatalf("Create of a float64 column: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a refused file is left behind: %v", err)
	}
}
