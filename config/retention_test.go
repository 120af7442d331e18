package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const day = 24 * time.Hour

func TestExampleRetention(t *testing.T) {
	for _, name := range exampleEnv(t) {
		t.Setenv(name, "")
	}
	t.Chdir("..")
	cfg, err := Parse(ExampleFile, Example)
	if err != nil {
		t.Fatalf("Parse(Example): got error\n%v\nwant none", err)
	}
	r := cfg.Retention
	line := func(s string) int { return lineOf(t, Example, s) }
	tests := []struct {
		name      string
		got, want any
	}{
		{"line", r.Line, line("retention:")},
		{"default", r.Default, &RetentionRule{MaxLifetime: 3650 * day, Line: line("  default:")}},
		{"external class", r.Classes, map[RoomClass]RetentionRule{ClassExternal: {MaxLifetime: 365 * day, Line: line("    external:")}}},
		{"police", r.Tenants["polizei"].Rule, &RetentionRule{MaxLifetime: 30 * day, MinLifetime: day, Line: line("    polizei:")}},
		{"schools", r.Tenants["schulen"].Rule.MaxLifetime, 365 * day},
		{"state chancellery keeps everything", *r.Tenants["stk"].Rule, RetentionRule{Line: line("    stk:")}},
		{"tenants", len(r.Tenants), 3},
		{"timber market", r.Rooms["hessenforst/holzmarkt"], RetentionRule{MaxLifetime: 90 * day, MinLifetime: 7 * day, Line: line("    hessenforst/holzmarkt:")}},
		{"cross-tenant room by its key", r.Rooms["rooms/landeslage"].MaxLifetime, 730 * day},
		{"rooms", len(r.Rooms), 2},
		{"bounds", r.Bounds, RetentionBounds{Min: day, Max: 3650 * day}},
	}
	for _, tc := range tests {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
}

// retentionBase is a valid configuration of lines 1-15 to which the tests
// append a retention section from line 16 on.
const retentionBase = "homeservers:\n  - name: land\n    server_name: land.hessen.de\n    client_url: https://matrix.land.hessen.de\n" +
	"tenants:\n  - id: polizei\n    name: Polizei\n    kind: police\n    homeserver: land\n" +
	"    units:\n      - {id: ppn, name: PP Nordhessen}\n    rooms:\n      - {id: partner, name: Partner, class: external}\n" +
	"rooms:\n  - {id: lage, name: Lage, host: land, tenants: [polizei]}\n"

func TestRetentionValues(t *testing.T) {
	cfg, err := parse("c.yaml", []byte(retentionBase), noEnv)
	if err != nil {
		t.Fatalf("got %v, want no error", err)
	}
	if want := (Retention{Bounds: RetentionBounds{Min: DefaultRetentionBoundMin}, SweepEvery: DefaultSweepEvery}); !reflect.DeepEqual(cfg.Retention, want) {
		t.Errorf("without a retention section: got %+v, want no rules and the default bounds %+v", cfg.Retention, want)
	}

	data := retentionBase + "retention:\n" +
		"  tenants:\n" +
		"    polizei:\n" +
		"      classes:\n" +
		"        external: {max_lifetime: 168h, min_lifetime: 36h}\n" +
		"  rooms:\n" +
		"    polizei/unit-ppn: {max_lifetime: forever, min_lifetime: 14d}\n" +
		"    polizei/allgemein: {max_lifetime: 1d}\n" +
		"    polizei/partner: {max_lifetime: 2d}\n" +
		"    polizei/verwaltung: {max_lifetime: 3d}\n" +
		"    verwaltung: {max_lifetime: 4d}\n" +
		"    lage: {max_lifetime: 5d}\n"
	cfg, err = parse("c.yaml", []byte(data), noEnv)
	if err != nil {
		t.Fatalf("got %v, want no error", err)
	}
	r := cfg.Retention
	if tr := r.Tenants["polizei"]; tr.Rule != nil || tr.Classes[ClassExternal] != (RetentionRule{MaxLifetime: 7 * day, MinLifetime: 36 * time.Hour, Line: 20}) {
		t.Errorf("police with class rules only: got %+v, want no tenant rule and external 7d/36h", tr)
	}
	wantRooms := map[string]time.Duration{
		"polizei/unit-ppn": 0, "polizei/allgemein": day, "polizei/partner": 2 * day,
		"polizei/verwaltung": 3 * day, "rooms/verwaltung": 4 * day, "rooms/lage": 5 * day,
	}
	for key, want := range wantRooms {
		if got, ok := r.Rooms[key]; !ok || got.MaxLifetime != want {
			t.Errorf("room %s: got %+v (present %t), want max_lifetime %s", key, got, ok, want)
		}
	}
	if got := r.Rooms["polizei/unit-ppn"].MinLifetime; got != 14*day {
		t.Errorf("minimum without a maximum: got %s, want 14d", got)
	}
	if r.Bounds != (RetentionBounds{Min: DefaultRetentionBoundMin}) {
		t.Errorf("default bounds: got %+v, want min 1d, max forever", r.Bounds)
	}
}

func TestRetentionProblems(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{
			name: "minimum above maximum",
			data: "retention:\n  default: {max_lifetime: 30d, min_lifetime: 31d}\n",
			want: []string{"c.yaml:17: retention.default.min_lifetime: must not exceed max_lifetime (30d), got 31d"},
		},
		{
			name: "maximum below one day",
			data: "retention:\n  tenants:\n    polizei:\n      max_lifetime: 30m\n",
			want: []string{"c.yaml:19: retention.tenants.polizei.max_lifetime: must be at least 1d (or forever), got 30m0s"},
		},
		{
			name: "bad durations",
			data: "retention:\n  classes:\n    internal: {max_lifetime: 30 days}\n    external: {max_lifetime: 0d}\n" +
				"    cross-agency: {max_lifetime: 30d, min_lifetime: forever}\n",
			want: []string{
				`c.yaml:18: retention.classes.internal.max_lifetime: invalid duration "30 days" (want a duration such as 30d or 720h, or forever)`,
				`c.yaml:19: retention.classes.external.max_lifetime: must be positive, got "0d" (want a duration such as 30d or 720h, or forever)`,
				`c.yaml:20: retention.classes.cross-agency.min_lifetime: invalid duration "forever" (want a duration such as 30d or 720h)`,
			},
		},
		{
			name: "missing maximum",
			data: "retention:\n  default: {min_lifetime: 1d}\n  tenants:\n    polizei: {}\n",
			want: []string{
				"c.yaml:17: retention.default.max_lifetime: missing required field (a duration such as 30d, or forever)",
				"c.yaml:19: retention.tenants.polizei.max_lifetime: missing required field (a duration such as 30d, or forever)",
			},
		},
		{
			name: "unknown names",
			data: "retention:\n  classes:\n    secret: {max_lifetime: 1d}\n  tenants:\n    hmdis: {max_lifetime: 1d}\n" +
				"  rooms:\n    polizei/leitung: {max_lifetime: 1d}\n    polizei/unit-x: {max_lifetime: 1d}\n" +
				"    hmdis/allgemein: {max_lifetime: 1d}\n    landeslage: {max_lifetime: 1d}\n  default: {max_lifetime: 1d, max: 2d}\n  period: 1d\n",
			want: []string{
				`c.yaml:18: retention.classes.secret: invalid room class "secret" (want internal, cross-agency or external)`,
				`c.yaml:20: retention.tenants.hmdis: unknown tenant "hmdis" (configured: polizei)`,
				`c.yaml:23: retention.rooms.polizei/unit-x: unknown room "unit-x" of tenant "polizei" (its rooms: space, allgemein, leitung, mitteilungen, verwaltung, willkommen, unit-ppn, partner)`,
				`c.yaml:24: retention.rooms.hmdis/allgemein: unknown tenant "hmdis" in room "hmdis/allgemein" (configured: polizei)`,
				`c.yaml:25: retention.rooms.landeslage: unknown cross-tenant room "landeslage" (configured: verwaltung, lage; rooms of a tenant are written TENANT/ROOM)`,
				"c.yaml:26: retention.default.max: unknown field",
				"c.yaml:27: retention.period: unknown field",
			},
		},
		{
			name: "duplicates and wrong shapes",
			data: "retention:\n  rooms:\n    lage: {max_lifetime: 1d}\n    lage: {max_lifetime: 2d}\n  tenants: [polizei]\n  classes:\n    internal: 30d\n",
			want: []string{
				"c.yaml:19: retention.rooms.lage: duplicate field (first defined at line 18)",
				"c.yaml:20: retention.tenants: expected a mapping, got a list",
				"c.yaml:22: retention.classes.internal: expected a mapping, got a string",
			},
		},
		{
			name: "bounds",
			data: "retention:\n  bounds: {min: 12h, max: forever}\n",
			want: []string{"c.yaml:17: retention.bounds.min: must be at least 1d, got 12h0m0s"},
		},
		{
			name: "bounds the wrong way round",
			data: "retention:\n  bounds:\n    min: 30d\n    max: 7d\n",
			want: []string{"c.yaml:19: retention.bounds.max: must not be less than min (30d), got 7d"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse("c.yaml", []byte(retentionBase+tc.data), noEnv)
			got := problemStrings(t, err)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestParseLifetime(t *testing.T) {
	tests := []struct {
		in      string
		forever bool
		want    time.Duration
		err     bool
	}{
		{"30d", false, 30 * day, false},
		{"3650d", false, 3650 * day, false},
		{"720h", false, 30 * day, false},
		{"1h30m", false, 90 * time.Minute, false},
		{"forever", true, 0, false},
		{"forever", false, 0, true},
		{"0d", true, 0, true},
		{"0s", true, 0, true},
		{"-1d", false, 0, true},
		{"-5h", false, 0, true},
		{"1.5d", false, 0, true},
		{"30", false, 0, true},
		{"d", false, 0, true},
		{"99999999999d", false, 0, true},
	}
	for _, tc := range tests {
		got, err := ParseLifetime(tc.in, tc.forever)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseLifetime(%q, %t): got %s, %v; want %s, error %t", tc.in, tc.forever, got, err, tc.want, tc.err)
		}
	}
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{{0, "forever"}, {30 * day, "30d"}, {36 * time.Hour, "36h0m0s"}} {
		if got := FormatLifetime(tc.in); got != tc.want {
			t.Errorf("FormatLifetime(%s): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRetentionBoundsAllows(t *testing.T) {
	bounded := RetentionBounds{Min: day, Max: 365 * day}
	open := RetentionBounds{Min: 7 * day}
	tests := []struct {
		b    RetentionBounds
		v    time.Duration
		want bool
	}{
		{bounded, 30 * day, true},
		{bounded, day, true},
		{bounded, 365 * day, true},
		{bounded, 12 * time.Hour, false},
		{bounded, 366 * day, false},
		{bounded, 0, false},
		{open, 0, true},
		{open, 10000 * day, true},
		{open, 6 * day, false},
	}
	for _, tc := range tests {
		if got := tc.b.Allows(tc.v); got != tc.want {
			t.Errorf("%+v.Allows(%s): got %t, want %t", tc.b, tc.v, got, tc.want)
		}
	}
}

func TestRecords(t *testing.T) {
	good := retentionBase + "retention:\n  sweep_every: 5m\n  default: {max_lifetime: 30d}\n" +
		"records:\n  classes: [internal]\n  rooms: [lage, polizei/partner]\n"
	cfg, err := parse("c.yaml", []byte(good), noEnv)
	if err != nil {
		t.Fatalf("got %v, want no error", err)
	}
	r := cfg.Records
	if r.BotLocalpart != DefaultArchiveBot || !r.Enabled() {
		t.Errorf("records: got %+v, want enabled with the default bot", r)
	}
	for _, c := range []struct {
		room  string
		class RoomClass
		want  bool
	}{
		{"polizei/allgemein", ClassInternal, true},
		{"polizei/partner", ClassExternal, true},
		{"rooms/lage", ClassCrossAgency, true},
		{"rooms/other", ClassCrossAgency, false},
	} {
		if got := r.Covers(c.room, c.class); got != c.want {
			t.Errorf("Covers(%s, %s) = %v, want %v", c.room, c.class, got, c.want)
		}
	}
	if cfg.Retention.SweepEvery != 5*time.Minute {
		t.Errorf("sweep_every: got %s, want 5m", cfg.Retention.SweepEvery)
	}

	bad := retentionBase + "retention:\n  sweep_every: 10ms\n" +
		"records:\n  classes: [internal, secret]\n  rooms: [nowhere]\n  bot_localpart: lm-verwaltung\n"
	_, err = parse("c.yaml", []byte(bad), noEnv)
	for _, want := range []string{"retention.sweep_every: must be at least 1s", `records.classes[1]: invalid room class "secret"`,
		`records.rooms[0]: unknown cross-tenant room "nowhere"`, `records.bot_localpart: "lm-verwaltung" is another bot's account`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error containing %q", err, want)
		}
	}
}
