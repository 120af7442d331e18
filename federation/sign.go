package federation

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"maunium.net/go/mautrix/crypto/canonicaljson"
)

// KeyID names a signing key: "ed25519:" and the first 8 characters of the
// unpadded base64url SHA-256 of the public key.
type KeyID string

// PublicKey is a public key the service trusts for federation lists.
type PublicKey struct {
	ID  KeyID
	Key ed25519.PublicKey
}

// PrivateKey is the IT authority's signing key.
type PrivateKey struct {
	ID  KeyID
	Key ed25519.PrivateKey
}

// Public returns the public half of k.
func (k PrivateKey) Public() PublicKey {
	return PublicKey{ID: k.ID, Key: k.Key.Public().(ed25519.PublicKey)}
}

func keyID(pub ed25519.PublicKey) KeyID {
	sum := sha256.Sum256(pub)
	return KeyID("ed25519:" + base64.RawURLEncoding.EncodeToString(sum[:])[:8])
}

// GenerateKey makes a new signing key.
func GenerateKey() (PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return PrivateKey{}, err
	}
	return PrivateKey{ID: keyID(pub), Key: priv}, nil
}

// Key files are one line each: a header word, the key ID and the unpadded
// base64 of the key (the 32-byte seed for private keys).
const (
	privateHeader = "landesmessenger-federation-signing-key"
	publicHeader  = "landesmessenger-federation-public-key"
)

// WriteKeyPair writes k to prefix (mode 0600) and its public key to
// prefix.pub (mode 0644). It never overwrites an existing file.
func WriteKeyPair(prefix string, k PrivateKey) error {
	pub := k.Public()
	priv := fmt.Sprintf("%s %s %s\n", privateHeader, k.ID, base64.RawStdEncoding.EncodeToString(k.Key.Seed()))
	if err := writeNew(prefix, []byte(priv), 0o600); err != nil {
		return err
	}
	line := fmt.Sprintf("%s %s %s\n", publicHeader, pub.ID, base64.RawStdEncoding.EncodeToString(pub.Key))
	if err := writeNew(prefix+".pub", []byte(line), 0o644); err != nil {
		os.Remove(prefix)
		return err
	}
	return nil
}

func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func parseKeyLine(path string, data []byte, header string, size int) (KeyID, []byte, error) {
	fields := strings.Fields(string(data))
	if len(fields) != 3 || fields[0] != header || !strings.HasPrefix(fields[1], "ed25519:") {
		return "", nil, fmt.Errorf("%s: not a %s file", path, header)
	}
	raw, err := base64.RawStdEncoding.DecodeString(fields[2])
	if err != nil || len(raw) != size {
		return "", nil, fmt.Errorf("%s: the key is not %d bytes of unpadded base64", path, size)
	}
	return KeyID(fields[1]), raw, nil
}

// ReadPrivateKey reads a key written by WriteKeyPair.
func ReadPrivateKey(path string) (PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return PrivateKey{}, err
	}
	id, seed, err := parseKeyLine(path, data, privateHeader, ed25519.SeedSize)
	if err != nil {
		return PrivateKey{}, err
	}
	k := PrivateKey{ID: id, Key: ed25519.NewKeyFromSeed(seed)}
	if keyID(k.Public().Key) != id {
		return PrivateKey{}, fmt.Errorf("%s: key ID %s does not belong to the key", path, id)
	}
	return k, nil
}

// ReadPublicKey reads a public key written by WriteKeyPair.
func ReadPublicKey(path string) (PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return PublicKey{}, err
	}
	id, raw, err := parseKeyLine(path, data, publicHeader, ed25519.PublicKeySize)
	if err != nil {
		return PublicKey{}, err
	}
	if keyID(raw) != id {
		return PublicKey{}, fmt.Errorf("%s: key ID %s does not belong to the key", path, id)
	}
	return PublicKey{ID: id, Key: raw}, nil
}

// Reason says why a list was refused.
type Reason string

// The reasons a list is refused.
const (
	ReasonMalformed    Reason = "malformed"
	ReasonUnknownKey   Reason = "unknown key"
	ReasonBadSignature Reason = "bad signature"
	ReasonExpired      Reason = "expired"
	ReasonNotYetValid  Reason = "not yet valid"
	ReasonRollback     Reason = "older version"
)

// Error is a refused list.
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string {
	return fmt.Sprintf("federation list refused: %s: %s", e.Reason, e.Detail)
}

// ReasonOf returns the reason of a refusal, or "" if err is not one.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func refuse(r Reason, format string, args ...any) error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// clockSkew is how far in the future issued_at may lie.
const clockSkew = 5 * time.Minute

// splitSigned parses a signed or unsigned list document into its object
// (without "signatures") and its signatures.
func splitSigned(doc []byte) (map[string]json.RawMessage, map[KeyID]string, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&obj); err != nil {
		return nil, nil, refuse(ReasonMalformed, "not a JSON object: %v", err)
	}
	if obj == nil {
		return nil, nil, refuse(ReasonMalformed, "not a JSON object")
	}
	if dec.More() {
		return nil, nil, refuse(ReasonMalformed, "data after the list's JSON object")
	}
	sigs := map[KeyID]string{}
	if raw, ok := obj["signatures"]; ok {
		if err := json.Unmarshal(raw, &sigs); err != nil {
			return nil, nil, refuse(ReasonMalformed, "signatures: want an object of key ID to base64 signature: %v", err)
		}
		delete(obj, "signatures")
	}
	return obj, sigs, nil
}

// signedBytes are the bytes a signature covers: the canonical JSON of the
// document without its signatures.
func signedBytes(obj map[string]json.RawMessage) ([]byte, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return canonicaljson.Marshal(json.RawMessage(raw))
}

// parseContent decodes and validates the list in obj.
func parseContent(obj map[string]json.RawMessage) (*List, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, refuse(ReasonMalformed, "%v", err)
	}
	l, err := decodeList(raw)
	if err != nil {
		return nil, refuse(ReasonMalformed, "%v", err)
	}
	if p := l.Validate(); len(p) > 0 {
		return nil, refuse(ReasonMalformed, "%s", strings.Join(p, "; "))
	}
	return l, nil
}

// Sign signs the list document doc with k and returns the signed document,
// indented. A signature by k already on doc is replaced; others are
// dropped, since they no longer cover the content. Sign refuses a list
// that is malformed or already expired at now.
func Sign(doc []byte, k PrivateKey, now time.Time) ([]byte, error) {
	obj, _, err := splitSigned(doc)
	if err != nil {
		return nil, err
	}
	l, err := parseContent(obj)
	if err != nil {
		return nil, err
	}
	if !now.Before(l.ExpiresAt) {
		return nil, refuse(ReasonExpired, "expires_at %s is not in the future", l.ExpiresAt.Format(time.RFC3339))
	}
	msg, err := signedBytes(obj)
	if err != nil {
		return nil, refuse(ReasonMalformed, "%v", err)
	}
	sig := base64.RawStdEncoding.EncodeToString(ed25519.Sign(k.Key, msg))
	sigs, _ := json.Marshal(map[KeyID]string{k.ID: sig})
	obj["signatures"] = sigs
	return marshalOrdered(obj)
}

// listFieldOrder is the order in which signed lists are written, for
// readers; the signature does not depend on it.
var listFieldOrder = []string{"version", "issuer", "issued_at", "expires_at", "homeservers", "signatures"}

func marshalOrdered(obj map[string]json.RawMessage) ([]byte, error) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		for i, f := range listFieldOrder {
			if f == k {
				return i
			}
		}
		return len(listFieldOrder)
	}
	sort.Slice(keys, func(i, j int) bool {
		if ri, rj := rank(keys[i]), rank(keys[j]); ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, k := range keys {
		var v bytes.Buffer
		if err := json.Indent(&v, obj[k], "  ", "  "); err != nil {
			return nil, err
		}
		name, _ := json.Marshal(k)
		fmt.Fprintf(&b, "  %s: %s", name, v.Bytes())
		if i < len(keys)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// Verify checks a signed list against the trusted keys at time now and
// returns it. A refusal is an *Error whose Reason is one of malformed,
// unknown key (not signed by a trusted key), bad signature (the content
// does not match the signature: changed after signing, or forged),
// expired or not yet valid.
func Verify(doc []byte, keys []PublicKey, now time.Time) (*List, error) {
	l, err := VerifySignature(doc, keys)
	if err != nil {
		return nil, err
	}
	if !now.Before(l.ExpiresAt) {
		return nil, refuse(ReasonExpired, "version %d expired at %s", l.Version, l.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if l.IssuedAt.After(now.Add(clockSkew)) {
		return nil, refuse(ReasonNotYetValid, "version %d is issued at %s, in the future", l.Version, l.IssuedAt.UTC().Format(time.RFC3339))
	}
	return l, nil
}

// VerifySignature checks a signed list like Verify but not its validity
// period: for a list accepted before, kept as the last good one.
func VerifySignature(doc []byte, keys []PublicKey) (*List, error) {
	obj, sigs, err := splitSigned(doc)
	if err != nil {
		return nil, err
	}
	if len(sigs) == 0 {
		return nil, refuse(ReasonUnknownKey, "the list is not signed")
	}
	var key *PublicKey
	var sig string
	for i := range keys {
		if s, ok := sigs[keys[i].ID]; ok {
			key, sig = &keys[i], s
			break
		}
	}
	if key == nil {
		ids := make([]string, 0, len(sigs))
		for id := range sigs {
			ids = append(ids, string(id))
		}
		sort.Strings(ids)
		trusted := make([]string, len(keys))
		for i, k := range keys {
			trusted[i] = string(k.ID)
		}
		return nil, refuse(ReasonUnknownKey, "signed by %s, but only %s is trusted", strings.Join(ids, ", "), strings.Join(trusted, ", "))
	}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(sig, "="))
	if err != nil || len(raw) != ed25519.SignatureSize {
		return nil, refuse(ReasonBadSignature, "the signature of %s is not a base64 Ed25519 signature", key.ID)
	}
	msg, err := signedBytes(obj)
	if err != nil {
		return nil, refuse(ReasonMalformed, "%v", err)
	}
	if !ed25519.Verify(key.Key, msg, raw) {
		return nil, refuse(ReasonBadSignature, "the content does not match the signature of %s: the list was changed after signing", key.ID)
	}
	return parseContent(obj)
}

// Accept verifies doc like Verify and decides whether it replaces cur, the
// list in force (nil if none): a newer version replaces it (changed is
// true); the same version with the same content keeps cur; an older
// version, or the same version with other content, is refused with
// ReasonRollback, so a replayed old list cannot widen access again.
func Accept(doc []byte, keys []PublicKey, now time.Time, cur *List) (l *List, changed bool, err error) {
	l, err = Verify(doc, keys, now)
	if err != nil {
		return nil, false, err
	}
	switch {
	case cur == nil || l.Version > cur.Version:
		return l, true, nil
	case l.Version < cur.Version:
		return nil, false, refuse(ReasonRollback, "version %d is older than version %d in force", l.Version, cur.Version)
	case !reflect.DeepEqual(normalized(l), normalized(cur)):
		return nil, false, refuse(ReasonRollback, "version %d differs from the version %d in force: a changed list needs a higher version", l.Version, cur.Version)
	}
	return cur, false, nil
}

// normalized returns l with its times in UTC, for comparison.
func normalized(l *List) List {
	n := *l
	n.IssuedAt, n.ExpiresAt = l.IssuedAt.UTC(), l.ExpiresAt.UTC()
	return n
}
