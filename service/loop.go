package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
)

// watchEvery is how often serve looks for a changed config or directory file.
const watchEvery = 2 * time.Second

// retryAfterFailure is how soon serve reconciles again after a round in
// which something failed.
const retryAfterFailure = 30 * time.Second

// Reconcile plans and applies once with the service's configuration and
// returns the applied plan's result (nil when in sync).
func (s *Service) Reconcile(ctx context.Context, eng *reconcile.Engine, allowMassRemoval bool, progress func(int, int, provisioning.Action, error)) (*reconcile.Outcome, *reconcile.Result, error) {
	s.reconcileMu.Lock()
	defer s.reconcileMu.Unlock()
	out, err := eng.Plan(ctx, reconcile.Options(eng.Config, allowMassRemoval))
	if err != nil {
		return nil, nil, err
	}
	if len(out.Plan.Actions) == 0 {
		s.noteDesired(ctx, out.Desired)
		return out, nil, nil
	}
	creds, err := reconcile.LoadCredentials(eng.Config.Provisioning.CredentialsFile)
	if err != nil {
		return out, nil, err
	}
	if eng.Bots {
		// The bots join their rooms in this plan: their accounts first.
		if _, err := s.EnsureBots(ctx, eng); err != nil {
			return out, nil, err
		}
	}
	if len(out.Desired.Archivists) > 0 {
		if _, err := s.ensureArchivists(ctx, eng, archivistsInUse(out.Desired)); err != nil {
			return out, nil, err
		}
	}
	ap := &reconcile.Applier{
		Homeservers: eng.Homeservers, Store: s.Store, Credentials: creds,
		Concurrency: eng.Config.Provisioning.Concurrency, Attempts: 5, Log: eng.Log, Progress: progress,
	}
	res, err := ap.Apply(ctx, out.Plan, out.Current, out.Desired)
	s.noteDesired(ctx, out.Desired)
	return out, res, err
}

// reconcileLoop reconciles at start, every provisioning interval, and soon
// after the configuration file or a directory file changes, until ctx ends.
// Failures are logged; the next round retries.
func (s *Service) reconcileLoop(ctx context.Context, eng *reconcile.Engine) {
	log := eng.Log
	files := watchedFiles(eng.Config)
	stamps := modTimes(files)
	next := time.Now()
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	for {
		if !time.Now().Before(next) {
			wait := eng.Config.Provisioning.Interval
			if !s.reconcileOnce(ctx, eng, log) {
				// Something failed: try again soon rather than after a
				// whole interval.
				wait = min(wait, retryAfterFailure)
			}
			next = time.Now().Add(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if k := s.lists; k != nil && eng.Config.Federation != nil && k.Due() {
			// A new list changes room ACLs: reconcile at once.
			if changed, err := k.Refresh(ctx); err == nil && changed {
				log.Info("federation list changed; reconciling")
				next = time.Now()
			}
		}
		if now := modTimes(files); !equalStamps(now, stamps) {
			changed := ""
			for i := range now {
				if i < len(stamps) && !now[i].Equal(stamps[i]) {
					changed = files[i]
					break
				}
			}
			flog := log.WithField("file", changed)
			stamps = now
			if cfg, err := config.Load(eng.Config.Path); err != nil {
				flog.WithError(err).Error("changed configuration is invalid; keeping the previous one")
				s.health.setConfigProblem(err.Error())
			} else {
				s.health.setConfigProblem("")
				flog.Info("configuration, directory or federation list changed; reconciling")
				if s.lists != nil {
					s.lists.fetched = time.Time{} // fetch the list again now
				}
				eng.Config = cfg
				files = watchedFiles(cfg)
				stamps = modTimes(files)
			}
			next = time.Now()
		}
	}
}

// reconcileOnce runs one round and reports whether everything succeeded.
func (s *Service) reconcileOnce(ctx context.Context, eng *reconcile.Engine, log logrus.FieldLogger) bool {
	start := time.Now()
	writes := s.Writes()
	out, res, err := s.Reconcile(ctx, eng, false, nil)
	switch {
	case errors.Is(err, context.Canceled):
		return true
	case errors.Is(err, provisioning.ErrMassRemoval):
		// Retrying soon would not help: an operator has to decide.
		log.WithError(err).Error("reconcile refused: nothing changed")
		return true
	case err != nil:
		log.WithError(err).Error("reconcile failed: nothing changed")
		return false
	}
	for _, w := range out.Plan.Warnings {
		log.Warn(w)
	}
	for _, a := range out.Plan.Actions {
		if st, ok := a.(provisioning.SetState); ok && st.Drift {
			log.WithFields(logrus.Fields{"room": st.Room, "room_id": st.RoomID, "event_type": st.EventType}).Warn("restoring state changed by hand")
		}
	}
	fields := logrus.Fields{"duration": time.Since(start).Round(time.Millisecond), "writes": s.Writes() - writes}
	s.refreshAdminRooms(ctx)
	if res == nil {
		s.health.reconciled("in sync")
		log.WithFields(fields).Info("reconciled: in sync")
		return true
	}
	s.health.reconciled(fmt.Sprintf("%d done, %d failed", res.Done, res.Failed))
	fields["done"], fields["failed"] = res.Done, res.Failed
	for _, e := range res.Errors {
		log.WithError(e).Warn("action failed")
	}
	log.WithFields(fields).Info("reconciled")
	return res.Failed == 0
}

// watchedFiles are the files whose change triggers a reconcile.
func watchedFiles(cfg *config.Config) []string {
	files := []string{cfg.Path}
	if f := cfg.Federation; f != nil && !f.IsURL() {
		files = append(files, f.List)
	}
	for _, d := range cfg.Directory {
		if d.Type == config.SourceFile {
			files = append(files, d.Path)
		}
	}
	return files
}

func modTimes(files []string) []time.Time {
	out := make([]time.Time, len(files))
	for i, f := range files {
		if st, err := os.Stat(f); err == nil {
			out[i] = st.ModTime()
		}
	}
	return out
}

func equalStamps(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
