package config

import "testing"

func TestCredentialsDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if !c.Credentials.Encrypt || c.Credentials.Alg != SaltECDH || c.Credentials.CurrentKeyFile() != "" || c.Credentials.PrevKeys != nil {
		t.Errorf("credentials %+v, want salt yes, ecdh-es, generated key", c.Credentials)
	}
	c = mustLoad(t, []string{"--rsa-key-file=/keys/rsa.pem", "--ecdh-key-file=/keys/ec.pem", "--salt-previous-key-files=/keys/old1.pem, /keys/old2.pem"}, nil)
	if c.Credentials.CurrentKeyFile() != "/keys/ec.pem" || c.Credentials.KeyFile != "/keys/rsa.pem" ||
		len(c.Credentials.PrevKeys) != 2 || c.Credentials.PrevKeys[1] != "/keys/old2.pem" {
		t.Errorf("key files %+v", c.Credentials)
	}
	c = mustLoad(t, []string{"--salt-alg=RSA-OAEP-256", "--rsa-key-file=/keys/rsa.pem"}, nil)
	if c.Credentials.Alg != SaltRSA || c.Credentials.CurrentKeyFile() != "/keys/rsa.pem" {
		t.Errorf("rsa-oaep-256: %+v", c.Credentials)
	}
	_, err := load(t, []string{"--salt-alg=A256KW"}, nil)
	wantProblems(t, err, `--salt-alg: "a256kw" is not ecdh-es or rsa-oaep-256`)
}

func TestCredentialsProduction(t *testing.T) {
	for _, tc := range []struct {
		c    Credentials
		want int
	}{
		{Credentials{Encrypt: true, Alg: SaltECDH}, 1},
		{Credentials{Encrypt: true, Alg: SaltECDH, KeyFile: "/k"}, 1}, // the RSA key does not serve ecdh-es
		{Credentials{Encrypt: true, Alg: SaltECDH, ECDHKey: "/k"}, 0},
		{Credentials{Encrypt: true, Alg: SaltRSA, KeyFile: "/k"}, 0},
		{Credentials{Encrypt: true, Alg: SaltRSA, ECDHKey: "/k"}, 1},
		{Credentials{Encrypt: false}, 0},
	} {
		if got := tc.c.production(ModeProduction); len(got) != tc.want {
			t.Errorf("%+v: %v", tc.c, got)
		}
	}
}

func TestLoadRSAAlias(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		vars map[string]string
		want bool
	}{
		{"--rsa=no", []string{"--rsa=no"}, nil, false},
		{"--rsa=yes", []string{"--rsa=yes"}, nil, true},
		{"--rsa alone", []string{"--salt=no", "--rsa"}, nil, true},
		{"--salt=no", []string{"--salt=no"}, nil, false},
		{"TOKTOK_RSA=no", nil, map[string]string{"TOKTOK_RSA": "no"}, false},
		{"TOKTOK_SALT=no", nil, map[string]string{"TOKTOK_SALT": "no"}, false},
		{"TOKTOK_SALT wins over TOKTOK_RSA", nil, map[string]string{"TOKTOK_SALT": "yes", "TOKTOK_RSA": "no"}, true},
		{"TOKTOK_SALT=no wins over TOKTOK_RSA=yes", nil, map[string]string{"TOKTOK_SALT": "no", "TOKTOK_RSA": "yes"}, false},
		{"--rsa wins over TOKTOK_SALT", []string{"--rsa=no"}, map[string]string{"TOKTOK_SALT": "yes"}, false},
		{"--salt wins over TOKTOK_RSA", []string{"--salt=yes"}, map[string]string{"TOKTOK_RSA": "no"}, true},
		{"--rsa=yes wins over TOKTOK_RSA=no", []string{"--rsa=yes"}, map[string]string{"TOKTOK_RSA": "no"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c := mustLoad(t, tc.args, tc.vars); c.Credentials.Encrypt != tc.want {
				t.Errorf("salt = %v, want %v", c.Credentials.Encrypt, tc.want)
			}
		})
	}
	_, err := load(t, nil, map[string]string{"TOKTOK_RSA": "perhaps"})
	wantProblems(t, err, "TOKTOK_RSA")
}
