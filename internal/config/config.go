// Package config reads a recon config file: YAML with ${VAR} expansion,
// checked as a whole, every problem reported with its file and line. It is
// the edge: everything else receives the typed specs it returns
// (reconcile.Spec, repairs.Spec, selections, systems) and never sees YAML.
//
// The YAML keys are a contract with users: extend, never rename.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/shopspring/decimal"
	"go.yaml.in/yaml/v3"

	"github.com/recon-dev/recon/internal/hint"
	"github.com/recon-dev/recon/internal/state"
	"github.com/recon-dev/recon/queries"
	"github.com/recon-dev/recon/reconcile"
	"github.com/recon-dev/recon/reports/repairs"
	"github.com/recon-dev/recon/sources"
)

// The YAML shapes.
type fileConfig struct {
	Version         int                     `yaml:"version"`
	State           string                  `yaml:"state"`
	Schedule        string                  `yaml:"schedule"`
	Alerts          alertsConfig            `yaml:"alerts"`
	Systems         map[string]systemConfig `yaml:"systems"`
	Reconciliations []reconConfig           `yaml:"reconciliations"`
}

type alertsConfig struct {
	Webhooks []webhookConfig `yaml:"webhooks"`
	Ping     string          `yaml:"ping"`
	Attempts int             `yaml:"attempts"`
	Timeout  string          `yaml:"timeout"`
}

type webhookConfig struct {
	URL    string `yaml:"url"`
	Format string `yaml:"format"`
}

type systemConfig struct {
	Driver   string            `yaml:"driver"`
	DSN      string            `yaml:"dsn"`
	Timezone string            `yaml:"timezone"`
	Options  map[string]string `yaml:"options"`
}

type reconConfig struct {
	Name         string          `yaml:"name"`
	Schedule     string          `yaml:"schedule"`
	MaxStaleness string          `yaml:"max_staleness"`
	Timeout      string          `yaml:"timeout"`
	Settle       string          `yaml:"settle"`
	Source       sideConfig      `yaml:"source"`
	Target       sideConfig      `yaml:"target"`
	Key          []keyConfig     `yaml:"key"`
	Match        [][]keyConfig   `yaml:"match"`
	Fields       []fieldConfig   `yaml:"fields"`
	Timestamp    *stampConfig    `yaml:"timestamp"`
	CountsBy     *countsByConfig `yaml:"counts_by"`
	Thresholds   thresholdConfig `yaml:"thresholds"`
	Repair       *repairConfig   `yaml:"repair"`
	Mode         string          `yaml:"mode"`
	Checksum     *checksumConfig `yaml:"checksum"`
}

type checksumConfig struct {
	Segments int64 `yaml:"segments"`
	LeafRows int64 `yaml:"leaf_rows"`
}

type sideConfig struct {
	System  string   `yaml:"system"`
	Table   string   `yaml:"table"`
	Where   string   `yaml:"where"`
	Query   string   `yaml:"query"`
	GroupBy []string `yaml:"group_by"`
}

type keyConfig struct {
	Source    string   `yaml:"source"`
	Target    string   `yaml:"target"`
	Type      string   `yaml:"type"`
	Normalize []string `yaml:"normalize"`
	Region    string   `yaml:"region"`
}

type fieldConfig struct {
	Name            string            `yaml:"name"`
	Source          string            `yaml:"source"`
	Target          string            `yaml:"target"`
	Type            string            `yaml:"type"`
	Tolerance       string            `yaml:"tolerance"`
	Normalize       []string          `yaml:"normalize"`
	Region          string            `yaml:"region"`
	Map             map[string]string `yaml:"map"`
	Allowed         []string          `yaml:"allowed"`
	DateTimezone    string            `yaml:"date_timezone"`
	NullEqualsEmpty bool              `yaml:"null_equals_empty"`
	Aggregate       string            `yaml:"aggregate"`
	Money           bool              `yaml:"money"`
	Owner           string            `yaml:"owner"`
	Review          bool              `yaml:"review"`
}

type countsByConfig struct {
	Source   string `yaml:"source"`
	Target   string `yaml:"target"`
	Period   string `yaml:"period"`
	Timezone string `yaml:"timezone"`
	Last     int    `yaml:"last"`
}

type stampConfig struct {
	Source    string `yaml:"source"`
	Target    string `yaml:"target"`
	Tolerance string `yaml:"tolerance"`
}

type repairConfig struct {
	Direction   string            `yaml:"direction"`
	TargetTable string            `yaml:"target_table"`
	SourceTable string            `yaml:"source_table"`
	SoftDelete  *softDeleteConfig `yaml:"soft_delete"`
	MaxChanges  *int64            `yaml:"max_changes"`
	Formats     []string          `yaml:"formats"`
	ExternalID  string            `yaml:"external_id"`
	BatchSize   int               `yaml:"batch_size"`
}

type softDeleteConfig struct {
	Column string `yaml:"column"`
	Value  scalar `yaml:"value"`
	Grace  string `yaml:"grace"`
}

// scalar is a YAML scalar of any type, kept as its text: value: true,
// value: 1 and value: deleted are all a soft-delete marker.
type scalar string

func (s *scalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a single value, like true, 1 or deleted", n.Line)
	}
	*s = scalar(n.Value)
	return nil
}

type thresholdConfig struct {
	CountVariance       string `yaml:"count_variance"`
	DriftRate           string `yaml:"drift_rate"`
	MissingInTarget     *int64 `yaml:"missing_in_target"`
	MissingInSource     *int64 `yaml:"missing_in_source"`
	TimestampMisaligned *int64 `yaml:"timestamp_misaligned"`
	DuplicateKeys       *int64 `yaml:"duplicate_keys"`
	InvalidRecords      *int64 `yaml:"invalid_records"`
	NewExceptions       *int64 `yaml:"new_exceptions"`
	SyncSuccessRate     string `yaml:"sync_success_rate"`
	SyncLagP95          string `yaml:"sync_lag_p95"`
}

// Config is a checked config file.
type Config struct {
	Path string
	// State is the state store: an SQLite file path (absolute) or a
	// postgres:// URL; StateName shows it without secrets.
	State, StateName string
	Systems          map[string]System
	Reconciliations  []Reconciliation
	Alerts           Alerts
}

// Alerts says whom to tell when a run breaches, fails or goes stale.
type Alerts struct {
	Webhooks []Webhook
	// Ping is a healthchecks.io/Cronitor-style URL: <ping>/start when a
	// run starts, <ping> on success, <ping>/fail on failure.
	Ping string
	// Attempts bounds the tries per notification; Timeout bounds each.
	Attempts int
	Timeout  time.Duration
}

// Webhook is one endpoint alerts are POSTed to.
type Webhook struct {
	URL    string
	Format string // "slack" ({"text": …}) or "json" (the figures)
}

// The defaults of the operational settings.
const (
	DefaultStateFile    = "recon-state.db"
	DefaultTimeout      = 2 * time.Hour
	DefaultMaxStaleness = 26 * time.Hour
	DefaultAttempts     = 5
	DefaultAlertTimeout = 10 * time.Second
)

// System is one database to read from.
type System struct {
	Source   sources.Config
	Location *time.Location
}

// Reconciliation is one checked reconciliation.
type Reconciliation struct {
	Spec           reconcile.Spec
	Source, Target SideSelection
	// Repair is how differences are repaired; nil when no field has an
	// owner and there is no repair: section.
	Repair *repairs.Spec
	// Hash identifies the reconciliation's resolved config, secrets
	// excluded: recon apply refuses a plan made under another.
	Hash string
	// Schedule is the cron expression of its scheduled runs ("" for none):
	// five fields, or six with seconds, optionally after CRON_TZ=<zone>.
	Schedule string
	// MaxStaleness is how long it may go without a successful run before
	// recon status calls it stale; 0 means the default (see status).
	MaxStaleness time.Duration
	// Timeout bounds a run of it; Settle leaves out records modified that
	// recently before the snapshot (still in flight).
	Timeout, Settle time.Duration
	// MaxNewExceptions, if set, is a threshold on exceptions first seen by
	// a run, which only the state store knows.
	MaxNewExceptions *int64
	// Mode is how records are compared: ModeRows, ModeChecksum, or
	// ModeAuto (checksum once the last run counted AutoChecksumRows source
	// records, of which under AutoChecksumDrift had exceptions, unless
	// checksums took longer than rows within AutoWindow runs); Checksum
	// tunes checksum mode.
	Mode     string
	Checksum reconcile.Checksum
}

// The comparison modes of a reconciliation (mode:).
const (
	ModeRows     = "rows"
	ModeChecksum = "checksum"
	ModeAuto     = "auto"
)

// AutoChecksumRows is the source records from which mode: auto
// checksums, and AutoChecksumDrift the most exceptions per source record
// the last run may have found: where much differs, checksums find that
// every segment differs, and cost a pass over the tables for nothing.
const (
	AutoChecksumRows  = 100_000
	AutoChecksumDrift = 0.001
)

// AutoWindow is how many of its last successful runs mode: auto weighs:
// where a checksum run among them took longer per source record than the
// newest rows run, it reads rows until that run has left the window,
// then times checksums again (tables grow, databases move).
const AutoWindow = 8

// Side returns the selection of side s.
func (r Reconciliation) Side(s reconcile.Side) SideSelection {
	if s == reconcile.SourceSide {
		return r.Source
	}
	return r.Target
}

// SideSelection is what one side of a reconciliation reads.
type SideSelection struct {
	System    string
	Selection queries.Selection
}

// Select returns the reconciliations named in only (all when only is
// empty), each once, in the order named.
func (c *Config) Select(only []string) ([]Reconciliation, error) {
	if len(only) == 0 {
		return c.Reconciliations, nil
	}
	var names []string
	byName := map[string]Reconciliation{}
	for _, r := range c.Reconciliations {
		names = append(names, r.Spec.Name)
		byName[r.Spec.Name] = r
	}
	var out []Reconciliation
	for _, n := range only {
		if slices.ContainsFunc(out, func(r Reconciliation) bool { return r.Spec.Name == n }) {
			continue // named twice: run once
		}
		r, ok := byName[n]
		if !ok {
			return nil, hint.Wrap(fmt.Errorf("--only %q: no such reconciliation in %s", n, c.Path), "use one of: "+strings.Join(names, ", "))
		}
		out = append(out, r)
	}
	return out, nil
}

// Error collects the problems of a config file, each with its line.
type Error struct {
	path     string
	problems []string
}

func (e *Error) Error() string {
	if len(e.problems) == 1 {
		return fmt.Sprintf("config %s: %s", e.path, e.problems[0])
	}
	return fmt.Sprintf("config %s has %d problems:\n  %s", e.path, len(e.problems), strings.Join(e.problems, "\n  "))
}

// Hint says what to do about a config's problems.
func (e *Error) Hint() string {
	return "fix the config (see the config reference in README.md), then check it with: recon validate --config " + e.path
}

// Load reads, expands and checks a config file. It reads no database.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, hint.Wrap(fmt.Errorf("read config: %w", err), "pass the path of a recon YAML file with --config")
	}
	ce := &Error{path: path}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		ce.problems = append(ce.problems, yamlProblem(err))
		return nil, ce
	}
	if len(root.Content) == 0 {
		ce.problems = append(ce.problems, "the file is empty")
		return nil, ce
	}
	expanded := expandEnv(&root, ce)
	var fc fileConfig
	if err := root.Decode(&fc); err != nil {
		ce.problems = append(ce.problems, hideExpanded(yamlProblem(err), expanded))
	}
	// root.Decode does not reject unknown keys; a strict pass over the raw
	// file does. Its other errors are about unexpanded ${VAR}s: ignored.
	var strict fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&strict); err != nil {
		if unknown := unknownKeys(err); unknown != "" {
			ce.problems = append(ce.problems, unknown)
		}
	}
	if len(ce.problems) > 0 {
		return nil, ce
	}
	cfg := check(&fc, &root, filepath.Dir(path), ce)
	if len(ce.problems) > 0 {
		return nil, ce
	}
	cfg.Path = path
	return cfg, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${VAR} in every scalar value (never in keys) with the
// environment's value, and returns the variables used per line. An unset
// variable is a problem, not an empty string: an empty DSN or password would
// fail later and less clearly. A value takes the YAML type of what it
// expands to, so `null_equals_empty: "${FLAG}"` can be a boolean; string
// keys get the text whatever it looks like.
func expandEnv(n *yaml.Node, ce *Error) map[int][]string {
	expanded := map[int][]string{}
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			if !envRef.MatchString(n.Value) {
				return
			}
			n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
				name := envRef.FindStringSubmatch(ref)[1]
				expanded[n.Line] = append(expanded[n.Line], ref)
				v, ok := os.LookupEnv(name)
				if !ok {
					ce.problems = append(ce.problems, fmt.Sprintf("line %d: environment variable %s is not set (export it, e.g. %s=... recon run)", n.Line, name, name))
				}
				return v
			})
			n.Tag, n.Style = "", 0 // resolve the type again, from the expanded text
			return
		}
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				continue // a key
			}
			walk(c)
		}
	}
	walk(n)
	return expanded
}

var yamlValue = regexp.MustCompile("line (\\d+): cannot unmarshal (\\S+) `[^`]*`")

// hideExpanded keeps the values of environment variables, which may be
// secrets, out of YAML type errors: it names the variable instead.
func hideExpanded(problem string, expanded map[int][]string) string {
	return yamlValue.ReplaceAllStringFunc(problem, func(m string) string {
		sub := yamlValue.FindStringSubmatch(m)
		line, _ := strconv.Atoi(sub[1])
		if refs, ok := expanded[line]; ok {
			return fmt.Sprintf("line %s: cannot unmarshal the value of %s (%s)", sub[1], strings.Join(refs, ", "), sub[2])
		}
		return m
	})
}

var (
	unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type config\.(\w+)`)
	yamlLine     = regexp.MustCompile(`^yaml: (line \d+:)`)
)

// sectionKeys maps each YAML shape to where it appears and its keys.
var sectionKeys = map[string]struct {
	where string
	typ   reflect.Type
}{
	"fileConfig":       {"at the top level", reflect.TypeFor[fileConfig]()},
	"systemConfig":     {"in a system", reflect.TypeFor[systemConfig]()},
	"reconConfig":      {"in a reconciliation", reflect.TypeFor[reconConfig]()},
	"sideConfig":       {"in source/target", reflect.TypeFor[sideConfig]()},
	"keyConfig":        {"in a key entry", reflect.TypeFor[keyConfig]()},
	"fieldConfig":      {"in a field", reflect.TypeFor[fieldConfig]()},
	"stampConfig":      {"in timestamp", reflect.TypeFor[stampConfig]()},
	"repairConfig":     {"in repair", reflect.TypeFor[repairConfig]()},
	"softDeleteConfig": {"in repair.soft_delete", reflect.TypeFor[softDeleteConfig]()},
	"thresholdConfig":  {"in thresholds", reflect.TypeFor[thresholdConfig]()},
}

// unknownKeys returns the unknown-key problems among a strict decode's
// errors, or "".
func unknownKeys(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return ""
	}
	var unknown []string
	for _, msg := range te.Errors {
		if unknownField.MatchString(msg) {
			unknown = append(unknown, msg)
		}
	}
	if len(unknown) == 0 {
		return ""
	}
	return yamlProblem(&yaml.TypeError{Errors: unknown})
}

// yamlProblem rewrites a YAML error in the config's terms.
func yamlProblem(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return yamlLine.ReplaceAllString(err.Error(), "$1")
	}
	var out []string
	for _, msg := range te.Errors {
		if m := unknownField.FindStringSubmatch(msg); m != nil {
			if s, ok := sectionKeys[m[3]]; ok {
				msg = fmt.Sprintf("line %s: unknown key %q %s (known keys: %s)", m[1], m[2], s.where, strings.Join(yamlKeys(s.typ), ", "))
			}
		}
		out = append(out, strings.ReplaceAll(msg, "config.", ""))
	}
	return strings.Join(out, "; ")
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		keys = append(keys, strings.Split(f.Tag.Get("yaml"), ",")[0])
	}
	return keys
}

// lineOf finds the line of the node at a path of mapping keys and sequence
// indexes below root's document, or 0.
func lineOf(root *yaml.Node, path ...any) int {
	n := root.Content[0]
	for _, p := range path {
		switch p := p.(type) {
		case string:
			next := (*yaml.Node)(nil)
			for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == p {
					next = n.Content[i+1]
				}
			}
			if next == nil {
				return n.Line
			}
			n = next
		case int:
			if n.Kind != yaml.SequenceNode || p >= len(n.Content) {
				return n.Line
			}
			n = n.Content[p]
		}
	}
	return n.Line
}

// check turns the decoded file into a Config, noting every problem.
func check(fc *fileConfig, root *yaml.Node, dir string, ce *Error) *Config {
	problem := func(line int, format string, args ...any) {
		ce.problems = append(ce.problems, fmt.Sprintf("line %d: ", line)+fmt.Sprintf(format, args...))
	}
	if fc.Version != 1 {
		problem(lineOf(root, "version"), "version must be 1 (got %d)", fc.Version)
	}
	cfg := &Config{Systems: map[string]System{}}
	checkOperations(fc, root, dir, cfg, problem)
	if len(fc.Systems) == 0 {
		problem(lineOf(root, "systems"), "no systems: name at least the two databases to compare under systems:")
	}
	for _, name := range slices.Sorted(maps.Keys(fc.Systems)) {
		sc := fc.Systems[name]
		line := lineOf(root, "systems", name)
		if !slices.Contains(sources.Drivers(), sc.Driver) {
			problem(line, "system %q: driver %q is not one of %s", name, sc.Driver, strings.Join(sources.Drivers(), ", "))
		}
		if strings.TrimSpace(sc.DSN) == "" {
			problem(line, "system %q: dsn is empty", name)
		}
		loc := time.UTC
		if sc.Timezone != "" {
			l, err := time.LoadLocation(sc.Timezone)
			if err != nil {
				problem(line, "system %q: timezone %q is not an IANA zone name (like UTC or America/New_York)", name, sc.Timezone)
			} else {
				loc = l
			}
		}
		cfg.Systems[name] = System{Source: sources.Config{Name: name, Driver: sc.Driver, DSN: sc.DSN, BaseDir: dir, Options: sc.Options}, Location: loc}
	}
	if len(fc.Reconciliations) == 0 {
		problem(lineOf(root, "reconciliations"), "no reconciliations: add at least one under reconciliations:")
	}
	seen := map[string]bool{}
	stems := map[string]string{} // plan file stems, folded, to the reconciliation that has them
	for i, rc := range fc.Reconciliations {
		line := lineOf(root, "reconciliations", i)
		p := func(format string, args ...any) {
			problem(line, "reconciliation %q: %s", rc.Name, fmt.Sprintf(format, args...))
		}
		if rc.Name == "" {
			problem(line, "reconciliation #%d has no name", i+1)
		} else if seen[rc.Name] {
			p("the name is used twice")
		}
		seen[rc.Name] = true
		r := Reconciliation{Spec: reconcile.Spec{Name: rc.Name}}
		r.Source = checkSide("source", rc.Source, fc.Systems, dir, p)
		r.Target = checkSide("target", rc.Target, fc.Systems, dir, p)
		if rc.CountsBy != nil {
			r.Spec.CountsBy = checkCountsBy(rc, cfg.Systems, func(format string, args ...any) {
				problem(lineOf(root, "reconciliations", i, "counts_by"), "reconciliation %q, counts_by: %s", rc.Name, fmt.Sprintf(format, args...))
			})
		} else if len(rc.Key) == 0 {
			p("no key: say which columns match records, e.g. key: [{source: id, target: opportunity_id}]")
		}
		for k, kc := range rc.Key {
			kp := func(format string, args ...any) {
				problem(lineOf(root, "reconciliations", i, "key", k), "reconciliation %q, key #%d: %s", rc.Name, k+1, fmt.Sprintf(format, args...))
			}
			r.Spec.Key = append(r.Spec.Key, checkKeyColumn(kc, kp))
		}
		for t, tier := range rc.Match {
			tp := func(format string, args ...any) {
				problem(lineOf(root, "reconciliations", i, "match", t), "reconciliation %q, match tier %d: %s", rc.Name, t+2, fmt.Sprintf(format, args...))
			}
			if len(tier) == 0 {
				tp("a tier needs at least one column, like [{source: email, target: email_address, normalize: [email]}]")
			}
			var cols []reconcile.KeyColumn
			for _, kc := range tier {
				cols = append(cols, checkKeyColumn(kc, tp))
			}
			r.Spec.Match = append(r.Spec.Match, cols)
		}
		if len(rc.Match) > 0 && (len(rc.Source.GroupBy) > 0 || len(rc.Target.GroupBy) > 0 || rc.CountsBy != nil) {
			p("match: tiers pair single records; they do not combine with group_by: or counts_by:")
		}
		if len(rc.Match) > 0 && (rc.Repair != nil || slices.ContainsFunc(rc.Fields, func(f fieldConfig) bool { return f.Owner != "" || f.Review })) {
			p("repairs are not planned with match: tiers (a pair matched by e-mail has no shared key to write by, an ambiguous record no partner); remove repair:, owner: and review:")
		}
		r.Spec.SourceGroupBy = checkGroupBy("source", rc.Source.GroupBy, r.Spec.Key, p)
		r.Spec.TargetGroupBy = checkGroupBy("target", rc.Target.GroupBy, r.Spec.Key, p)
		grouped := r.Spec.SourceGroupBy || r.Spec.TargetGroupBy
		names := map[string]bool{}
		var rules []repairs.FieldRule
		for f, fcf := range rc.Fields {
			fp := func(format string, args ...any) {
				problem(lineOf(root, "reconciliations", i, "fields", f), "reconciliation %q, field %q: %s", rc.Name, fcf.Name, fmt.Sprintf(format, args...))
			}
			if fcf.Name == "" {
				fp("a field needs a name")
			} else if names[fcf.Name] {
				fp("the name is used twice")
			}
			names[fcf.Name] = true
			field := checkField(fcf, fp)
			field.Aggregate = checkAggregate(fcf, field, grouped, fp)
			r.Spec.Fields = append(r.Spec.Fields, field)
			rule := repairs.FieldRule{Review: fcf.Review}
			if fcf.Owner != "" {
				o, ok := repairs.ParseOwner(fcf.Owner)
				if !ok {
					fp("owner %q is not source, target or newest", fcf.Owner)
				}
				rule.Owner = o
			}
			rules = append(rules, rule)
		}
		if rc.Timestamp != nil {
			tp := func(format string, args ...any) {
				problem(lineOf(root, "reconciliations", i, "timestamp"), "reconciliation %q, timestamp: %s", rc.Name, fmt.Sprintf(format, args...))
			}
			ts := &reconcile.TimestampSpec{Source: orDefault(rc.Timestamp.Source, rc.Timestamp.Target), Target: orDefault(rc.Timestamp.Target, rc.Timestamp.Source)}
			if ts.Source == "" {
				tp("name the last-modified columns with source: and target:")
			}
			if rc.Timestamp.Tolerance != "" {
				d, err := time.ParseDuration(rc.Timestamp.Tolerance)
				if err != nil || d < 0 {
					tp("tolerance %q is not a duration like 30s, 5m or 1h", rc.Timestamp.Tolerance)
				}
				ts.Tolerance = d
			}
			r.Spec.Timestamp = ts
		}
		r.Spec.Thresholds = checkThresholds(rc.Thresholds, func(format string, args ...any) {
			problem(lineOf(root, "reconciliations", i, "thresholds"), "reconciliation %q, thresholds: %s", rc.Name, fmt.Sprintf(format, args...))
		})
		r.Repair = checkRepair(rc, rules, &r.Spec, func(format string, args ...any) {
			problem(lineOf(root, "reconciliations", i, "repair"), "reconciliation %q, repair: %s", rc.Name, fmt.Sprintf(format, args...))
		})
		for _, side := range []reconcile.Side{reconcile.SourceSide, reconcile.TargetSide} {
			if sys, ok := fc.Systems[r.Side(side).System]; ok && r.Repair != nil && r.Repair.Direction.Writes(side) &&
				slices.Contains(sources.Drivers(), sys.Driver) && !sources.Writable(sys.Driver) {
				p("repair: the %s, system %q, is a %s source, which recon cannot write; repair toward an SQL database (direction:) or leave repair: out", side, r.Side(side).System, sys.Driver)
			}
		}
		if r.Repair != nil && grouped {
			p("repairs are not planned where a side has group_by: an aggregate has no one row to write; remove repair:, owner: and review:")
		}
		if r.Repair != nil {
			for _, stem := range repairs.FileStems(rc.Name, r.Repair.Direction) {
				folded := strings.ToLower(stem)
				if other, ok := stems[folded]; ok && other != rc.Name {
					p("its repair plan files would have the names of %q's (%s.*); rename one of them", other, stem)
				}
				stems[folded] = rc.Name
			}
		}
		r.Mode = orDefault(rc.Mode, ModeRows)
		if !slices.Contains([]string{ModeRows, ModeChecksum, ModeAuto}, r.Mode) {
			p("mode %q is not rows, checksum or auto", rc.Mode)
		}
		if c := rc.Checksum; c != nil {
			if c.Segments < 0 || c.LeafRows < 0 || c.Segments > 1<<20 {
				p("checksum: segments (at most 1048576) and leaf_rows must be positive")
			}
			r.Checksum = reconcile.Checksum{Segments: c.Segments, LeafRows: c.LeafRows}
		}
		r.Hash = configHash(rc, fc.Systems, r.Source, r.Target)
		checkOperational(rc, fc.Schedule, &r, func(format string, args ...any) {
			problem(line, "reconciliation %q: %s", rc.Name, fmt.Sprintf(format, args...))
		})
		cfg.Reconciliations = append(cfg.Reconciliations, r)
	}
	return cfg
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

type problemFunc func(format string, args ...any)

func checkSide(which string, sc sideConfig, systems map[string]systemConfig, dir string, p problemFunc) SideSelection {
	if _, ok := systems[sc.System]; !ok {
		p("%s system %q is not defined under systems: (defined: %s)", which, sc.System, strings.Join(slices.Sorted(maps.Keys(systems)), ", "))
	}
	sel := queries.Selection{Table: sc.Table, Where: sc.Where}
	switch {
	case sc.Table != "" && sc.Query != "":
		p("%s: give a table or a query, not both", which)
	case sc.Query != "":
		if sc.Where != "" {
			p("%s: where: applies to a table; put the filter inside the query file", which)
		}
		path := sc.Query
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		text, err := os.ReadFile(path)
		if err != nil {
			p("%s query file: %v", which, err)
		} else if strings.TrimSpace(queries.TrimQuery(string(text))) == "" {
			p("%s query file %s is empty", which, path)
		}
		sel.Query, sel.QueryFile = string(text), sc.Query
	case sc.Table == "":
		p("%s: name a table (table: invoices) or a query file (query: queries/invoices.sql)", which)
	}
	if sys, ok := systems[sc.System]; ok && slices.Contains(sources.Drivers(), sys.Driver) {
		if err := sources.CheckSelection(sys.Driver, sel); err != nil {
			p("%s: %v", which, err)
		}
	}
	return SideSelection{System: sc.System, Selection: sel}
}

func checkNormalize(names []string, p problemFunc) []reconcile.Normalization {
	var out []reconcile.Normalization
	for _, n := range names {
		norm := reconcile.Normalization(n)
		if !norm.Valid() {
			p("normalize %q is not one of %s", n, strings.Join(reconcile.Normalizations(), ", "))
		}
		out = append(out, norm)
	}
	return out
}

// checkKeyColumn checks one column of a key or a match tier.
func checkKeyColumn(kc keyConfig, p problemFunc) reconcile.KeyColumn {
	key := reconcile.KeyColumn{Source: orDefault(kc.Source, kc.Target), Target: orDefault(kc.Target, kc.Source), Type: reconcile.String}
	if key.Source == "" {
		p("name the key column with source: and target:")
	}
	switch kc.Type {
	case "", "string":
	case "int":
		key.Type = reconcile.Int
	default:
		p("type %q: a key is string or int", kc.Type)
	}
	key.Normalize = checkNormalize(kc.Normalize, p)
	key.Region = checkRegion(kc.Region, key.Normalize, p)
	return key
}

// checkCountsBy checks a count-parity reconciliation, which counts rows
// per period and so matches no records: it has no key, fields, timestamp,
// group_by or repairs.
func checkCountsBy(rc reconConfig, systems map[string]System, p problemFunc) *reconcile.CountsBy {
	c := rc.CountsBy
	cb := &reconcile.CountsBy{Source: orDefault(c.Source, c.Target), Target: orDefault(c.Target, c.Source), Last: c.Last}
	if cb.Source == "" {
		p("name the columns whose time puts a row in a period with source: and target:")
	}
	var ok bool
	if cb.Period, ok = reconcile.ParsePeriod(c.Period); !ok {
		p("period %q is not one of %s", c.Period, strings.Join(reconcile.PeriodNames(), ", "))
	}
	cb.Location = time.UTC
	if sys, found := systems[rc.Source.System]; found && sys.Location != nil {
		cb.Location = sys.Location // the source system's zone, unless told
	}
	if c.Timezone != "" {
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			p("timezone %q is not an IANA zone name (like UTC or America/New_York)", c.Timezone)
		}
		cb.Location = loc
	}
	if c.Last < 0 {
		p("last must be a number of periods, at least 1 (leave it out for all)")
	}
	if len(rc.Key) > 0 || len(rc.Fields) > 0 || rc.Timestamp != nil || rc.Settle != "" {
		p("a count-parity reconciliation counts rows, so it takes no key:, fields:, timestamp: or settle:")
	}
	if t := rc.Thresholds; t.DriftRate != "" || t.MissingInTarget != nil || t.MissingInSource != nil || t.TimestampMisaligned != nil ||
		t.DuplicateKeys != nil || t.SyncLagP95 != "" {
		p("a count-parity reconciliation matches no records: of thresholds it takes count_variance, invalid_records, sync_success_rate and new_exceptions")
	}
	if len(rc.Source.GroupBy) > 0 || len(rc.Target.GroupBy) > 0 || rc.Repair != nil {
		p("a count-parity reconciliation takes no group_by: and no repair:")
	}
	return cb
}

// checkGroupBy checks a side's group_by: the side's key columns, which
// its rows share many to a key.
func checkGroupBy(which string, groupBy []string, key []reconcile.KeyColumn, p problemFunc) bool {
	if len(groupBy) == 0 {
		return false
	}
	var keyCols []string
	for _, k := range key {
		keyCols = append(keyCols, pick(which, k.Source, k.Target))
	}
	if !sameColumns(groupBy, keyCols) {
		p("%s group_by [%s] must name the %s's key columns, [%s]: records are grouped by the key they are matched on",
			which, strings.Join(groupBy, ", "), which, strings.Join(keyCols, ", "))
	}
	return true
}

func pick(which, source, target string) string {
	if which == "source" {
		return source
	}
	return target
}

// sameColumns reports whether a and b name the same columns, in any order
// and ignoring case, as column names resolve.
func sameColumns(a, b []string) bool {
	fold := func(s []string) []string {
		out := make([]string, len(s))
		for i, c := range s {
			out[i] = strings.ToLower(c)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return len(a) == len(b) && slices.Equal(fold(a), fold(b))
}

// checkAggregate checks a field's aggregate: required where a side has
// group_by, meaningless elsewhere, and one the field's type can fold.
func checkAggregate(fc fieldConfig, f reconcile.Field, grouped bool, p problemFunc) reconcile.Aggregate {
	if fc.Aggregate == "" {
		if grouped {
			p("a side has group_by, so say how this field folds that side's rows with aggregate: (%s)", strings.Join(reconcile.AggregateNames(), ", "))
		}
		return reconcile.NoAggregate
	}
	a, ok := reconcile.ParseAggregate(fc.Aggregate)
	switch {
	case !ok:
		p("aggregate %q is not one of %s", fc.Aggregate, strings.Join(reconcile.AggregateNames(), ", "))
	case !grouped:
		p("aggregate: %s applies to a side with group_by, and neither side has one", fc.Aggregate)
	case a == reconcile.Sum && f.Type != reconcile.Int && f.Type != reconcile.Decimal && f.Type != reconcile.Float:
		p("aggregate: sum adds numbers; give the field type: decimal (or int)")
	case a == reconcile.Count && f.Type != reconcile.Int:
		p("aggregate: count counts rows; give the field type: int")
	case a == reconcile.Distinct && fc.Tolerance != "":
		p("aggregate: distinct compares sets of values, which take no tolerance")
	}
	return a
}

// checkRegion checks a phone region: an ISO 3166-1 alpha-2 code, and only
// where a phone normalisation reads it.
func checkRegion(region string, norms []reconcile.Normalization, p problemFunc) string {
	if region == "" {
		return ""
	}
	if !slices.Contains(norms, reconcile.Phone) {
		p("region %q applies to normalize: [phone], which this column does not have", region)
	}
	if !reconcile.ValidRegion(region) {
		p("region %q is not a country code phone numbers are read in (an ISO 3166-1 alpha-2 code such as US, GB or DE)", region)
	}
	return region
}

func checkField(fc fieldConfig, p problemFunc) reconcile.Field {
	f := reconcile.Field{
		Name: fc.Name, Source: orDefault(fc.Source, fc.Name), Target: orDefault(fc.Target, fc.Name),
		Type: reconcile.String, NullEqualsEmpty: fc.NullEqualsEmpty,
	}
	if fc.Type != "" {
		t, ok := reconcile.ParseFieldType(fc.Type)
		if !ok {
			p("type %q is not one of %s", fc.Type, strings.Join(reconcile.FieldTypeNames(), ", "))
		}
		f.Type = t
	}
	f.Normalize = checkNormalize(fc.Normalize, p)
	f.Region = checkRegion(fc.Region, f.Normalize, p)
	f.Map, f.Allowed, f.Money = fc.Map, fc.Allowed, fc.Money
	if fc.Money && (f.Type != reconcile.Decimal || fc.Aggregate == "distinct") {
		p("money: true marks a decimal field of amounts (no aggregate: distinct, whose values are sets); this one is %s", f.Type)
	}
	// map: and allowed: see values after normalize:, so they must be
	// written as normalize: leaves them, or they can never match.
	mapped := slices.Collect(maps.Values(fc.Map))
	for _, v := range append(slices.Sorted(maps.Keys(fc.Map)), fc.Allowed...) {
		if slices.Contains(mapped, v) {
			continue // map: produces it as written
		}
		if norm, err := f.NormalizeText(v); err != nil || norm != v {
			p("map:/allowed: value %q is compared after normalize: %v, which makes it %q: write it that way", v, fc.Normalize, norm)
		}
	}
	if fc.DateTimezone != "" {
		loc, err := time.LoadLocation(fc.DateTimezone)
		switch {
		case f.Type != reconcile.Date:
			p("date_timezone applies to date fields; this one is %s", f.Type)
		case err != nil:
			p("date_timezone %q is not an IANA time zone like America/New_York", fc.DateTimezone)
		}
		f.DateLocation = loc
	}
	if len(fc.Allowed) > 0 {
		allowed := map[string]bool{}
		for _, a := range fc.Allowed {
			allowed[a] = true
		}
		for from, to := range fc.Map {
			if !allowed[to] {
				p("map sends %q to %q, which is not one of allowed: %s", from, to, strings.Join(fc.Allowed, ", "))
			}
		}
	}
	tol, err := parseTolerance(f.Type, fc.Tolerance)
	if err != nil {
		p("tolerance %q: %v", fc.Tolerance, err)
	}
	f.Tolerance = tol
	return f
}

// defaultFloatTolerance keeps two systems' renderings of one float
// (shortest round-trip vs 15 significant digits) from raising alarms.
var defaultFloatTolerance = decimal.New(1, -12)

func parseTolerance(t reconcile.FieldType, s string) (reconcile.Tolerance, error) {
	var tol reconcile.Tolerance
	if s == "" {
		if t == reconcile.Float {
			tol.Relative = defaultFloatTolerance
		}
		return tol, nil
	}
	switch t {
	case reconcile.String, reconcile.Bool:
		return tol, fmt.Errorf("%s fields take no tolerance; use normalize: instead", t)
	case reconcile.Timestamp:
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return tol, fmt.Errorf("not a duration like 1s, 5m or 1h")
		}
		tol.Duration = d
		return tol, nil
	case reconcile.Date:
		days, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || days < 0 {
			return tol, fmt.Errorf("not a number of days like 1 or 1d")
		}
		tol.Absolute = decimal.NewFromInt(int64(days))
		return tol, nil
	}
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		d, err := decimal.NewFromString(strings.TrimSpace(pct))
		if err != nil || d.IsNegative() {
			return tol, fmt.Errorf("not a percentage like 0.5%%")
		}
		tol.Relative = d.Shift(-2)
		return tol, nil
	}
	d, err := decimal.NewFromString(s)
	if err != nil || d.IsNegative() {
		return tol, fmt.Errorf("not an absolute difference like 0.01 or a percentage like 0.5%%")
	}
	tol.Absolute = d
	return tol, nil
}

// parseRate reads "2%" or a fraction such as 0.02.
func parseRate(s string) (*float64, error) {
	if s == "" {
		return nil, nil
	}
	scale := 1.0
	num := s
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		num, scale = strings.TrimSpace(pct), 0.01
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("%q is not a rate like 2%% or 0.02", s)
	}
	v *= scale
	return &v, nil
}

// checkRepair builds the repair spec of a reconciliation, or nil when it
// plans nothing: no field has an owner or is for review, and there is no
// repair: section.
func checkRepair(rc reconConfig, rules []repairs.FieldRule, spec *reconcile.Spec, p problemFunc) *repairs.Spec {
	planned := slices.ContainsFunc(rules, func(r repairs.FieldRule) bool { return r.Owner != repairs.NoOwner || r.Review })
	if rc.Repair == nil && !planned {
		return nil
	}
	c := rc.Repair
	if c == nil {
		c = &repairConfig{}
	}
	rs := &repairs.Spec{Fields: rules, TargetTable: orDefault(c.TargetTable, rc.Target.Table),
		SourceTable: orDefault(c.SourceTable, rc.Source.Table), ExternalID: c.ExternalID, BatchSize: c.BatchSize}
	if c.Direction != "" {
		d, ok := repairs.ParseDirection(c.Direction)
		if !ok {
			p("direction %q is not one of %s", c.Direction, strings.Join(repairs.DirectionNames(), ", "))
		}
		rs.Direction = d
	}
	for _, s := range []reconcile.Side{reconcile.SourceSide, reconcile.TargetSide} {
		if rs.Direction.Writes(s) && rs.Table(s) == "" {
			p("the %s reads a query, so name the table recon writes there with %s_table:", s, s)
		}
	}
	if sd := c.SoftDelete; sd != nil {
		if sd.Column == "" || sd.Value == "" {
			p("soft_delete needs a column and a value, like {column: is_deleted, value: true}")
		}
		rs.SoftDelete = &repairs.SoftDelete{Column: sd.Column, Value: string(sd.Value)}
		if sd.Grace != "" {
			g, err := parseDays(sd.Grace)
			if err != nil || g <= 0 {
				p("soft_delete: grace %q is not a duration like 30d or 72h", sd.Grace)
			}
			rs.SoftDelete.Grace = g
		}
	}
	if c.MaxChanges != nil {
		if *c.MaxChanges < 1 {
			p("max_changes must be at least 1 (leave it out for no limit)")
		}
		rs.MaxChanges = *c.MaxChanges
	}
	if c.BatchSize < 0 {
		p("batch_size cannot be negative")
	}
	rs.Formats = []repairs.Format{repairs.SQL, repairs.CSV}
	if c.Formats != nil {
		rs.Formats = nil
		for _, f := range c.Formats {
			if !repairs.Format(f).Valid() {
				p("format %q is not one of %s", f, strings.Join(repairs.Formats(), ", "))
			}
			if !slices.Contains(rs.Formats, repairs.Format(f)) {
				rs.Formats = append(rs.Formats, repairs.Format(f))
			}
		}
	}
	for _, problem := range rs.Check(spec) {
		p("%s", problem)
	}
	return rs
}

// parseDays reads a Go duration, or a whole number of days: "30d".
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		return time.Duration(days) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}

// configHash identifies a reconciliation's resolved config: its section
// after ${VAR} expansion, its query files' text, and its systems' drivers,
// zones and DSNs with their passwords left out. When and how long it runs
// (schedule, max_staleness, timeout) change nothing it finds or plans.
func configHash(rc reconConfig, systems map[string]systemConfig, src, tgt SideSelection) string {
	rc.Schedule, rc.MaxStaleness, rc.Timeout = "", "", ""
	scrubbed := func(name string) systemConfig {
		sc := systems[name]
		sc.DSN = sources.Scrub(sc.Driver, sc.DSN)
		return sc
	}
	b, _ := json.Marshal(struct { // plain strings, numbers and slices always marshal
		Reconciliation       reconConfig
		Source, Target       systemConfig
		SourceSQL, TargetSQL string
	}{rc, scrubbed(rc.Source.System), scrubbed(rc.Target.System), src.Selection.Query, tgt.Selection.Query})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// CronParser parses schedules: five fields, or six with seconds first,
// and the @hourly kind of descriptor; CRON_TZ=<zone> may lead.
var CronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// checkOperations checks the top level's operational settings: state,
// schedule and alerts.
func checkOperations(fc *fileConfig, root *yaml.Node, dir string, cfg *Config, problem func(int, string, ...any)) {
	cfg.State, cfg.StateName = fc.State, fc.State
	switch {
	case fc.State == "":
		cfg.State = filepath.Join(dir, DefaultStateFile)
		cfg.StateName = cfg.State
	case state.IsPostgres(fc.State):
		cfg.StateName = sources.Scrub("postgres", fc.State)
	case !filepath.IsAbs(fc.State):
		cfg.State = filepath.Join(dir, fc.State)
		cfg.StateName = cfg.State
	}
	if fc.Schedule != "" {
		if _, err := CronParser.Parse(fc.Schedule); err != nil {
			problem(lineOf(root, "schedule"), "schedule %q: %v (a cron expression like \"0 2 * * *\", optionally with seconds first or CRON_TZ=America/New_York before it)", fc.Schedule, err)
		}
	}
	a := fc.Alerts
	cfg.Alerts = Alerts{Ping: a.Ping, Attempts: DefaultAttempts, Timeout: DefaultAlertTimeout}
	line := lineOf(root, "alerts")
	if a.Attempts < 0 {
		problem(line, "alerts: attempts cannot be negative")
	} else if a.Attempts > 0 {
		cfg.Alerts.Attempts = a.Attempts
	}
	if a.Timeout != "" {
		d, err := time.ParseDuration(a.Timeout)
		if err != nil || d <= 0 {
			problem(line, "alerts: timeout %q is not a duration like 10s", a.Timeout)
		}
		cfg.Alerts.Timeout = d
	}
	for i, w := range a.Webhooks {
		wl := lineOf(root, "alerts", "webhooks", i)
		if !strings.HasPrefix(w.URL, "http://") && !strings.HasPrefix(w.URL, "https://") {
			problem(wl, "alerts: webhook #%d: url must be an http:// or https:// URL (keep it in the environment: url: \"${SLACK_WEBHOOK_URL}\")", i+1)
		}
		switch w.Format {
		case "":
			w.Format = "json"
		case "slack", "json":
		default:
			problem(wl, "alerts: webhook #%d: format %q is not slack or json", i+1, w.Format)
		}
		cfg.Alerts.Webhooks = append(cfg.Alerts.Webhooks, Webhook(w))
	}
	if a.Ping != "" && !strings.HasPrefix(a.Ping, "http://") && !strings.HasPrefix(a.Ping, "https://") {
		problem(line, "alerts: ping must be an http:// or https:// URL")
	}
}

// checkOperational checks a reconciliation's schedule, staleness, timeout
// and settle window; its schedule defaults to the top level's.
func checkOperational(rc reconConfig, schedule string, r *Reconciliation, p problemFunc) {
	r.Schedule = schedule
	if rc.Schedule != "" {
		if _, err := CronParser.Parse(rc.Schedule); err != nil {
			p("schedule %q: %v (a cron expression like \"30 1 * * *\", optionally with seconds first or CRON_TZ=America/New_York before it)", rc.Schedule, err)
		}
		r.Schedule = rc.Schedule
	}
	r.Timeout = DefaultTimeout
	for _, d := range []struct {
		name, text string
		into       *time.Duration
	}{{"max_staleness", rc.MaxStaleness, &r.MaxStaleness}, {"timeout", rc.Timeout, &r.Timeout}, {"settle", rc.Settle, &r.Settle}} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil || v < 0 || (v == 0 && d.name != "settle") {
			p("%s %q is not a duration like 90s, 10m or 26h", d.name, d.text)
			continue
		}
		*d.into = v
	}
	if n := rc.Thresholds.NewExceptions; n != nil {
		if *n < 0 {
			p("thresholds: new_exceptions: a count cannot be negative")
		}
		r.MaxNewExceptions = n
	}
}

func checkThresholds(tc thresholdConfig, p problemFunc) reconcile.Thresholds {
	var t reconcile.Thresholds
	var err error
	if t.CountVariance, err = parseRate(tc.CountVariance); err != nil {
		p("count_variance: %v", err)
	}
	if t.DriftRate, err = parseRate(tc.DriftRate); err != nil {
		p("drift_rate: %v", err)
	}
	for name, v := range map[string]*int64{
		"missing_in_target": tc.MissingInTarget, "missing_in_source": tc.MissingInSource,
		"timestamp_misaligned": tc.TimestampMisaligned, "duplicate_keys": tc.DuplicateKeys,
		"invalid_records": tc.InvalidRecords,
	} {
		if v != nil && *v < 0 {
			p("%s: a count cannot be negative", name)
		}
	}
	if t.MinSyncSuccessRate, err = parseRate(tc.SyncSuccessRate); err != nil {
		p("sync_success_rate: %v", err)
	}
	if tc.SyncLagP95 != "" {
		d, err := time.ParseDuration(tc.SyncLagP95)
		if err != nil || d < 0 {
			p("sync_lag_p95: %q is not a duration like 5m", tc.SyncLagP95)
		}
		t.MaxSyncLagP95 = &d
	}
	t.MaxMissingInTarget, t.MaxMissingInSource = tc.MissingInTarget, tc.MissingInSource
	t.MaxTimestampMisaligned, t.MaxDuplicateKeys, t.MaxInvalidRecords = tc.TimestampMisaligned, tc.DuplicateKeys, tc.InvalidRecords
	return t
}
