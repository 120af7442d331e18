package federation

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// t0 is the clock of the tests: inside the validity of hessen().
var t0 = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

// hessen returns the Hessen demo list (as config/federation.json) with the
// given version, issued a month before t0 and valid for a year.
func hessen(version int64) *List {
	return &List{
		Version:   version,
		Issuer:    "HZD, IT-Sicherheit",
		IssuedAt:  t0.AddDate(0, -1, 0),
		ExpiresAt: t0.AddDate(1, -1, 0),
		Homeservers: []Entry{
			{ServerName: "land.hessen.de", Name: "land", Tenant: "land", FederatesWith: []ServerName{"polizei.hessen.de", "forst.hessen.de", "schule.hessen.de"}},
			{ServerName: "polizei.hessen.de", Name: "polizei", Tenant: "polizei", FederatesWith: []ServerName{"land.hessen.de"}},
			{ServerName: "forst.hessen.de", Name: "forst", Tenant: "forst", FederatesWith: []ServerName{"land.hessen.de", "schule.hessen.de"}, External: true},
			{ServerName: "schule.hessen.de", Name: "schule", Tenant: "schule", FederatesWith: []ServerName{"land.hessen.de", "forst.hessen.de"}},
		},
	}
}

func mustKey(t *testing.T) PrivateKey {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signed returns l signed with k at t0.
func signed(t *testing.T, l *List, k PrivateKey) []byte {
	t.Helper()
	doc, err := Sign(mustJSON(t, l), k, t0)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return doc
}

// forceSign signs doc with k like Sign but without checking its content,
// to make lists Sign refuses.
func forceSign(t *testing.T, doc []byte, k PrivateKey) []byte {
	t.Helper()
	obj, _, err := splitSigned(doc)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := signedBytes(obj)
	if err != nil {
		t.Fatal(err)
	}
	sigs, _ := json.Marshal(map[KeyID]string{k.ID: base64.RawStdEncoding.EncodeToString(ed25519.Sign(k.Key, msg))})
	obj["signatures"] = sigs
	return mustJSON(t, obj)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignVerifyRoundTrip(t *testing.T) {
	k := mustKey(t)
	doc := signed(t, hessen(3), k)
	got, err := Verify(doc, []PublicKey{mustKey(t).Public(), k.Public()}, t0)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if want := hessen(3); !sameContent(got, want) {
		t.Errorf("Verify: got %+v, want %+v", got, want)
	}
	// Signing again replaces the signature rather than adding one.
	again, err := Sign(doc, k, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, doc) {
		t.Errorf("signing a signed list again changed it:\n%s\nwant\n%s", again, doc)
	}
}

func sameContent(a, b *List) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestVerifyRefusals(t *testing.T) {
	k, other := mustKey(t), mustKey(t)
	good := signed(t, hessen(1), k)
	asymmetric := hessen(1)
	asymmetric.Homeservers[1].FederatesWith = append(asymmetric.Homeservers[1].FederatesWith, "schule.hessen.de")
	asymRaw, _ := json.Marshal(asymmetric)
	unsigned, _ := json.Marshal(hessen(1))
	tests := []struct {
		name string
		doc  []byte
		keys []PublicKey
		now  time.Time
		want Reason
	}{
		{"one byte of a server name changed", bytes.Replace(good, []byte("polizei.hessen.de"), []byte("polizei.hessen.dd"), 1), []PublicKey{k.Public()}, t0, ReasonBadSignature},
		{"a flag added", bytes.Replace(good, []byte(`"tenant": "polizei",`), []byte(`"tenant": "polizei", "external": true,`), 1), []PublicKey{k.Public()}, t0, ReasonBadSignature},
		{"broken JSON", good[:len(good)/2], []PublicKey{k.Public()}, t0, ReasonMalformed},
		{"not an object", []byte(`[1, 2]`), []PublicKey{k.Public()}, t0, ReasonMalformed},
		{"signed by another key", good, []PublicKey{other.Public()}, t0, ReasonUnknownKey},
		{"unsigned", unsigned, []PublicKey{k.Public()}, t0, ReasonUnknownKey},
		{"expired", good, []PublicKey{k.Public()}, hessen(1).ExpiresAt, ReasonExpired},
		{"not yet valid", good, []PublicKey{k.Public()}, hessen(1).IssuedAt.Add(-time.Hour), ReasonNotYetValid},
		{"asymmetric federates_with", forceSign(t, asymRaw, k), []PublicKey{k.Public()}, t0, ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Verify(tc.doc, tc.keys, tc.now)
			if got := ReasonOf(err); got != tc.want {
				t.Fatalf("Verify: got reason %q (%v, list %v), want %q", got, err, l, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "federation list refused: "+string(tc.want)+": ") {
				t.Errorf("error %q does not start with the reason", err)
			}
		})
	}
}

func TestSignRefusesBadLists(t *testing.T) {
	k := mustKey(t)
	asymmetric := hessen(1)
	asymmetric.Homeservers[1].FederatesWith = append(asymmetric.Homeservers[1].FederatesWith, "schule.hessen.de")
	tests := []struct {
		name string
		list *List
		now  time.Time
		want Reason
		in   string
	}{
		{"asymmetric federates_with", asymmetric, t0, ReasonMalformed, "schule.hessen.de does not name polizei.hessen.de"},
		{"expired", hessen(1), hessen(1).ExpiresAt.Add(time.Second), ReasonExpired, "not in the future"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := json.Marshal(tc.list)
			_, err := Sign(raw, k, tc.now)
			if ReasonOf(err) != tc.want || !strings.Contains(err.Error(), tc.in) {
				t.Errorf("Sign: got %v, want reason %q containing %q", err, tc.want, tc.in)
			}
		})
	}
}

func TestKeyFiles(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "hzd")
	k := mustKey(t)
	if err := WriteKeyPair(prefix, k); err != nil {
		t.Fatal(err)
	}
	for file, mode := range map[string]os.FileMode{prefix: 0o600, prefix + ".pub": 0o644} {
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: got mode %v, want %v", file, st.Mode().Perm(), mode)
		}
	}
	if err := WriteKeyPair(prefix, mustKey(t)); err == nil {
		t.Error("WriteKeyPair overwrote an existing key")
	}
	priv, err := ReadPrivateKey(prefix)
	if err != nil || priv.ID != k.ID || !priv.Key.Equal(k.Key) {
		t.Errorf("ReadPrivateKey: got %v %v, want key %s", priv.ID, err, k.ID)
	}
	keys, err := ReadPublicKeys([]string{prefix + ".pub"})
	if err != nil || len(keys) != 1 || keys[0].ID != k.ID || !keys[0].Key.Equal(k.Public().Key) {
		t.Errorf("ReadPublicKeys: got %v %v, want key %s", keys, err, k.ID)
	}
	if _, err := ReadPublicKeys(nil); err == nil {
		t.Error("ReadPublicKeys(nil): got no error, want one")
	}
	if _, err := ReadPublicKey(prefix); err == nil {
		t.Error("ReadPublicKey read a private key file as a public key")
	}
}
