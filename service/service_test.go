package service

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/stack"
)

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, filepath.Join(dir, "land.password"), "geheim-land\n")
	token := writeFile(t, filepath.Join(dir, "forst.token"), "syt_forst\n")
	st := stack.State{Kind: stack.Dendrite, Homeservers: []stack.Server{{
		Name: "polizei", ServerName: "127.1.2.11", ClientURL: "http://127.1.2.11:8008",
		ServiceUserID: "@landesmessenger:127.1.2.11", ServicePasswordFile: writeFile(t, filepath.Join(dir, "polizei.password"), "geheim-polizei"),
	}}}
	data, _ := json.Marshal(st)
	writeFile(t, filepath.Join(dir, stack.StateFile), string(data))

	yaml := `stack_dir: ` + dir + `
homeservers:
  - name: land
    server_name: land.hessen.de
    client_url: https://matrix.land.hessen.de
    appservice_token_file: ` + writeFile(t, filepath.Join(dir, "land.as_token"), "as-token-land") + `
    registration_shared_secret_file: ` + writeFile(t, filepath.Join(dir, "land.secret"), "shared-land") + `
    service_account:
      password_file: ` + pw + `
  - name: polizei
  - name: forst
    server_name: forst.hessen.de
    client_url: https://matrix.forst.hessen.de
    service_account:
      localpart: lm-bot
      access_token_file: ` + token + `
tenants:
  - {id: hmdis, name: HMdIS, kind: ministry, homeserver: land}
`
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	targets, err := Resolve(cfg)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got := targets[0].Admin; got.AppserviceToken != "as-token-land" || got.RegistrationSharedSecret != "shared-land" {
		t.Errorf("admin secrets of land: got %q/%q, want as-token-land/shared-land", got.AppserviceToken, got.RegistrationSharedSecret)
	}
	tests := []struct {
		name, gotUser, wantUser, gotURL, wantURL, gotPassword, wantPassword, gotToken, wantToken string
	}{
		{"explicit with password", string(targets[0].Credentials.UserID), "@landesmessenger:land.hessen.de", targets[0].Endpoint.ClientURL, "https://matrix.land.hessen.de", targets[0].Credentials.Password, "geheim-land", targets[0].Credentials.AccessToken, ""},
		{"from stack", string(targets[1].Credentials.UserID), "@landesmessenger:127.1.2.11", targets[1].Endpoint.ClientURL, "http://127.1.2.11:8008", targets[1].Credentials.Password, "geheim-polizei", targets[1].Credentials.AccessToken, ""},
		{"explicit with token", string(targets[2].Credentials.UserID), "@lm-bot:forst.hessen.de", targets[2].Endpoint.ClientURL, "https://matrix.forst.hessen.de", targets[2].Credentials.Password, "", targets[2].Credentials.AccessToken, "syt_forst"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.gotUser != tc.wantUser {
				t.Errorf("user: got %s, want %s", tc.gotUser, tc.wantUser)
			}
			if tc.gotURL != tc.wantURL {
				t.Errorf("client URL: got %s, want %s", tc.gotURL, tc.wantURL)
			}
			if tc.gotPassword != tc.wantPassword {
				t.Errorf("password: got %q, want %q", tc.gotPassword, tc.wantPassword)
			}
			if tc.gotToken != tc.wantToken {
				t.Errorf("token: got %q, want %q", tc.gotToken, tc.wantToken)
			}
		})
	}
}

func TestResolveNamesMissingStackServer(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse("demo.yaml", []byte(`stack_dir: `+dir+`
homeservers:
  - name: land
  - name: schule
tenants:
  - {id: hkm, name: HKM, kind: ministry, homeserver: land}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Resolve(cfg)
	if err == nil {
		t.Fatal("Resolve without a stack: got no error")
	}
	for _, want := range []string{"demo.yaml:3: homeserver land:", "demo.yaml:4: homeserver schule:", "stack up"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
