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

// So is one the marshaller would lay out wrongly: a named string, an
// unexported field, a Go type that is not the tag's.
func TestCreateRefusesFieldsTheTagsDoNotDescribe(t *testing.T) {
	type label string
	type named struct {
		L label `parquet:"name=l, type=BYTE_ARRAY, convertedtype=UTF8, repetitiontype=REQUIRED"`
	}
	type narrowed struct {
		N int64 `parquet:"name=n, type=INT32, repetitiontype=REQUIRED"`
	}
	type hidden struct {
		A string `parquet:"name=a, type=BYTE_ARRAY, convertedtype=UTF8, repetitiontype=REQUIRED"`
		b string
	}
	for name, create := range map[string]func(string) error{
		"named":    func(p string) error { _, err := Create[named](p); return err },
		"narrowed": func(p string) error { _, err := Create[narrowed](p); return err },
		"hidden":   func(p string) error { _, err := Create[hidden](p); return err },
	} {
		path := filepath.Join(t.TempDir(), name+".parquet")
		if err := create(path); err == nil {
			t.Errorf("%s: Create succeeded", name)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s: a refused file is left behind: %v", name, err)
		}
	}
	_ = hidden{}.b
}
