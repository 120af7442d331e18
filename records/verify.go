package records

import (
	"context"
	"fmt"
)

// Problem is what is wrong with an entry of a broken chain.
type Problem string

// The problems Verify finds.
const (
	// ProblemMissing: the entry is not there, though a later one or the
	// head says it was filed (a deleted row).
	ProblemMissing Problem = "missing entry"
	// ProblemPrevHash: the entry's prev_hash is not the hash of the entry
	// before (that entry, or this link, was rewritten).
	ProblemPrevHash Problem = "prev_hash mismatch"
	// ProblemHash: the entry's hash does not match its fields (a changed
	// row, or a changed, added or removed attachment).
	ProblemHash Problem = "hash mismatch"
	// ProblemAttachment: an attachment's data does not match its size or
	// SHA-256.
	ProblemAttachment Problem = "attachment hash mismatch"
	// ProblemHead: the head of the chain does not name its last entry.
	ProblemHead Problem = "head mismatch"
	// ProblemAnchor: the entry's hash is not the one noted down earlier
	// (the chain was rewritten up to there).
	ProblemAnchor Problem = "anchor mismatch"
)

// Break is the first place where the chain is broken.
type Break struct {
	// Seq is the entry concerned.
	Seq     int64
	Problem Problem
	// Detail says what differs.
	Detail string
}

// Error returns "entry SEQ: PROBLEM: DETAIL".
func (b *Break) Error() string {
	return fmt.Sprintf("entry %d: %s: %s", b.Seq, b.Problem, b.Detail)
}

// Result is what Verify found.
type Result struct {
	// Entries is the number of entries checked and found intact before
	// the break, all of them if there is none.
	Entries int64
	// Head is the head the store keeps.
	Head Head
	// Break is the first break, nil if the chain is intact.
	Break *Break
}

// verifyBatch is the number of entries Verify reads at once.
const verifyBatch = 256

// Verify walks the whole chain in order and reports its first break: a
// missing entry, a prev_hash that is not the hash of the entry before, an
// entry whose hash does not match its fields, or an attachment whose data
// does not match its SHA-256. It then checks that the store's head names the
// last entry, and that each anchor (an entry's sequence number and hash noted
// down earlier) is still in the chain. The error is for failures to read;
// a broken chain is reported in the result. Attachments are read one at a
// time.
func Verify(ctx context.Context, src Reader, anchors ...Head) (*Result, error) {
	head, err := src.RecordHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify the archive: %w", err)
	}
	res := &Result{Head: head}
	want := make(map[int64]string, len(anchors))
	for _, a := range anchors {
		want[a.Seq] = a.Hash
	}
	prev := Head{Hash: Genesis}
	for {
		batch, err := src.Records(ctx, Query{After: prev.Seq, Limit: verifyBatch})
		if err != nil {
			return nil, fmt.Errorf("verify the archive: %w", err)
		}
		for i := range batch {
			e := &batch[i]
			b, err := verifyEntry(ctx, src, e, prev)
			if err != nil {
				return nil, fmt.Errorf("verify the archive: %w", err)
			}
			if b == nil && want[e.Seq] != "" && want[e.Seq] != e.Hash {
				b = &Break{Seq: e.Seq, Problem: ProblemAnchor, Detail: fmt.Sprintf("hash %s, noted down as %s", e.Hash, want[e.Seq])}
			}
			if b != nil {
				res.Break = b
				return res, nil
			}
			res.Entries++
			prev = Head{Seq: e.Seq, Hash: e.Hash}
		}
		if len(batch) < verifyBatch {
			break
		}
	}
	switch {
	case head.Seq > prev.Seq:
		res.Break = &Break{Seq: prev.Seq + 1, Problem: ProblemMissing, Detail: fmt.Sprintf("the chain ends at entry %d, its head names entry %d", prev.Seq, head.Seq)}
	case head.Seq < prev.Seq || head.Seq > 0 && head.Hash != prev.Hash:
		res.Break = &Break{Seq: prev.Seq, Problem: ProblemHead, Detail: fmt.Sprintf("the last entry is %s, the head names %s", prev, head)}
	}
	for _, a := range anchors {
		if res.Break == nil && a.Seq > prev.Seq {
			res.Break = &Break{Seq: a.Seq, Problem: ProblemMissing, Detail: fmt.Sprintf("noted down as %s, the chain ends at entry %d", a, prev.Seq)}
		}
	}
	return res, nil
}

// verifyEntry checks e against the entry before it, its own hash and its
// attachments' data.
func verifyEntry(ctx context.Context, src Reader, e *Entry, prev Head) (*Break, error) {
	if e.Seq != prev.Seq+1 {
		detail := fmt.Sprintf("entry %d follows entry %d", e.Seq, prev.Seq)
		if prev.Seq == 0 {
			detail = fmt.Sprintf("the chain starts at entry %d", e.Seq)
		}
		return &Break{Seq: prev.Seq + 1, Problem: ProblemMissing, Detail: detail}, nil
	}
	if e.PrevHash != prev.Hash {
		return &Break{Seq: e.Seq, Problem: ProblemPrevHash, Detail: fmt.Sprintf("prev_hash %s, the hash of entry %d is %s", e.PrevHash, prev.Seq, prev.Hash)}, nil
	}
	if got := e.ComputeHash(); got != e.Hash {
		return &Break{Seq: e.Seq, Problem: ProblemHash, Detail: fmt.Sprintf("stored %s, computed from its fields %s", e.Hash, got)}, nil
	}
	for i, a := range e.Attachments {
		data, err := src.RecordAttachment(ctx, e.Seq, i)
		if err != nil {
			return nil, err
		}
		if got := sha256Hex(data); got != a.SHA256 || int64(len(data)) != a.Size {
			return &Break{Seq: e.Seq, Problem: ProblemAttachment, Detail: fmt.Sprintf("attachment %d (%s): %d bytes with SHA-256 %s, filed as %d bytes with %s",
				i+1, a.Name, len(data), got, a.Size, a.SHA256)}, nil
		}
	}
	return nil, nil
}
