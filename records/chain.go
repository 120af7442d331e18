package records

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Genesis is the PrevHash of the first entry of the chain.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// canonicalVersion opens the canonical encoding; a new encoding gets a new
// version.
const canonicalVersion = "landesmessenger-records-v1"

// ComputeHash returns the lowercase hex SHA-256 of the canonical encoding of
// e: every field in a fixed order, PrevHash and the attachments' names, MIME
// types, sizes and SHA-256 included, but not Hash itself nor the attachments'
// Data (their SHA256 stands for it). A string is its length as an 8-byte
// big-endian unsigned integer followed by its bytes; a number or a time (in
// milliseconds since 1970 UTC) is an 8-byte big-endian signed integer.
// docs/retention-and-records.md spells out the order.
func (e *Entry) ComputeHash() string {
	var b []byte
	str := func(s string) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	num := func(n int64) { b = binary.BigEndian.AppendUint64(b, uint64(n)) }

	str(canonicalVersion)
	num(e.Seq)
	num(e.FiledAt.UnixMilli())
	str(string(e.Case))
	str(e.RoomKey)
	str(string(e.RoomID))
	str(e.RoomName)
	str(string(e.EventID))
	str(string(e.Sender))
	str(e.SenderName)
	num(e.SentAt.UnixMilli())
	str(e.MsgType)
	str(e.Body)
	str(e.FormattedBody)
	str(string(e.FiledBy))
	str(string(e.MarkKind))
	str(string(e.MarkEvent))
	str(e.PrevHash)
	num(int64(len(e.Attachments)))
	for _, a := range e.Attachments {
		str(a.Name)
		str(a.MIMEType)
		num(a.Size)
		str(a.SHA256)
	}
	return sha256Hex(b)
}

// Seal makes e the entry after head: Seq one more than head's, PrevHash
// head's hash (Genesis after the empty head), and Hash computed.
func (e *Entry) Seal(head Head) {
	e.Seq = head.Seq + 1
	e.PrevHash = head.Hash
	if head.Seq == 0 {
		e.PrevHash = Genesis
	}
	e.Hash = e.ComputeHash()
}

// Head names an entry of the chain by its sequence number and hash: the
// chain's last entry, or an entry someone noted down to check later that
// the chain up to it was not rewritten. The empty chain's head is
// {0, Genesis}.
type Head struct {
	Seq  int64
	Hash string
}

// String returns "SEQ:HASH", the form ParseHead reads.
func (h Head) String() string {
	return strconv.FormatInt(h.Seq, 10) + ":" + h.Hash
}

// ParseHead reads "SEQ:HASH" as written by Head.String.
func ParseHead(s string) (Head, error) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 1 || !isHash(hash) {
		return Head{}, fmt.Errorf("%w: %q is not SEQ:HASH (a sequence number from 1, a colon and 64 lowercase hex digits)", ErrInvalid, s)
	}
	return Head{Seq: n, Hash: hash}, nil
}

// isHash reports whether s is a lowercase hex SHA-256.
func isHash(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// sha256Hex returns the lowercase hex SHA-256 of data.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
