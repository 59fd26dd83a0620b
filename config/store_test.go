package config

import (
	"testing"
	"time"
)

func TestStoreDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.Store.URI != "" || c.Store.DataDir != "data" || c.Store.SQLitePath() != "data/toktok.db" {
		t.Errorf("store %+v (%s)", c.Store, c.Store.SQLitePath())
	}
	if c.Store.AuditRetention != 365*24*time.Hour || c.Store.AllowEmbedded || c.Store.Database != "" || c.Store.MongoDB() {
		t.Errorf("store %+v", c.Store)
	}
	if c.Store.PurgeInterval != 10*time.Minute {
		t.Errorf("purge interval %v, want 10m", c.Store.PurgeInterval)
	}
}

func TestLoadPurgeInterval(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		vars map[string]string
		want time.Duration // 0: refused
	}{
		{"flag", []string{"--purge-interval=30s"}, nil, 30 * time.Second},
		{"variable", nil, map[string]string{"TOKTOK_PURGE_INTERVAL": "1h"}, time.Hour},
		{"flag wins", []string{"--purge-interval=2m"}, map[string]string{"TOKTOK_PURGE_INTERVAL": "1h"}, 2 * time.Minute},
		{"small", []string{"--purge-interval=20ms"}, nil, 20 * time.Millisecond},
		{"zero", []string{"--purge-interval=0s"}, nil, 0},
		{"negative", []string{"--purge-interval=-1m"}, nil, 0},
		{"negative variable", nil, map[string]string{"TOKTOK_PURGE_INTERVAL": "-5s"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.args, tc.vars)
			if tc.want == 0 {
				wantProblems(t, err, "--purge-interval: must be positive")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Store.PurgeInterval != tc.want {
				t.Errorf("purge interval %v, want %v", c.Store.PurgeInterval, tc.want)
			}
		})
	}
	if err := (Store{PurgeInterval: 0, URI: "sqlite:/x.db"}).validate(); len(err) != 1 {
		t.Errorf("a zero purge interval: %v", err)
	}
}

func TestStoreURIs(t *testing.T) {
	for _, tc := range []struct{ uri, path string }{
		{"", "d/toktok.db"}, {"sqlite:/a.db", "/a.db"}, {"sqlite:///a.db", "/a.db"}, {"file:a.db", "a.db"},
		{"a.db", "a.db"}, {"mongodb://h/db", ""}, {"mongodb+srv://h/db", ""}, {"postgres://h/db", ""},
	} {
		if got := (Store{URI: tc.uri, DataDir: "d"}).SQLitePath(); got != tc.path {
			t.Errorf("SQLitePath(%q) = %q, want %q", tc.uri, got, tc.path)
		}
	}
	for uri, want := range map[string]bool{"mongodb://h/db": true, "mongodb+srv://h/db": true, "sqlite:/a.db": false, "": false} {
		if got := (Store{URI: uri}).MongoDB(); got != want {
			t.Errorf("MongoDB(%q) = %v", uri, got)
		}
	}
}

func TestLoadStore(t *testing.T) {
	c := mustLoad(t, []string{"--store=sqlite:/tmp/x.db"}, nil)
	if c.Store.SQLitePath() != "/tmp/x.db" {
		t.Errorf("%q", c.Store.SQLitePath())
	}
	c = mustLoad(t, []string{"--store=mongodb://db/x", "--store-database=auth", "--audit-retention=0s"}, nil)
	if !c.Store.MongoDB() || c.Store.Database != "auth" || c.Store.AuditRetention != 0 {
		t.Errorf("%+v", c.Store)
	}
	_, err := load(t, []string{"--store=postgres://db/toktok"}, nil)
	wantProblems(t, err, "--store")
	_, err = load(t, []string{"--audit-retention=-1h"}, nil)
	wantProblems(t, err, "--audit-retention")
}

func TestStoreProduction(t *testing.T) {
	for _, tc := range []struct {
		s    Store
		want int
	}{
		{Store{}, 1},
		{Store{AllowEmbedded: true}, 0},
		{Store{URI: "sqlite:/var/lib/toktok.db"}, 0},
		{Store{URI: "mongodb://db/toktok"}, 0},
	} {
		if got := tc.s.production(ModePreprod); len(got) != tc.want {
			t.Errorf("%+v: %v", tc.s, got)
		}
	}
}
